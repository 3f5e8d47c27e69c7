"""A learned re-ranker over the fused top-k, trained on questions mined from the catalogue itself.

For each of the fused ranking's best ``RERANK_K`` candidates, :func:`candidate_features` reads signals
that generalise across procedures (dense and lexical scores and ranks, fused gaps, how much of the
question the title, the result names and the record cover and how much of the title the question
covers, with and without accents, lexicon expansions found, scope, the citizen prior). A conditional
logit with a "none of these" option (:class:`RerankModel`) turns them into the probability that each
candidate is the procedure asked about: the candidates are re-ordered by it and the top one's
probability is the confidence :func:`knowledge.decision.decide` reads.

The weights (``reranker.json``, a few hundred bytes) are written by ``bench/train_reranker.py``:
pseudo-questions generated from every record of the catalogue (no hand labels), a fixed seed, and
the answer threshold chosen on the dev sets only.
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from common.text import fold_diacritics, nfc
from knowledge.derived import core_title
from knowledge.lexical import STOPWORDS, tokens

if TYPE_CHECKING:
    from knowledge.index import ProcedureIndex

log = logging.getLogger(__name__)

RERANK_K = 10
WEIGHTS = Path(__file__).with_name("reranker.json")
FEATURES = (
    "fused", "fused_gap_top", "fused_lead", "dense", "dense_gap_top", "lexical", "log_rank",
    "lexical_first", "dense_first", "cover", "title_cover", "title_recall", "accented_title_cover",
    "result_cover", "result_recall", "expansion_cover", "out_of_scope", "prior", "title_words",
    "query_words", "has_expansion", "accented",
)


_WORD = re.compile(r"\w+")


def _content(words: list[str]) -> frozenset[str]:
    """Folded syllables without the question's function words."""
    return frozenset(w for w in words if w not in STOPWORDS)


def _accented(text: str) -> frozenset[str]:
    """Accented lower-case words of ``text`` without function words."""
    return frozenset(w for w in _WORD.findall(nfc(text).lower()) if fold_diacritics(w) not in STOPWORDS)


@dataclass(frozen=True)
class DocWords:
    """Per-procedure word sets the features compare the question with (built once per index version)."""

    title: list[frozenset[str]]
    accented_title: list[frozenset[str]]
    results: list[list[frozenset[str]]]

    @classmethod
    def build(cls, index: ProcedureIndex) -> DocWords:
        """Folded core-title words, accented title words and result-name words of every procedure."""
        titles = [_content(tokens(core_title(d.title))) for d in index.docs]
        accented = [_accented(d.title) for d in index.docs]
        results: list[list[frozenset[str]]] = [[] for _ in index.docs]
        part = index.results
        if part is not None:
            names = {j: t for t, j in part.vocab.items() if "_" not in t}
            rows = part.matrix.tocsr()
            for i in range(min(len(index.docs), rows.shape[0])):
                words = frozenset(names[j] for j in rows.indices[rows.indptr[i]:rows.indptr[i + 1]] if j in names)
                results[i] = [_content(sorted(words))] if words else []
        return cls(titles, accented, results)


@dataclass(frozen=True)
class QueryWords:
    """The question's words as the features read them."""

    words: frozenset[str]  # folded content syllables (after typo repair)
    expansions: frozenset[str]  # folded syllables of the synonym and lexicon expansions
    accented: frozenset[str]  # accented content words, empty when the question has no accents

    @classmethod
    def of(cls, folded: str, expansions: list[str], question: str, has_accents: bool) -> QueryWords:
        """Word sets of a question (``folded`` is its repaired, folded text)."""
        accented = _accented(question) if has_accents else frozenset()
        extra = _content([t for e in expansions for t in tokens(e)])
        return cls(_content(tokens(folded)), extra, accented)


def _share(part: frozenset[str], whole: frozenset[str]) -> float:
    """Share of ``part`` found in ``whole`` (0 when ``part`` is empty)."""
    return len(part & whole) / len(part) if part else 0.0


