"""The text the dense encoder reads for a question, kept short, and a cache of its vectors.

Encoding the question is most of a search's cost, and it grows with the text. Before encoding:

* courtesy phrases that name no procedure ("cho em hỏi", "ad ơi", "với ạ") are stripped;
* the question is cut to a budget of words (``DENSE_WORD_BUDGET``), and the lexicon's and synonyms'
  expansions are added, whole ones only, within what is left of it (and ``max_chars``).

Lexical search still reads the whole question. :class:`QueryVectorCache` keeps the vectors of the
last questions (citizens ask the same few things), so a repeated question costs no encoding.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable

import numpy as np

from common.text import fold_diacritics, nfc

# Measured on 2 shared cores, one thread: encoding p95 28 ms at 13 words, 42 at 18, 48 at 24 (load 4.4), and
# 16-24 words found no more top-1 on the dev sets than 13; bench/longtail_bench.py: search p95 36 ms vs 76 uncut.
DENSE_WORD_BUDGET = 13
QUERY_CACHE_SIZE = 2048
_WORD = re.compile(r"\w+")
# Said before or after the question, never part of a procedure's name (accented; matched folded too
# when the question has no accents).
_LEADING = (
    "cho em hỏi", "cho tôi hỏi", "cho mình hỏi", "cho cháu hỏi", "cho con hỏi", "cho hỏi", "xin hỏi",
    "em muốn hỏi", "tôi muốn hỏi", "mình muốn hỏi", "em hỏi", "dạ", "chào ad", "chào admin", "xin chào",
    "chào anh", "chào chị", "ad ơi", "admin ơi", "anh chị ơi", "anh ơi", "chị ơi", "làm ơn",
)
_TRAILING = (
    "giúp em với ạ", "giúp em với", "giúp tôi với", "giúp mình với", "giúp em", "với ạ", "nhé ạ", "ạ",
    "ad ơi", "admin ơi", "với", "nhé", "nha", "cảm ơn", "cám ơn", "thanks", "ak", "ah",
)
# Folded, a lone "a" is as often the letter of a class ("hạng A") as "ạ" (only stripped after these),
# "nha" is as often "nhà" as the particle, and "da" ("dạ") is more often "đã".
_FOLDED_TRAILING_EXTRA = ("voi a", "nhe a", "giup em voi a")
_FOLDED_AMBIGUOUS = frozenset({"a", "nha", "da"})


def _alternation(phrases: tuple[str, ...]) -> str:
    return "|".join(re.escape(p) for p in sorted(phrases, key=len, reverse=True))


def _patterns(phrases: tuple[str, ...], extra: tuple[str, ...] = ()) -> tuple[str, str]:
    accented = _alternation(phrases)
    folded = _alternation(tuple({fold_diacritics(p) for p in phrases} - _FOLDED_AMBIGUOUS) + extra)
    return accented, folded


_LEAD_ACCENTED, _LEAD_FOLDED = _patterns(_LEADING)
_TRAIL_ACCENTED, _TRAIL_FOLDED = _patterns(_TRAILING, _FOLDED_TRAILING_EXTRA)
_SEP = r"[\s,.!?;:…]*"
_STRIP = {
    True: (re.compile(rf"^(?:(?:{_LEAD_ACCENTED})(?!\w){_SEP})+", re.IGNORECASE),
           re.compile(rf"(?:{_SEP}(?<!\w)(?:{_TRAIL_ACCENTED}))+{_SEP}$", re.IGNORECASE)),
    False: (re.compile(rf"^(?:(?:{_LEAD_FOLDED})(?!\w){_SEP})+", re.IGNORECASE),
            re.compile(rf"(?:{_SEP}(?<!\w)(?:{_TRAIL_FOLDED}))+{_SEP}$", re.IGNORECASE)),
}


def strip_courtesy(question: str) -> str:
    """``question`` without the courtesy phrases around it (the question itself when nothing else is left)."""
    text = " ".join(nfc(question).split())
    accented = fold_diacritics(text) != text
    lead, trail = _STRIP[accented]
    stripped = trail.sub("", lead.sub("", text)).strip()
    return stripped if _WORD.search(stripped) else text


def cut_words(text: str, budget: int) -> str:
    """``text`` cut after its first ``budget`` words."""
    ends = [m.end() for m in _WORD.finditer(text)]
    return text if len(ends) <= budget else text[: ends[budget - 1]]


def whole_expansions(parts: list[str], limit: int, max_words: int | None = None) -> str:
    """The expansions joined by "; ", as many whole ones as fit in ``limit`` characters and ``max_words`` words."""
    out: list[str] = []
    used = words = 0
    for part in parts:
        used += len(part) + (2 if out else 0)
        words += len(_WORD.findall(part))
        if used > limit or (max_words is not None and words > max_words):
            break
        out.append(part)
    return "; ".join(out)


def dense_text(question: str, expansions: list[str], budget: int = DENSE_WORD_BUDGET,
               max_chars: int = 80) -> str:
    """What the encoder reads: the question within ``budget`` words, then whole expansions that still fit."""
    text = cut_words(question, budget)
    extra = whole_expansions(expansions, max_chars, budget - len(_WORD.findall(text)))
    return f"{text} ({extra})" if extra else text


class QueryVectorCache:
    """The vectors of the last ``size`` dense texts (least recently used out first); thread-safe."""

    def __init__(self, size: int = QUERY_CACHE_SIZE) -> None:
        """Hold at most ``size`` vectors (0: no caching)."""
        self.size = size
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, text: str, encode: Callable[[str], np.ndarray]) -> np.ndarray:
        """The vector of ``text``, from the cache or from ``encode`` (then cached)."""
        with self._lock:
            found = self._items.get(text)
            if found is not None:
                self._items.move_to_end(text)
                return found
        vector = encode(text)
        if self.size > 0:
            with self._lock:
                self._items[text] = vector
                self._items.move_to_end(text)
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
        return vector

    def clear(self) -> None:
        """Forget every vector."""
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        """Number of vectors held."""
        return len(self._items)
