"""Versioned on-disk search index: lexical stats, dense vectors and doc metadata under ``index/v<N>/``.

A build writes a new version beside the old ones and then swaps the ``current`` pointer file with
``os.replace``, so readers always see a complete version; the last two versions are kept.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from common.text import nfc, normalize_query
from knowledge.cues import ACTIONS
from knowledge.derived import TITLE_QUERY, derived_fields, derived_passages, query_passages
from knowledge.lexical import LexicalIndex, accented_terms, has_diacritics
from knowledge.progress import Progress
from knowledge.schema import Procedure

if TYPE_CHECKING:
    from knowledge.encoder import Encoder

log = logging.getLogger(__name__)

FORMAT_VERSION = 8  # bump when the on-disk layout or what a build derives from titles changes
POINTER = "current"
# Passage kinds embedded with the encoder's query prompt instead of its passage prompt.
QUERY_KINDS = frozenset({TITLE_QUERY})
KEEP_VERSIONS = 2
# Measured (bench): document names add noise to BM25, so they are not indexed. The result names
# the paper citizens ask for ("giấy khai sinh" is the result of "đăng ký khai sinh").
FIELD_WEIGHTS = {
    "title": 3.0,
    "aliases": 2.5,
    "questions": 1.0,
    "field": 0.5,
    "result": 0.3,
}
# The derived index (knowledge/derived.py): core title with abbreviations spelled out, result names.
DERIVED_WEIGHTS = {"core": 3.0, "applicants": 0.3}
# Title qualifiers that split near-duplicate procedures; a doc carrying one the query lacks is
# pushed down (see knowledge.search). Folded forms.
QUALIFIERS = (
    "nuoc ngoai",
    "khu vuc bien gioi",
    "luu dong",
    "dang ky lai",
    "trung uong",
    "cap tinh",
    "cap huyen",
    "ket hop",
    "toan trinh",
    "quan su",
    "cong an nhan dan",
    "bo quoc phong",
)
_VERSION_DIR = re.compile(r"^v(\d+)\Z")


@dataclass
class DocMeta:
    """What a hit needs to show, plus the inputs of the citizen prior."""

    code: str
    title: str
    field: str = ""
    levels: list[str] = dc_field(default_factory=list)
    applicants: str = ""


def _doc_fields(p: Procedure) -> dict[str, str]:
    """The text of each weighted field of a procedure."""
    return {
        "title": p.title,
        "aliases": " ; ".join(p.aliases),
        "questions": " ; ".join(p.questions),
        "field": p.field,
        "documents": " ; ".join(d.name for d in p.documents),
        "result": p.result,
    }


def _accented_fields(p: Procedure) -> dict[str, str]:
    """The weighted fields without the aliases and example questions written unaccented.

    The accented tables read which accented form a syllable takes; a curated "lam giay khai sinh" would
    teach them that "lam" and "giay" are forms of their own, and accent restoration would keep them bare.
    """
    fields = _doc_fields(p)
    fields["aliases"] = " ; ".join(a for a in p.aliases if has_diacritics(a))
    fields["questions"] = " ; ".join(q for q in p.questions if has_diacritics(q))
    return fields


def _passages(p: Procedure) -> list[tuple[str, str]]:
    """Texts embedded for dense search, each tagged with its kind."""
    # An unaccented copy of the title was measured not to help (bench): titles are embedded once.
    out = [("title", p.title)]
    out += [("alias", a) for a in p.aliases if a.strip()]
    out += [("question", q) for q in p.questions if q.strip()]
    return out + derived_passages(p) + query_passages(p)


_CITIZEN = ("cong dan", "ca nhan", "nguoi viet nam", "ho gia dinh")


def citizen_prior(p: Procedure) -> float:
    """A small score shift favouring what individuals apply for (cấp xã/tỉnh, công dân)."""
    applicants = normalize_query(p.applicants)
    levels = {normalize_query(lv) for lv in p.levels}
    title = normalize_query(p.title)
    prior = 0.0
    if any(c in applicants for c in _CITIZEN):
        prior += 0.5
    elif applicants:
        prior -= 0.5
    if "cap xa" in levels:
        prior += 0.5
    elif "cap tinh" in levels:
        prior += 0.2
    elif levels and levels <= {"cap bo"}:
        prior -= 0.3
    if "trung uong" in title:
        prior -= 0.3
    return prior


def title_qualifiers(title: str) -> list[str]:
    """Qualifiers and ``action:<name>`` markers present in a title (folded, word-bounded)."""
    folded = " " + " ".join(re.findall(r"[a-z0-9]+", normalize_query(title))) + " "
    found = [q for q in QUALIFIERS if f" {q} " in folded]
    actions = [a for a in ACTIONS if f" {a} " in folded]
    if "doi" in actions and ("cap doi" in actions or "thay doi" in actions):
        actions.remove("doi")
    return found + [f"action:{a}" for a in actions]


def catalogue_revision(procedures: Sequence[Procedure]) -> str:
    """A content hash of the catalogue (order-independent), recorded in each version."""
    h = hashlib.sha256()
    for blob in sorted(json.dumps(p.to_dict(), sort_keys=True, ensure_ascii=False) for p in procedures):
        h.update(blob.encode())
    return h.hexdigest()[:16]


@dataclass
class ProcedureIndex:
    """One loaded index version: metadata, lexical matrix, passage vectors and their owners."""

    docs: list[DocMeta]
    lexical: LexicalIndex
    vectors: np.ndarray
    owners: np.ndarray
    kinds: list[str]
    prior: np.ndarray
    qualifiers: list[list[str]]
    manifest: dict[str, Any] = dc_field(default_factory=dict)
    accented: LexicalIndex | None = None
    derived: LexicalIndex | None = None
    results: LexicalIndex | None = None
    _faiss: Any = None
    _qualifier_matrix: Any = None

    def qualifier_matrix(self) -> tuple[list[str], Any]:
        """Qualifier names and the sparse ``(docs, names)`` 0/1 matrix of which title has which."""
        if self._qualifier_matrix is None:
            from scipy import sparse

            names = sorted({q for quals in self.qualifiers for q in quals})
            col = {q: j for j, q in enumerate(names)}
            rows = [i for i, quals in enumerate(self.qualifiers) for _ in quals]
            cols = [col[q] for quals in self.qualifiers for q in quals]
            matrix = sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)),
                                       shape=(len(self.docs), len(names)))
            self._qualifier_matrix = (names, matrix)
        return self._qualifier_matrix  # type: ignore[no-any-return]

    @property
    def model_name(self) -> str:
        """The sentence-transformers model that embedded the passages."""
        return str(self.manifest.get("model", ""))

    def dense_index(self) -> Any:
        """FAISS inner-product index over the passage vectors (built lazily, then reused)."""
        if self._faiss is None:
            import faiss

            idx = faiss.IndexFlatIP(int(self.vectors.shape[1]))
            if len(self.vectors):
                idx.add(self.vectors)
            self._faiss = idx
        return self._faiss

    @classmethod
    def build(cls, procedures: Iterable[Procedure], encoder: Encoder, *, batch_size: int = 64,
              passage_filter: Callable[[str], bool] | None = None) -> ProcedureIndex:
        """Embed and index procedures (retired ones are skipped)."""
        procs = [p for p in procedures if not p.retired]
        docs = [DocMeta(p.code, nfc(p.title), p.field, list(p.levels), p.applicants) for p in procs]
        lexical = LexicalIndex.build((_doc_fields(p) for p in procs), FIELD_WEIGHTS)
        accented = LexicalIndex.build((_accented_fields(p) for p in procs), FIELD_WEIGHTS, analyzer=accented_terms)
        derived = LexicalIndex.build((derived_fields(p) for p in procs), DERIVED_WEIGHTS)
        results = LexicalIndex.build(({"result": derived_fields(p)["result"]} for p in procs), {"result": 1.0})
        texts: list[str] = []
        owners: list[int] = []
        kinds: list[str] = []
        for i, p in enumerate(procs):
            for kind, text in _passages(p):
                if passage_filter is None or passage_filter(kind):
                    texts.append(" ".join(nfc(text).split()))
                    owners.append(i)
                    kinds.append(kind)
        dim = encoder.dim
        vectors = np.zeros((len(texts), dim), np.float32)
        progress = Progress(len(texts), "embedding")
        for as_query in (False, True):
            rows = [i for i, kind in enumerate(kinds) if (kind in QUERY_KINDS) == as_query]
            for start in range(0, len(rows), 512):
                part = rows[start : start + 512]
                batch = [texts[i] for i in part]
                embed = encoder.encode_queries if as_query else encoder.encode_passages
                vectors[part] = embed(batch, batch_size=batch_size)
                progress.update(len(part))
        progress.close()
        prior = np.asarray([citizen_prior(p) for p in procs], np.float32)
        quals = [title_qualifiers(p.title) for p in procs]
        manifest = {
            "format": FORMAT_VERSION,
            "model": encoder.name,
            "dim": dim,
            "documents": len(docs),
            "passages": len(texts),
            "catalogue_revision": catalogue_revision(procs),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        return cls(docs, lexical, np.ascontiguousarray(vectors, np.float32),
                   np.asarray(owners, np.int32), kinds, prior, quals, manifest, accented, derived,
                   results)

    def save(self, folder: Path) -> None:
        """Write every part of this version into ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        self.lexical.save(folder)
        if self.accented is not None:
            self.accented.save(folder, "accented")
        for name, part in (("derived", self.derived), ("results", self.results)):
            if part is not None:
                part.save(folder, name)
        np.save(folder / "vectors.npy", self.vectors)
        np.save(folder / "owners.npy", self.owners)
        np.save(folder / "prior.npy", self.prior)
        meta = {
            "docs": [d.__dict__ for d in self.docs],
            "kinds": self.kinds,
            "qualifiers": self.qualifiers,
        }
        (folder / "docs.json").write_text(json.dumps(meta, ensure_ascii=False))
        (folder / "manifest.json").write_text(json.dumps(self.manifest, indent=2, ensure_ascii=False))

    @classmethod
    def load(cls, folder: Path) -> ProcedureIndex:
        """Read a version written by :meth:`save`."""
        manifest = json.loads((folder / "manifest.json").read_text())
        if manifest.get("format") != FORMAT_VERSION:
            raise ValueError(f"{folder}: index format {manifest.get('format')} != {FORMAT_VERSION}")
        meta = json.loads((folder / "docs.json").read_text())
        docs = [DocMeta(**d) for d in meta["docs"]]
        return cls(
            docs,
            LexicalIndex.load(folder),
            np.load(folder / "vectors.npy"),
            np.load(folder / "owners.npy"),
            list(meta["kinds"]),
            np.load(folder / "prior.npy"),
            [list(q) for q in meta["qualifiers"]],
            manifest,
            LexicalIndex.load(folder, "accented") if (folder / "accented.npz").exists() else None,
            LexicalIndex.load(folder, "derived") if (folder / "derived.npz").exists() else None,
            LexicalIndex.load(folder, "results") if (folder / "results.npz").exists() else None,
        )


