"""Diacritic-folded lexical retrieval: field-weighted BM25 over syllables and syllable bigrams."""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from scipy import sparse

from common.text import fold_diacritics, nfc, normalize_query

_WORD = re.compile(r"[a-z0-9]+")

# Function words of citizen questions that carry no procedure meaning (folded).
STOPWORDS = frozenset({
    "a", "ah", "ak", "biet", "cac", "cach", "chua", "cua", "da", "de", "den", "dc", "duoc", "gi",
    "giup", "hay", "khi", "khong", "ko", "k", "kieu", "la", "lam", "lm", "muon", "nao", "nay",
    "nhe", "nhung", "nen", "o", "oi", "phai", "ra", "roi", "se", "toi", "va", "voi", "xin", "xong",
    "ntn", "em", "anh", "ad", "admin",
})


def tokens(text: str) -> list[str]:
    """Return the folded, lower-case syllables of ``text``."""
    return _WORD.findall(normalize_query(text))


def terms(text: str, *, drop_stopwords: bool = False) -> list[str]:
    """Syllables (optionally without stopwords) plus adjacent-syllable bigrams ``a_b``."""
    syl = tokens(text)
    uni = [s for s in syl if not (drop_stopwords and s in STOPWORDS)]
    bi = [
        f"{a}_{b}"
        for a, b in itertools.pairwise(syl)
        if not (drop_stopwords and a in STOPWORDS and b in STOPWORDS)
    ]
    return uni + bi


_ACCENTED_WORD = re.compile(r"\w+")


def accented_terms(text: str, *, drop_stopwords: bool = False) -> list[str]:
    """Accented lower-case syllables (stopwords judged on their folded form) plus bigrams."""
    syl = _ACCENTED_WORD.findall(nfc(text).lower())
    uni = [s for s in syl if not (drop_stopwords and fold_diacritics(s) in STOPWORDS)]
    return uni + [f"{a}_{b}" for a, b in itertools.pairwise(syl)]


def has_diacritics(text: str) -> bool:
    """True when ``text`` carries Vietnamese diacritics (or đ)."""
    lowered = nfc(text).lower()
    return fold_diacritics(lowered) != lowered


@dataclass
class Synonym:
    """Everyday phrases (folded) and the words procedure titles use for them."""

    phrases: list[str]
    expand: str
    # Phrases that fire only typed with accents: folded, they read as other common words ("chở cá" / "cho cá nhân").
    accented: list[str] = dataclasses.field(default_factory=list)


class SynonymTable:
    """Query expansion from a curated dictionary (``knowledge/synonyms.yml``)."""

    def __init__(self, entries: Sequence[Synonym]) -> None:
        """Compile one boundary-anchored pattern per entry."""
        self.entries = list(entries)
        self._patterns = [
            re.compile(r"(?<![a-z0-9])(?:" + "|".join(re.escape(normalize_query(p)) for p in e.phrases)
                       + r")(?![a-z0-9])") if e.phrases else None
            for e in self.entries
        ]
        self._accented = [
            re.compile(r"(?<!\w)(?:" + "|".join(re.escape(" ".join(nfc(p).lower().split()))
                                              for p in e.phrases + e.accented) + r")(?!\w)")
            for e in self.entries
        ]
        # A phrase can only match where its first syllable is a syllable of the question: test only those entries.
        self._by_syllable: dict[str, list[int]] = {}
        for i, e in enumerate(self.entries):
            for first in {next(iter(_WORD.findall(normalize_query(p))), "") for p in e.phrases + e.accented}:
                self._by_syllable.setdefault(first, []).append(i)

    @classmethod
    def load(cls, path: Path) -> SynonymTable:
        """Read a YAML list of ``{phrases: [...], expand: "..."}``."""
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or []
        return cls([Synonym([str(p) for p in item.get("phrases", [])], str(item["expand"]),
                            [str(p) for p in item.get("accented", [])]) for item in data])

    @classmethod
    def default(cls) -> SynonymTable:
        """Load the dictionary shipped beside this module."""
        return cls.load(Path(__file__).with_name("synonyms.yml"))

    def expansions(self, query: str) -> list[str]:
        """Expansion texts whose phrases occur in ``query``.

        An unaccented query matches phrases folded; an accented one must match them with accents,
        so that "để" does not trigger the entry for "đẻ".
        """
        text = " ".join(nfc(query).lower().split())
        folded = fold_diacritics(text)
        accented = folded != text
        patterns = self._accented if accented else self._patterns
        target = text if accented else folded
        candidates = set(self._by_syllable.get("", ()))
        for syllable in set(_WORD.findall(folded)):
            candidates.update(self._by_syllable.get(syllable, ()))
        return [self.entries[i].expand for i in sorted(candidates)
                if (pat := patterns[i]) is not None and pat.search(target)]


