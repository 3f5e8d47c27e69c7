"""What to do with a ranked list: answer, ask which procedure is meant, or say nothing fits.

The top hit's score is a calibrated probability that it is the procedure asked about: a logistic
model over signals of the ranking (:func:`features`), fitted on the dev sets by
``bench/longtail_bench.py --fit`` (coefficients in :data:`COEFFICIENTS`). :func:`decide` answers
only above ``ANSWER_THRESHOLD`` (0.94). The fit's rule (the lowest threshold of its grid from which on
the one-sided 95 % lower bound of dev-set precision stays ≥ 0.95) gave 0.94 at the first fit and gives
0.85 since the refit for the encoder's 13-word text (dev: 98.0 % right at 0.85, 99.4 % at 0.94); 0.85
once kept 97.6 % on dev but only 89.7 % on the held-out long tail, so 0.94 is kept on purpose.
Between ``CLARIFY_FLOOR`` and that it asks a short clarifying question with 2–4 candidates; below
it the bot says it found nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

ANSWER_THRESHOLD = 0.94
CLARIFY_FLOOR = 0.3
MAX_CANDIDATES = 4
# Fitted by bench/longtail_bench.py --fit on bench/devset/questions.tsv + bench/longtail/dev.tsv
# (+ out-of-scope questions as negatives): intercept, then one weight per feature of `features`.
# Refitted when the encoder's text was cut to 13 words (its dense similarities are lower).
COEFFICIENTS: tuple[float, ...] = (-3.41, 3.497, 4.405, 1.421, 1.271)
FEATURES = ("dense", "lead", "agree", "word_cover")


class _Hit(Protocol):
    @property
    def code(self) -> str: ...

    @property
    def score(self) -> float: ...


@dataclass(frozen=True)
class Decision:
    """``answer`` (one candidate), ``clarify`` (2–4 candidates) or ``not_found`` (none)."""

    kind: Literal["answer", "clarify", "not_found"]
    candidates: list[Any] = field(default_factory=list)


def features(dense: np.ndarray, lexical: np.ndarray, fused: np.ndarray, order: np.ndarray | Sequence[int],
             j: int, cover: float) -> list[float]:
    """Signals for the hit at rank ``j`` of ``order``: dense match, lead, agreement, word coverage.

    The lead is over the runner-up for the top hit and negative below it; agreement is 1 when both
    the lexical and the dense ranking put the top hit first; ``cover`` is the share of the question's
    content words the procedure's text contains (low for questions the catalogue knows nothing about).
    """
    i = int(order[j])
    best = float(fused[order[0]])
    other = float(fused[order[1]]) if j == 0 and len(order) > 1 else best - (1.0 if j == 0 else 0.0)
    agree = float(j == 0 and int(np.argmax(lexical)) == i and int(np.argmax(dense)) == i)
    return [float(dense[i]), min(float(fused[i]) - other, 0.6), agree, cover]


def probability(values: Sequence[float], coefficients: Sequence[float] = COEFFICIENTS) -> float:
    """Logistic probability that the top hit is right."""
    z = coefficients[0] + sum(w * x for w, x in zip(coefficients[1:], values, strict=True))
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def decide(hits: Sequence[_Hit], answer_threshold: float = ANSWER_THRESHOLD,
           floor: float = CLARIFY_FLOOR, max_candidates: int = MAX_CANDIDATES) -> Decision:
    """Answer when the top hit is confident, else offer the best 2–4 above the floor, else nothing."""
    if not hits or hits[0].score < floor:
        return Decision("not_found")
    if hits[0].score >= answer_threshold or len(hits) == 1:
        return Decision("answer", [hits[0]])
    shown = [h for h in hits[:max_candidates] if h.score >= floor / 4]
    return Decision("clarify", shown if len(shown) >= 2 else list(hits[:2]))


def by_margin(hits: Sequence[_Hit], min_score: float, margin: float) -> Decision:
    """The uncalibrated rule, for searchers without calibration (keyword search).

    Answer when exactly one hit clears ``min_score`` within ``margin`` of the best, ask when several do.
    """
    close = [h for h in hits if h.score >= min_score and hits[0].score - h.score <= margin]
    if not close:
        return Decision("not_found")
    return Decision("answer" if len(close) == 1 else "clarify", close[:MAX_CANDIDATES])


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 0.001, steps: int = 30000) -> list[float]:
    """Intercept and weights of an L2-regularised logistic regression (plain gradient descent)."""
    xb = np.hstack([np.ones((len(x), 1)), x])
    w = np.zeros(xb.shape[1])
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(xb @ w, -30, 30)))
        grad = xb.T @ (p - y) / len(y) + l2 * np.r_[0.0, w[1:]]
        w -= 2.0 * grad
    return [round(float(v), 3) for v in w]


def wilson_lower(right: int, n: int, z: float = 1.645) -> float:
    """One-sided 95 % Wilson lower bound of the proportion ``right / n`` (0 when ``n`` is 0)."""
    if n == 0:
        return 0.0
    p = right / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt((p * (1 - p) + z * z / (4 * n)) / n)
    return (centre - spread) / (1 + z * z / n)


def choose_threshold(probs: np.ndarray | Sequence[float], right: np.ndarray | Sequence[bool], grid: Sequence[float],
                     target: float = 0.95, min_answered: int = 0) -> float | None:
    """Lowest threshold of ``grid`` from which on the precision's lower bound stays ≥ ``target`` (None: none).

    Thresholds answering fewer than ``min_answered`` questions are too few to judge and are skipped.
    """
    p = np.asarray(probs, float)
    r = np.asarray(right, bool)
    chosen: float | None = None
    for t in sorted(grid, reverse=True):
        sel = p >= t
        if int(sel.sum()) < min_answered:
            continue
        if wilson_lower(int(r[sel].sum()), int(sel.sum())) < target:
            break
        chosen = t
    return chosen
