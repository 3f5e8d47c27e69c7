"""How much of a question's distinctive words a procedure's title holds: a confidence signal for the long tail.

Long-tail procedures have no hand-written examples; the encoder can rank one first on the question's
common words ("cấp lại", "giấy phép") while the words that single out the procedure ("thuế", "kênh
thủy lợi", "biến động") are in none of its title. Each question word is weighted by its inverse
document frequency in the catalogue, so a covered rare word counts for much more than a common one.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from knowledge.index import ProcedureIndex
from knowledge.lexical import STOPWORDS, tokens

# Words of nearly every title: they tell no sibling from another.
GENERIC_TITLE_WORDS = frozenset({"thu", "tuc", "doi", "voi", "cho", "cua", "tai", "ve", "trong", "va"})


class TitleWords:
    """Per-procedure title syllables and the catalogue's inverse document frequencies (one index version)."""

    def __init__(self, index: ProcedureIndex) -> None:
        """Build the ``(docs, vocabulary)`` 0/1 matrix of title syllables and the IDF of every column."""
        self.vocab = vocab = index.lexical.vocab
        rows: list[int] = []
        cols: list[int] = []
        content_rows: list[int] = []
        content_cols: list[int] = []
        self.lengths = np.ones(len(index.docs), np.float32)
        for i, doc in enumerate(index.docs):
            words = set(tokens(doc.title))
            found = {vocab[w] for w in words if w in vocab}
            rows += [i] * len(found)
            cols += sorted(found)
            content = words - STOPWORDS - GENERIC_TITLE_WORDS
            kept = sorted(vocab[w] for w in content if w in vocab)
            content_rows += [i] * len(kept)
            content_cols += kept
            self.lengths[i] = max(len(content), 1)
        shape = (len(index.docs), len(vocab))
        self.titles = sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=shape)
        # The titles' content words: what the title-excess push-down counts (no stopwords, no generic words).
        self.content = sparse.csr_matrix((np.ones(len(content_rows), np.float32), (content_rows, content_cols)),
                                         shape=shape)
        df = np.diff(sparse.csc_matrix(index.lexical.matrix).indptr).astype(np.float64)
        n = len(index.docs)
        self.idf = np.log1p((n - df + 0.5) / (df + 0.5))

    def cover(self, columns: np.ndarray | None, i: int) -> float:
        """IDF-weighted share of the question's word ``columns`` found in the title of procedure ``i``."""
        if columns is None or not len(columns):
            return 0.0
        weights = self.idf[columns]
        total = float(weights.sum())
        if total <= 0:
            return 0.0
        row = self.titles.indices[self.titles.indptr[i]:self.titles.indptr[i + 1]]
        return float(weights[np.isin(columns, row)].sum()) / total

    def overlap(self, i: int, j: int) -> float:
        """IDF-weighted Jaccard of the content words of titles ``i`` and ``j``: near 1 for near-duplicate siblings."""
        a = self.content.indices[self.content.indptr[i]:self.content.indptr[i + 1]]
        b = self.content.indices[self.content.indptr[j]:self.content.indptr[j + 1]]
        union = float(self.idf[np.union1d(a, b)].sum())
        return float(self.idf[np.intersect1d(a, b)].sum()) / union if union > 0 else 0.0

    def excess(self, words: list[str]) -> np.ndarray:
        """Per procedure, the share of its title's content words that are not among ``words`` (folded syllables)."""
        used = np.zeros(len(self.vocab), np.float32)
        used[[self.vocab[w] for w in set(words) if w in self.vocab]] = 1.0
        return np.asarray(1.0 - (self.content @ used) / self.lengths, np.float32)