class LexicalIndex:
    """BM25F-style index: per-document term weights precomputed into a sparse doc×term matrix."""

    def __init__(self, vocab: dict[str, int], matrix: sparse.csc_matrix) -> None:
        """Wrap a vocabulary and its precomputed ``(n_docs, n_terms)`` weight matrix."""
        self.vocab = vocab
        self.matrix = matrix

    @property
    def n_docs(self) -> int:
        """Number of indexed documents."""
        return int(self.matrix.shape[0])

    @classmethod
    def build(cls, docs: Iterable[Mapping[str, str]], field_weights: Mapping[str, float],
              k1: float = 1.2, b: float = 0.75,
              analyzer: Callable[[str], list[str]] = terms) -> LexicalIndex:
        """Index ``{field: text}`` documents: field-weighted term counts, BM25 over the whole document.

        Per-field length normalisation (BM25F) was measured worse here: it lets procedures with many
        example questions match almost any query.
        """
        vocab: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        lengths: list[float] = []
        for d, doc in enumerate(docs):
            tf: dict[str, float] = {}
            length = 0.0
            for field, text in doc.items():
                w = field_weights.get(field, 0.0)
                if not w or not text:
                    continue
                ts = analyzer(text)
                for t in ts:
                    tf[t] = tf.get(t, 0.0) + w
                length += w * len(ts)
            lengths.append(length)
            for t, f in tf.items():
                rows.append(d)
                cols.append(vocab.setdefault(t, len(vocab)))
                vals.append(f)
        n = len(lengths)
        tf_m = sparse.csr_matrix((np.asarray(vals, np.float32), (rows, cols)), shape=(n, len(vocab)))
        df = np.bincount(np.asarray(cols, np.int64), minlength=len(vocab)).astype(np.float32)
        idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
        dl = np.asarray(lengths, np.float32)
        avg = float(dl.mean()) if n else 1.0
        norm = k1 * (1.0 - b + b * dl / max(avg, 1e-6))
        coo = tf_m.tocoo()
        w = coo.data * (k1 + 1.0) / (coo.data + norm[coo.row]) * idf[coo.col]
        matrix = sparse.csc_matrix((w.astype(np.float32), (coo.row, coo.col)), shape=tf_m.shape)
        return cls(vocab, matrix)

    def query_vector(self, query_terms: Iterable[str], weight: float = 1.0) -> dict[int, float]:
        """Map query terms to ``{column: weight}`` (unknown terms are dropped)."""
        out: dict[int, float] = {}
        for t in query_terms:
            col = self.vocab.get(t)
            if col is not None:
                out[col] = out.get(col, 0.0) + weight
        return out

    def score(self, qvec: Mapping[int, float]) -> np.ndarray:
        """BM25 score of every document for a query vector from :meth:`query_vector`."""
        if not qvec:
            return np.zeros(self.n_docs, np.float32)
        cols = np.fromiter(qvec.keys(), np.int64)
        weights = np.fromiter(qvec.values(), np.float32)
        return np.asarray(self.matrix[:, cols] @ weights, dtype=np.float32).ravel()

    def save(self, folder: Path, name: str = "lexical") -> None:
        """Write ``<name>.npz`` and ``<name>_vocab.json`` into ``folder``."""
        sparse.save_npz(folder / f"{name}.npz", self.matrix)
        (folder / f"{name}_vocab.json").write_text(json.dumps(self.vocab, ensure_ascii=False))

    @classmethod
    def load(cls, folder: Path, name: str = "lexical") -> LexicalIndex:
        """Read an index written by :meth:`save`."""
        matrix = sparse.load_npz(folder / f"{name}.npz").tocsc()
        vocab = json.loads((folder / f"{name}_vocab.json").read_text(encoding="utf-8"))
        return cls(vocab, matrix)