def candidate_features(scores: tuple[np.ndarray, np.ndarray, np.ndarray], top: np.ndarray, docs: DocWords,
                       query: QueryWords, cover: list[float], out_of_scope: np.ndarray,
                       prior: np.ndarray) -> np.ndarray:
    """The ``(len(top), len(FEATURES))`` features of the fused top-k ``top`` (best first).

    ``scores`` are every procedure's fused, dense and lexical scores.
    """
    fused, dense, lexical = (s[top].astype(np.float64) for s in scores)
    k = len(top)
    best = fused[0]
    rows = np.zeros((k, len(FEATURES)))
    asked = query.words | query.expansions
    for j, i in enumerate(top):
        i = int(i)
        others = np.delete(fused, j)
        title = docs.title[i]
        results = docs.results[i]
        accented = _share(query.accented, docs.accented_title[i]) if query.accented else _share(query.words, title)
        result_cover = max((_share(query.words, r) for r in results), default=0.0)
        result_recall = max((_share(r, asked) for r in results), default=0.0)
        record = title.union(*results) if results else title
        rows[j] = (
            fused[j], fused[j] - best, min(fused[j] - (others.max() if k > 1 else best - 1.0), 0.6),
            dense[j], dense[j] - dense.max(), lexical[j], math.log1p(j),
            float(lexical[j] >= lexical.max()), float(dense[j] >= dense.max()), cover[j],
            _share(query.words, title), _share(title, asked), accented, result_cover, result_recall,
            _share(query.expansions, record), float(out_of_scope[i]), float(prior[i]),
            math.log1p(len(title)), math.log1p(len(query.words)), float(bool(query.expansions)),
            float(bool(query.accented)),
        )
    return rows


@dataclass(frozen=True)
class RerankModel:
    """Standardisation, weights and answer threshold of the conditional logit (with a "none" option)."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    threshold: float
    meta: dict[str, Any]

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Each candidate's score against the "none of these" option (whose score is 0)."""
        return ((x - self.mean) / self.scale) @ self.weights + self.bias  # type: ignore[no-any-return]

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """Probability that each candidate is the one asked about (they sum to at most 1)."""
        z = np.clip(self.logits(x), -30.0, 30.0)
        top = max(float(z.max()), 0.0)
        e = np.exp(z - top)
        return e / (e.sum() + math.exp(-top))  # type: ignore[no-any-return]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready weights."""
        return {"features": list(FEATURES), "mean": [round(float(v), 6) for v in self.mean],
                "scale": [round(float(v), 6) for v in self.scale],
                "weights": [round(float(v), 6) for v in self.weights], "bias": round(self.bias, 6),
                "threshold": self.threshold, "meta": self.meta}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RerankModel:
        """Weights as written by :meth:`to_dict` (features must match :data:`FEATURES`)."""
        if tuple(data["features"]) != FEATURES:
            raise ValueError("re-ranker weights were trained on other features")
        return cls(np.asarray(data["mean"], float), np.asarray(data["scale"], float),
                   np.asarray(data["weights"], float), float(data["bias"]), float(data["threshold"]),
                   dict(data.get("meta", {})))

    @classmethod
    def load(cls, path: Path = WEIGHTS) -> RerankModel | None:
        """The weights in ``path``, or None (logged) when they are missing or stale."""
        try:
            return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError) as exc:
            log.warning("no re-ranker (%s): %s", path, exc)
            return None


def fit(groups: list[tuple[np.ndarray, np.ndarray]], l2: float = 0.01) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                                 float]:
    """Mean, scale, weights and bias of the conditional logit over ``(features, positive mask)`` groups.

    A group whose positives are all outside the top-k teaches the "none of these" option.
    """
    from scipy.optimize import minimize

    x_all = np.vstack([x for x, _ in groups])
    mean = x_all.mean(axis=0)
    scale = x_all.std(axis=0)
    scale[scale < 1e-6] = 1.0
    xs = [(x - mean) / scale for x, _ in groups]
    ys = [y.astype(bool) for _, y in groups]
    n = len(groups)

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = params[:-1], params[-1]
        total, grad = 0.0, np.zeros_like(params)
        for x, y in zip(xs, ys, strict=True):
            z = np.r_[x @ w + b, 0.0]
            z -= z.max()
            p = np.exp(z) / np.exp(z).sum()
            target = np.r_[y, not y.any()].astype(float)
            q = p * target
            total -= math.log(max(q.sum(), 1e-300))
            q /= q.sum()
            d = (p - q)[:-1]
            grad[:-1] += x.T @ d
            grad[-1] += d.sum()
        grad /= n
        grad[:-1] += l2 * w
        return total / n + 0.5 * l2 * float(w @ w), grad

    result = minimize(loss, np.zeros(x_all.shape[1] + 1), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return mean, scale, result.x[:-1], float(result.x[-1])


__all__ = ["FEATURES", "RERANK_K", "WEIGHTS", "DocWords", "QueryWords", "RerankModel", "candidate_features", "fit"]