class IndexStore:
    """The ``index/`` folder: numbered versions plus an atomically swapped ``current`` pointer."""

    def __init__(self, root: Path) -> None:
        """Use ``root`` (created on first build)."""
        self.root = Path(root)

    def versions(self) -> list[int]:
        """Complete version numbers on disk, ascending."""
        if not self.root.is_dir():
            return []
        found = []
        for child in self.root.iterdir():
            m = _VERSION_DIR.match(child.name)
            if m and (child / "manifest.json").exists():
                found.append(int(m.group(1)))
        return sorted(found)

    def current_name(self) -> str | None:
        """The version folder name the pointer names (``v3``), or None before the first build."""
        try:
            name = (self.root / POINTER).read_text().strip()
        except FileNotFoundError:
            return None
        return name if _VERSION_DIR.match(name) else None

    def current_path(self) -> Path | None:
        """The folder of the current version, or None."""
        name = self.current_name()
        return self.root / name if name else None

    def current_manifest(self) -> dict[str, Any] | None:
        """The manifest of the current version, or None."""
        path = self.current_path()
        if path is None or not (path / "manifest.json").exists():
            return None
        return dict(json.loads((path / "manifest.json").read_text()))

    def load_current(self) -> ProcedureIndex:
        """Load the version the pointer names."""
        path = self.current_path()
        if path is None:
            raise FileNotFoundError(f"no search index under {self.root}: run `python -m knowledge build`")
        return ProcedureIndex.load(path)

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".build.lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def publish(self, index: ProcedureIndex) -> Path:
        """Write ``index`` as the next version, swap the pointer to it, prune old versions."""
        with self._lock():
            number = max(self.versions(), default=0) + 1
            tmp = Path(tempfile.mkdtemp(prefix=f".v{number}-", dir=self.root))
            try:
                index.manifest["version"] = number
                index.save(tmp)
                os.chmod(tmp, 0o755)
                final = self.root / f"v{number}"
                os.rename(tmp, final)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            pointer_tmp = self.root / f".{POINTER}.tmp"
            pointer_tmp.write_text(f"v{number}\n")
            os.replace(pointer_tmp, self.root / POINTER)
            self._prune(keep=f"v{number}")
        log.info("published search index v%d (%d documents)", number, len(index.docs))
        return final

    def _prune(self, keep: str) -> None:
        """Delete all but the newest ``KEEP_VERSIONS`` versions (never the current one)."""
        old = [v for v in self.versions() if f"v{v}" != keep][: -(KEEP_VERSIONS - 1) or None]
        for v in old:
            shutil.rmtree(self.root / f"v{v}", ignore_errors=True)
        for stale in self.root.glob(".v*-*"):
            if time.time() - stale.stat().st_mtime > 3600:
                shutil.rmtree(stale, ignore_errors=True)
