"""Typos and missing accents, repaired against the catalogue's own vocabulary.

Citizens type without accents, drop or swap a letter, or leave Telex keys in a word ("dangw kys").
Both are repaired from the words the index already holds, with no dictionary of their own:

* :meth:`Speller.correct` replaces a folded syllable the catalogue never uses by the most frequent
  catalogue syllable one edit away (a deletion, insertion, substitution or swap), and keeps known
  syllables as they are;
* :meth:`Speller.restore_accents` puts the accents back on an unaccented question by choosing,
  for each syllable, the accented form that makes the most frequent catalogue bigrams (a Viterbi
  pass), so the dense encoder, which reads accented text far better, sees "đăng ký khai sinh".

Both tables are built once per index version from the lexical matrices (document frequencies).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict

import numpy as np
from scipy import sparse

from common.text import fold_diacritics, nfc
from knowledge.lexical import STOPWORDS, LexicalIndex

_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_WORD = re.compile(r"\w+")
# Syllables this short are too ambiguous to correct ("ko", "dc" are teencode, not typos).
MIN_CORRECT_LEN = 3
MAX_CANDIDATES = 4


def _document_frequency(index: LexicalIndex) -> np.ndarray:
    """Number of documents containing each column's term."""
    matrix = index.matrix if sparse.isspmatrix_csc(index.matrix) else index.matrix.tocsc()
    return np.diff(matrix.indptr)


def edits1(word: str) -> set[str]:
    """Every string one deletion, swap, substitution or insertion of a letter away from ``word``."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = {a + b[1:] for a, b in splits if b}
    swaps = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    replaces = {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
    inserts = {a + c + b for a, b in splits for c in _LETTERS}
    return (deletes | swaps | replaces | inserts) - {word}


class Speller:
    """Syllable frequencies of one index, folded and accented, for typo repair and accent restoration."""

    def __init__(self, folded: LexicalIndex, accented: LexicalIndex | None) -> None:
        """Count the syllables and bigrams of both lexical indexes."""
        df = _document_frequency(folded)
        self.unigrams: dict[str, int] = {t: int(df[c]) for t, c in folded.vocab.items() if "_" not in t}
        self.forms: dict[str, list[tuple[str, int]]] = defaultdict(list)
        self.bigrams: dict[str, int] = {}
        if accented is not None:
            adf = _document_frequency(accented)
            for term, col in accented.vocab.items():
                if "_" in term:
                    self.bigrams[term] = int(adf[col])
                elif term.isalpha():
                    self.forms[fold_diacritics(term)].append((term, int(adf[col])))
            for key in self.forms:
                self.forms[key].sort(key=lambda f: -f[1])
                del self.forms[key][MAX_CANDIDATES:]

    def known(self, syllable: str) -> bool:
        """Whether the catalogue uses this folded syllable."""
        return syllable in self.unigrams

    def correction(self, syllable: str) -> str | None:
        """The most frequent catalogue syllable one edit away from an unknown one, or None."""
        if self.known(syllable) or len(syllable) < MIN_CORRECT_LEN or not syllable.isalpha():
            return None
        if syllable in STOPWORDS:
            return None
        best = max(((self.unigrams[c], c) for c in edits1(syllable) if c in self.unigrams), default=None)
        return best[1] if best else None

    def correct(self, folded_words: list[str]) -> list[str]:
        """The words with every unknown syllable replaced by its correction (when there is one)."""
        return [self.correction(w) or w for w in folded_words]

    def restore_accents(self, text: str) -> str:
        """``text`` (unaccented) with the accents the catalogue's bigrams make most likely."""
        words = _WORD.findall(nfc(text).lower())
        if not words:
            return ""
        options = [[f for f, _ in self.forms.get(w, [])] or [w] for w in words]
        # Viterbi over accented forms: log document frequency of each bigram, a little of each unigram.
        unigram = [{f: math.log1p(n) * 0.1 for f, n in self.forms.get(w, [])} for w in words]
        score = [unigram[0].get(f, 0.0) for f in options[0]]
        back: list[list[int]] = []
        for i in range(1, len(words)):
            row, ptr = [], []
            for f in options[i]:
                best_j, best = 0, -math.inf
                for j, g in enumerate(options[i - 1]):
                    s = score[j] + math.log1p(self.bigrams.get(f"{g}_{f}", 0))
                    if s > best:
                        best_j, best = j, s
                row.append(best + unigram[i].get(f, 0.0))
                ptr.append(best_j)
            score, back = row, [*back, ptr]
        k = int(np.argmax(score))
        out = [options[-1][k]]
        for i in range(len(words) - 1, 0, -1):
            k = back[i - 1][k]
            out.append(options[i - 1][k])
        return " ".join(reversed(out))
