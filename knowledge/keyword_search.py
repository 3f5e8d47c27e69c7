"""Folded-keyword search over the catalogue: the searcher used while no search index is built.

The hybrid searcher (knowledge/search.py) needs a published index and an encoder model. Until
``python -m knowledge build`` has run (fresh install, tests, the admin before its index loads) or
when the index fails at run time, the bot still answers with this plain keyword search.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter

from common.text import normalize_query
from knowledge.bounds import QUERY_MAX_CHARS, QUERY_MAX_TOKENS, bound_query
from knowledge.schema import Procedure
from knowledge.search import Hit

# Words that say nothing about which procedure is meant.
_STOPWORDS = frozenset(
    {
        "thu", "tuc", "lam", "the", "nao", "nhu", "can", "gi", "nhung", "o", "dau", "bao", "lau", "nhieu", "tien",
        "le", "phi", "mat", "cho", "toi", "minh", "em", "anh", "chi", "hoi", "xin", "voi", "va", "cua", "la", "co",
        "khong", "ko", "duoc", "thi", "sao", "a", "a.", "nhe", "oi", "di", "ve", "viec", "nay", "do", "muon",
        "giay", "to", "ho", "so", "nop", "cach", "buoc",
    }
)


def _tokens(text: str) -> list[str]:
    """Folded word tokens of ``text``."""
    return re.findall(r"\w+", normalize_query(text))


class KeywordSearcher:
    """IDF-weighted word and word-pair overlap with the titles, aliases and questions of procedures."""

    min_score = 0.5
    clarify_margin = 0.04
    max_query_chars = QUERY_MAX_CHARS
    max_query_tokens = QUERY_MAX_TOKENS

    def __init__(self, procedures: list[Procedure]) -> None:
        """Index the titles, aliases and questions of ``procedures``."""
        self._docs: list[tuple[str, str, set[str], set[str], set[str]]] = []
        frequency: Counter[str] = Counter()
        for procedure in procedures:
            if procedure.retired:
                continue
            words: set[str] = set()
            pairs: set[str] = set()
            for text in [procedure.title, *procedure.aliases, *procedure.questions]:
                tokens = _tokens(text)
                words.update(tokens)
                pairs.update(f"{a} {b}" for a, b in itertools.pairwise(tokens))
            frequency.update(words)
            title_words = {t for t in _tokens(procedure.title) if t not in _STOPWORDS}
            self._docs.append((procedure.code, procedure.title, words, pairs, title_words))
        total = max(1, len(self._docs))
        self._idf = {word: math.log(1 + total / count) for word, count in frequency.items()}
        self._default_idf = math.log(1 + total)

    def search(self, query: str, top_k: int = 5) -> list[Hit]:
        """Return the best ``top_k`` procedures for ``query`` (cut to its bounds first)."""
        query = bound_query(query, self.max_query_chars, self.max_query_tokens)
        tokens = [t for t in _tokens(query) if t not in _STOPWORDS]
        if not tokens:
            return []
        pairs = {f"{a} {b}" for a, b in itertools.pairwise(tokens)}
        weights = {t: self._idf.get(t, self._default_idf) for t in tokens}
        total = sum(weights.values()) + len(pairs)
        scored = []
        for code, title, words, doc_pairs, title_words in self._docs:
            matched = sum(w for t, w in weights.items() if t in words) + len(pairs & doc_pairs)
            if matched:
                # Mostly how much of the question is covered; a little how much of the title is.
                title_cover = len(title_words & set(tokens)) / max(1, len(title_words))
                score = 0.75 * min(1.0, matched / total) + 0.25 * title_cover
                scored.append(Hit(code, title, round(score, 4)))
        scored.sort(key=lambda hit: (-hit.score, len(hit.title)))
        return scored[:top_k]
