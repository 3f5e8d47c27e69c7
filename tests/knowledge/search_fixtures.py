"""Shared helpers of the search tests: a small real catalogue from the crawl and a fake encoder."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import numpy as np

from knowledge.encoder import Encoder
from knowledge.lexical import tokens
from knowledge.schema import Procedure

ROOT = Path(__file__).resolve().parents[2]
CRAWL = ROOT.parent / "shared" / "data" / "dichvucong" / "tthc_raw.jsonl.gz"

# ~30 procedures: citizen staples and their near-duplicates (levels, foreign element, lưu động).
SMALL_CODES = (
    "1.001193", "2.000528", "1.003583", "1.000110", "1.004884",  # khai sinh family
    "1.000894", "2.000806", "1.000593", "1.004746",  # kết hôn family
    "1.000656", "1.001766", "1.000419",  # khai tử family
    "1.004873", "2.000635", "1.004222", "1.004194", "1.003677", "1.010041",
    "1.014061", "2.000200", "1.001247", "1.014064", "1.014063",  # căn cước xã/tỉnh/TW
    "1.001456", "1.001471", "3.000346", "3.000347", "3.000348", "3.000333", "1.001612",
)


def load_small_catalogue(codes: tuple[str, ...] = SMALL_CODES, seed: bool = True) -> list[Procedure]:
    """The procedures of ``codes`` parsed from the crawl, with the seed catalogue's entries over them."""
    from knowledge.importers.portal import parse_record
    from knowledge.importers.project import load_project_file

    wanted = set(codes)
    found: dict[str, Procedure] = {}
    with gzip.open(CRAWL, "rt", encoding="utf-8") as fh:
        for line in fh:
            raw = json.loads(line)
            if raw.get("ma_thu_tuc") in wanted:
                found[raw["ma_thu_tuc"]] = parse_record(raw)
    if seed:
        for path in sorted((ROOT / "knowledge" / "catalogue").glob("*.yml")):
            for procedure in load_project_file(path)[0]:
                if procedure.code in wanted:
                    found[procedure.code] = procedure
    return [found[c] for c in codes if c in found]


class FakeEncoder(Encoder):
    """Deterministic hashed bag-of-syllables vectors: fast, for index mechanics tests."""

    engine = "fake"

    def __init__(self, name: str = "fake-encoder", dim: int = 64) -> None:
        self.name = name
        self.dim = dim

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, np.float32)
        for t in tokens(text):
            v[int(hashlib.md5(t.encode()).hexdigest(), 16) % self.dim] += 1.0
        n = float(np.linalg.norm(v))
        return v / n if n else v

    def encode_queries(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def encode_passages(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        return self.encode_queries(texts)


class RecordingEncoder(FakeEncoder):
    """A fake encoder that remembers the query texts it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.queries: list[str] = []

    def encode_queries(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        self.queries += texts
        return super().encode_queries(texts, batch_size)
