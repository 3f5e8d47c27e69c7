"""Rasa-independent Vietnamese tokenisation with exact offsets into the original (maybe decomposed) text."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from common.text import find_protected_spans, fold_diacritics

# A syllable: letters, digits and combining marks; apostrophes inside words ("o'clock") are kept.
_WORD_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_STANDALONE_4_DIGITS = re.compile(r"\d{4}")

PLACEHOLDERS = {
    "dossier_code": "__ma_ho_so__",
    "phone": "__so_dien_thoai__",
    "cccd": "__so_cccd__",
    "date": "__ngay__",
}


@dataclass(frozen=True)
class Piece:
    """One token: its text and offsets in the ORIGINAL text, and its folded lemma."""

    text: str
    start: int
    end: int
    lemma: str
    kind: str = "word"


def nfc_with_offsets(text: str) -> tuple[str, list[int], list[int]]:
    """NFC-normalise ``text`` and map every NFC character to its [start, end) in the original."""
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    i = 0
    n = len(text)
    while i < n:
        j = i + 1
        while j < n and unicodedata.combining(text[j]):
            j += 1
        composed = unicodedata.normalize("NFC", text[i:j])
        for k, char in enumerate(composed):
            out.append(char)
            # Only the first composed char owns the start; all own the cluster end.
            starts.append(i if k == 0 else j)
            ends.append(j)
        i = j
    return "".join(out), starts, ends


def _lemma(text: str, kind: str) -> str:
    """The featurised form: placeholder for protected spans, else folded lower case."""
    if kind in PLACEHOLDERS:
        return PLACEHOLDERS[kind]
    if _STANDALONE_4_DIGITS.fullmatch(text):
        return "__bon_so__"
    return fold_diacritics(text).lower()


def syllables(text: str) -> list[Piece]:
    """Split ``text`` into syllables and protected spans (codes, phones, CCCD, dates)."""
    norm, starts, ends = nfc_with_offsets(text)
    pieces: list[Piece] = []

    def add(s: int, e: int, kind: str) -> None:
        start, end = starts[s], ends[e - 1]
        pieces.append(Piece(text[start:end], start, end, _lemma(norm[s:e], kind), kind))

    cursor = 0
    for span in find_protected_spans(norm):
        for m in _WORD_RE.finditer(norm, cursor, span.start):
            add(m.start(), m.end(), "word")
        add(span.start, span.end, span.kind)
        cursor = span.end
    for m in _WORD_RE.finditer(norm, cursor):
        add(m.start(), m.end(), "word")
    return pieces


def merge_compounds(text: str, pieces: list[Piece], segment: Callable[[str], str]) -> list[Piece]:
    """Join syllables into words with a segmenter that marks compounds with ``_`` (pyvi style)."""
    merged: list[Piece] = []
    run: list[Piece] = []

    def flush() -> None:
        if not run:
            return
        words = segment(" ".join(p.text for p in run)).split()
        idx = 0
        for word in words:
            parts = word.split("_")
            group = run[idx : idx + len(parts)]
            if len(parts) > 1 and [p.text for p in group] == parts:
                first, last = group[0], group[-1]
                merged.append(
                    Piece(
                        text[first.start : last.end],
                        first.start,
                        last.end,
                        "_".join(p.lemma for p in group),
                    )
                )
                idx += len(parts)
            elif idx < len(run):
                merged.append(run[idx])
                idx += 1
        merged.extend(run[idx:])
        run.clear()

    for piece in pieces:
        if piece.kind == "word":
            run.append(piece)
        else:
            flush()
            merged.append(piece)
    flush()
    return merged

