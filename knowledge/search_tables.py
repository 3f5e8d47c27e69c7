"""Per-version tables of a searcher: qualifiers, scope, curated and title words, the speller, word coverage."""

from __future__ import annotations

from typing import Any

import numpy as np

from knowledge import rerank
from knowledge.derived import TITLE_QUERY
from knowledge.distinctive import TitleWords
from knowledge.index import ProcedureIndex
from knowledge.lexical import SynonymTable, tokens
from knowledge.qualifiers import applicant_marks, level_marks, out_of_scope, qualifier_table, trade_marks
from knowledge.search_types import Scored, SearchConfig
from knowledge.spelling import CITIZEN_ABBREVIATIONS, Speller


class IndexTables:
    """Tables built once per index version (so no question pays for them), and lookups over them."""

    index: ProcedureIndex
    config: SearchConfig
    lexicon: SynonymTable
    synonyms: SynonymTable
    _qualifier_cache: tuple[ProcedureIndex, list[str], Any] | None

    def _doc_words(self, index: ProcedureIndex) -> rerank.DocWords:
        """The re-ranker's word sets of ``index`` (built once per version)."""
        cached = getattr(self, "_words", None)
        if cached is None or cached[0] is not index:
            cached = (index, rerank.DocWords.build(index))
            self._words = cached
        return cached[1]

    def _qualifiers(self, index: ProcedureIndex) -> tuple[list[str], Any]:
        """Qualifier names and doc matrix of ``index``, without actions its accented title lacks."""
        cached = self._qualifier_cache
        if cached is not None and cached[0] is index:
            return cached[1], cached[2]
        names, matrix = qualifier_table(index)
        self._qualifier_cache = (index, names, matrix)
        return names, matrix

    def _kind_mask(self, index: ProcedureIndex) -> np.ndarray:
        """Which passages dense search may use: derived, result and query-prompt titles only when switched on."""
        cfg = self.config
        key = (id(index), cfg.use_derived, cfg.use_result, cfg.use_query_titles)
        if getattr(self, "_mask_key", None) != key:
            off = {k for k, on in (("derived", cfg.use_derived), ("result", cfg.use_result),
                                   (TITLE_QUERY, cfg.use_query_titles)) if not on}
            self._mask = np.asarray([k not in off for k in index.kinds], bool)
            self._mask_key = key
        return self._mask

    def _out_of_scope(self, index: ProcedureIndex) -> np.ndarray:
        """1.0 for procedures none of whose levels the province's one-stop centres handle (ministry-only)."""
        key = (id(index), self.config.scope_levels)
        if getattr(self, "_scope_key", None) != key:
            self._scope = out_of_scope(index, self.config.scope_levels)
            self._scope_key = key
        return self._scope

    def _title_words(self, index: ProcedureIndex) -> TitleWords:
        """Title syllables and word IDFs of ``index`` (built once per version)."""
        cached = getattr(self, "_title_cover_words", None)
        if cached is None or cached[0] is not index:
            cached = (index, TitleWords(index))
            self._title_cover_words = cached
        return cached[1]

    def _applicants(self, index: ProcedureIndex) -> np.ndarray:
        """Per document, whether its title is only for organisations (column 0) or only for individuals (1)."""
        if getattr(self, "_applicants_of", None) is not index:
            self._applicant_marks, self._applicants_of = applicant_marks(index), index
        return self._applicant_marks

    def _trade(self, index: ProcedureIndex) -> np.ndarray:
        """Per document, whether its title names only exports (column 0) or only imports (1)."""
        if getattr(self, "_trade_of", None) is not index:
            self._trade_marks, self._trade_of = trade_marks(index), index
        return self._trade_marks

    def _levels(self, index: ProcedureIndex) -> np.ndarray:
        """Per document, whether its record lists each level of ``knowledge.qualifiers.LEVELS``."""
        if getattr(self, "_levels_of", None) is not index:
            self._level_marks, self._levels_of = level_marks(index), index
        return self._level_marks

    def _curated(self, index: ProcedureIndex) -> np.ndarray:
        """1.0 for the procedures the province curated (they carry example questions), else 0.0."""
        if getattr(self, "_curated_of", None) is not index:
            curated = np.zeros(len(index.docs), np.float32)
            curated[[o for o, kind in zip(index.owners, index.kinds, strict=True) if kind == "question"]] = 1.0
            self._curated_mask, self._curated_of = curated, index
        return self._curated_mask

    def speller(self, index: ProcedureIndex) -> Speller:
        """Syllable tables of ``index`` for typo repair and accent restoration (built once per version)."""
        cached = getattr(self, "_speller", None)
        if cached is None or cached[0] is not index:
            phrases = [p for table in (self.lexicon, self.synonyms) for e in table.entries
                       for p in (*e.phrases, e.expand)]
            cached = (index, Speller(index.lexical, index.accented, [*phrases, *CITIZEN_ABBREVIATIONS.values()]))
            self._speller = cached
        return cached[1]

    def _title_excess(self, index: ProcedureIndex, folded: str, expansions: list[str]) -> np.ndarray:
        """Per document, the share of its title's content syllables that neither the question nor its expansions use."""
        return self._title_words(index).excess(tokens(folded + " " + " ".join(expansions)))

    def coverage(self, scored: Scored, i: int) -> float:
        """Share of the question's content words found in document ``i`` (an absolute lexical signal)."""
        if scored.query_columns is None or not scored.query_words:
            return 0.0
        cached = getattr(self, "_rows", None)
        if cached is None or cached[0] is not self.index:
            cached = (self.index, self.index.lexical.matrix.tocsr())
            self._rows = cached
        rows = cached[1]
        found = np.intersect1d(rows.indices[rows.indptr[i]:rows.indptr[i + 1]], scored.query_columns)
        return len(found) / scored.query_words

    def sibling_overlap(self, i: int, j: int) -> float:
        """How alike the titles of documents ``i`` and ``j`` are (IDF-weighted Jaccard of their content words)."""
        return self._title_words(self.index).overlap(i, j)

    def title_cover(self, scored: Scored, i: int) -> float:
        """IDF-weighted share of the question's words in the title of document ``i`` (its distinctive words)."""
        return self._title_words(self.index).cover(scored.query_columns, i)
