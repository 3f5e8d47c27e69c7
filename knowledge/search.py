"""Hybrid procedure search: folded BM25 + dense e5 + synonyms + citizen prior, fused and calibrated.

Fused score per procedure = BM25 over folded syllables and bigrams (normalised to the best match;
accented BM25 added when the citizen typed accents) + dense similarity (max over the procedure's
title, aliases and example questions, mapped to 0..1) + a small prior for what individuals apply
for, minus penalties for title qualifiers the question does not mention ("có yếu tố nước ngoài",
"lưu động", "cấp trung ương", "... ở nước ngoài", narrow audiences such as "cán bộ xã", an action
such as "cấp lại" it does not ask for). Title actions are confirmed with accents ("đối với" is not
"đổi"); a title naming several actions earns the bonus when any of them is asked and is pushed down
at most once otherwise. A question that says who asks (an organisation, a household) or which way goods go
(export, import) pushes down the sibling titles for the other kind (:mod:`knowledge.cues`). Before scoring,
syllables the catalogue never uses are repaired to the nearest catalogue syllable, and an unaccented question
gets its accents back from the catalogue's bigrams for the dense encoder (:mod:`knowledge.spelling`). Encoding
is most of a search's time, so the encoder reads the question without courtesy phrases and cut, with its
expansions, to a budget of words; the vectors of recent questions are cached (:mod:`knowledge.query_text`); the
encoder runs on another thread while the lexical scores are computed.

:attr:`Hit.score` is a 0..1 confidence (logistic in the hit's dense similarity and its lead over
the runner-up); scores never increase down the list. Recommended use, measured by
``bench/knowledge_bench.py`` on the full national catalogue:

* ``score < NOT_FOUND_THRESHOLD`` (0.5): answer "not found" and offer to rephrase. At 0.5, ~97 % of
  correct top-1 answers are kept and ~9 % of out-of-scope questions get through.
* otherwise answer with the top hit, and offer every other hit whose score is within
  ``CLOSE_MARGIN`` (0.15) of the top one as a "did you mean" candidate. Measured: for 13 of the
  33 wrong top-1 answers the right procedure is such a candidate, while a correct top-1 answer
  brings on average 0.26 extra candidates.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from common.text import nfc, normalize_query
from knowledge import decision, rerank
from knowledge.bounds import QUERY_MAX_CHARS, QUERY_MAX_TOKENS, bound_query
from knowledge.cues import asked_actions, asked_level, asker, normalised, trade_direction
from knowledge.encoder import Encoder, load_encoder
from knowledge.index import IndexStore, ProcedureIndex
from knowledge.lexical import STOPWORDS, SynonymTable, accented_terms, has_diacritics, terms, tokens
from knowledge.qualifiers import ABROAD, LEVELS
from knowledge.query_text import QueryVectorCache, cut_words, dense_text, strip_courtesy
from knowledge.search_tables import IndexTables
from knowledge.search_types import Hit, Scored, SearchConfig, whole_expansions
from knowledge.spelling import typed_with_accents, write_out_abbreviations

log = logging.getLogger(__name__)

__all__ = ["CLOSE_MARGIN", "LEXICON", "NOT_FOUND_THRESHOLD", "Hit", "ProcedureSearcher", "Scored", "SearchConfig",
           "asked_actions", "whole_expansions"]

NOT_FOUND_THRESHOLD = 0.5
CLOSE_MARGIN = 0.15
LEXICON = Path(__file__).with_name("lexicon.yml")
# The title qualifiers a named level counts as asking for (a central question asks for "... cấp trung ương").
LEVEL_WORDS = {"cap bo": "trung uong cap bo ", "cap tinh": "cap tinh ", "cap xa": "cap xa "}
# Query encodings of all searchers; the encoders serialise their own calls, so a few threads suffice.
_ENCODING = ThreadPoolExecutor(max_workers=4, thread_name_prefix="query-encode")


class ProcedureSearcher(IndexTables):
    """Search a published index; a newly published version is picked up within about a second."""

    min_score = NOT_FOUND_THRESHOLD
    clarify_margin = CLOSE_MARGIN
    answer_threshold = decision.ANSWER_THRESHOLD
    clarify_floor = decision.CLARIFY_FLOOR
    max_query_chars = QUERY_MAX_CHARS
    max_query_tokens = QUERY_MAX_TOKENS

    def __init__(self, store: IndexStore | Path, encoder: Encoder | None = None,
                 synonyms: SynonymTable | None = None, config: SearchConfig | None = None,
                 reload_interval: float = 1.0) -> None:
        """Load the current index version and the encoder that built it (once)."""
        self.store = store if isinstance(store, IndexStore) else IndexStore(Path(store))
        self.config = config or SearchConfig()
        self.synonyms = synonyms if synonyms is not None else SynonymTable.default()
        self.lexicon = SynonymTable.load(LEXICON)
        self.reload_interval = reload_interval
        self._lock = threading.Lock()
        self._checked = time.monotonic()
        self._loaded_name = self.store.current_name()
        self._qualifier_cache: tuple[ProcedureIndex, list[str], Any] | None = None
        self.vectors = QueryVectorCache(self.config.query_cache_size)
        self.index = self.store.load_current()
        self.encoder = encoder if encoder is not None else load_encoder(self.index.model_name)
        self._check_model()
        self._load_reranker()
        self._prepare(self.index)

    @classmethod
    def load(cls, data_dir: Path, config: SearchConfig | None = None) -> ProcedureSearcher:
        """The searcher over ``<data_dir>/index`` with the encoder recorded in the index."""
        return cls(IndexStore(Path(data_dir) / "index"), config=config)

    @classmethod
    def from_index(cls, index: ProcedureIndex, encoder: Encoder, synonyms: SynonymTable | None = None,
                   config: SearchConfig | None = None) -> ProcedureSearcher:
        """A searcher over an in-memory index (no store, no reloading): for benchmarks and tests."""
        self = cls.__new__(cls)
        self.store = IndexStore(Path("/nonexistent"))
        self.config = config or SearchConfig()
        self.synonyms = synonyms if synonyms is not None else SynonymTable.default()
        self.lexicon = SynonymTable.load(LEXICON)
        self.reload_interval = math.inf
        self._lock = threading.Lock()
        self._checked = time.monotonic()
        self._loaded_name = None
        self._qualifier_cache = None
        self.vectors = QueryVectorCache(self.config.query_cache_size)
        self.index = index
        self.encoder = encoder
        self._check_model()
        self._load_reranker()
        self._prepare(index)
        return self

    def _load_reranker(self, model: rerank.RerankModel | None = None) -> None:
        """Use ``model`` (default: the shipped weights) when the re-ranker is on; its threshold answers."""
        self.reranker = (model or rerank.RerankModel.load()) if self.config.use_reranker else None
        if self.reranker is not None:
            self.answer_threshold = self.reranker.threshold

    def _prepare(self, index: ProcedureIndex) -> None:
        """Build the per-version tables now, so that no question pays for them (~1 s on the national catalogue)."""
        self._qualifiers(index)
        self._title_words(index)
        self.speller(index)
        if self.reranker is not None:
            self._doc_words(index)

    def _check_model(self) -> None:
        if self.index.model_name and self.index.model_name != self.encoder.name:
            log.warning("index was built with %s but queries use %s", self.index.model_name,
                        self.encoder.name)

    @property
    def version(self) -> str | None:
        """The version folder currently served (``v3``), or None for an in-memory index."""
        return self._loaded_name

    def maybe_reload(self, force: bool = False) -> bool:
        """Swap in a newly published version (checks the pointer at most once per interval)."""
        now = time.monotonic()
        if not force and now - self._checked < self.reload_interval:
            return False
        self._checked = now
        name = self.store.current_name()
        if name is None or name == self._loaded_name:
            return False
        with self._lock:
            if name == self._loaded_name:
                return False
            try:
                index = ProcedureIndex.load(self.store.root / name)
            except (OSError, ValueError) as exc:
                log.error("cannot load index %s, keeping %s: %s", name, self._loaded_name, exc)
                return False
            if index.model_name != self.encoder.name:
                self.encoder = load_encoder(index.model_name)
                self.vectors.clear()
            self._prepare(index)
            self.index, self._loaded_name = index, name
        log.info("search index switched to %s", name)
        return True

    def score_all(self, query: str) -> Scored:
        """Component and fused scores of every document for ``query`` (cut to its bounds first)."""
        query = bound_query(query, self.max_query_chars, self.max_query_tokens)
        cfg = self.config
        index = self.index
        n = len(index.docs)
        folded = normalize_query(query)
        accented = has_diacritics(query)
        if cfg.use_spelling:
            corrected = " ".join(self.speller(index).correct(tokens(folded), typed_with_accents(query)))
            if corrected != " ".join(tokens(folded)):
                folded = corrected
                if not accented:
                    query = corrected
        # Lexical search also reads the question with the citizen's abbreviations written out ("sđ" → "sổ đỏ"),
        # and the lexicon and synonyms fire on that text too.
        said = write_out_abbreviations(query) if cfg.lexical_abbreviations else query
        written = [normalize_query(said)] if said != query else []
        expansions = self.synonyms.expansions(said) if cfg.use_synonyms else []
        lexicon = self.lexicon.expansions(said) if cfg.use_lexicon else []
        pending: Future[np.ndarray] | None = None
        if cfg.use_dense and len(index.vectors):
            text = nfc(query).strip()
            if cfg.strip_courtesy:
                text = strip_courtesy(text)
            if cfg.use_abbreviations:
                text = write_out_abbreviations(text)
            text = cut_words(text, cfg.dense_word_budget)
            if cfg.use_accents and not accented and index.accented is not None:
                text = self.speller(index).restore_accents(text)
            text = dense_text(text, expansions + lexicon, cfg.dense_word_budget, cfg.dense_expansion_chars)
            # The encoder (C or torch, GIL released) runs on the other core while lexical scoring runs here.
            pending = _ENCODING.submit(self.query_vector, text)
        lexical = np.zeros(n, np.float32)
        extra_lexical = np.zeros(n, np.float32)
        qterms = terms(folded, drop_stopwords=True)
        if cfg.use_lexical:
            qvec = index.lexical.query_vector(qterms)
            for extra, weight in [(e, cfg.expansion_weight) for e in expansions] + [
                    (e, cfg.lexicon_weight) for e in lexicon] + [(w, cfg.abbreviation_weight) for w in written]:
                for col, w in index.lexical.query_vector(terms(extra), weight).items():
                    qvec[col] = max(qvec.get(col, 0.0), w)
            raw = index.lexical.score(qvec)
            if cfg.accent_weight and index.accented is not None and accented:
                # Accents the citizen typed disambiguate folded collisions (báo/bảo, tử/tư).
                avec = index.accented.query_vector(accented_terms(query, drop_stopwords=True))
                raw = raw + cfg.accent_weight * index.accented.score(avec)
            top = float(raw.max()) if n else 0.0
            if top > 0:
                lexical = (raw / top).astype(np.float32)
            all_terms = qterms + [t for e in written + expansions + lexicon for t in terms(e)]
            for part, on, weight in ((index.derived, cfg.use_derived, cfg.derived_weight),
                                     (index.results, cfg.use_result, cfg.result_weight)):
                if on and part is not None:
                    extra_lexical += weight * normalised(part.score(part.query_vector(all_terms)))
        # Folded, the question's syllables collide (bán/bạn/bản) and BM25 with them; the encoder reads it re-accented.
        dense_weight = cfg.dense_weight + (0.0 if accented else cfg.unaccented_dense_boost)
        fused: np.ndarray = cfg.lexical_weight * lexical + extra_lexical
        # A question naming a level ("do Bộ cấp", "Công an tỉnh") asks for that level's procedure, in scope or not.
        cue_text = f"{folded} {normalize_query(said)}"  # the question as typed and with abbreviations written out
        level = asked_level(cue_text) if cfg.level_cue_penalty else None
        if cfg.use_scope and level != "cap bo":
            fused = fused - cfg.scope_penalty * self._out_of_scope(index)
        if level is not None:
            fused = fused - cfg.level_cue_penalty * (1.0 - self._levels(index)[:, LEVELS.index(level)])
        expansions = expansions + lexicon
        if cfg.use_prior:
            fused = fused + cfg.prior_weight * index.prior
            if cfg.curated_bonus:
                fused = fused + cfg.curated_bonus * self._curated(index)
            present = " " + " ".join(tokens(folded + " " + " ".join(expansions))) + " "
            present += LEVEL_WORDS[level] if level else ""
            asked = asked_actions(query)
            names, matrix = self._qualifiers(index)
            if names:
                penalty = np.zeros(len(names), np.float32)
                is_asked = np.zeros(len(names), np.float32)
                unasked = np.zeros(len(names), np.float32)
                for j, q in enumerate(names):
                    if q.startswith("action:"):
                        (is_asked if q[7:] in asked else unasked)[j] = 1.0
                    elif q == ABROAD:
                        if not any(f" {w} nuoc ngoai " in present for w in ("o", "tai", "ben")):
                            penalty[j] = cfg.qualifier_penalty
                    elif f" {q} " not in present:
                        penalty[j] = cfg.level_penalty if q == "cap tinh" else cfg.qualifier_penalty
                # A title naming several actions ("Cấp lại, đổi, điều chỉnh ...") covers each of them:
                # one asked action earns the bonus, and only titles with none asked are pushed down (once).
                hits = matrix @ is_asked
                actions = np.where(hits > 0, -cfg.action_bonus, cfg.action_penalty * ((matrix @ unasked) > 0))
                fused = fused - matrix @ penalty - actions
        if cfg.applicant_penalty and (who := asker(cue_text)) is not None:
            fused = fused - cfg.applicant_penalty * self._applicants(index)[:, 1 if who == "org" else 0]
        if cfg.trade_penalty and (way := trade_direction(cue_text)) is not None:
            fused = fused - cfg.trade_penalty * self._trade(index)[:, 1 if way == "export" else 0]
        if cfg.title_excess_weight:
            said = f"{folded} {normalize_query(write_out_abbreviations(query))}" if cfg.use_abbreviations else folded
            fused = fused - cfg.title_excess_weight * self._title_excess(index, said, expansions)
        dense = np.zeros(n, np.float32)
        if pending is not None:
            qv = pending.result()
            k = min(cfg.dense_passages, len(index.vectors))
            sims, ids = index.dense_index().search(qv, k)
            floor = float(sims[0, -1])
            doc_sim = np.full(n, floor, np.float32)
            keep = self._kind_mask(index)[ids[0]]
            np.maximum.at(doc_sim, index.owners[ids[0][keep]], sims[0][keep])
            dense = np.clip((doc_sim - cfg.dense_floor) / cfg.dense_span, 0.0, 1.0)
        fused = fused + dense_weight * dense
        words = [t for t in qterms if "_" not in t]
        columns = np.asarray(sorted({index.lexical.vocab[t] for t in words if t in index.lexical.vocab}), np.int64)
        return Scored(lexical, dense, fused.astype(np.float32), len(qterms), columns, len(words), folded,
                      tuple(expansions), accented)

    def query_vector(self, text: str) -> np.ndarray:
        """The ``(1, dim)`` query vector of ``text``, encoded once per text among the last questions."""
        return self.vectors.get(text, lambda t: self.encoder.encode_queries([t])[0])[None, :]

    def search(self, query: str, top_k: int = 5) -> list[Hit]:
        """Best ``top_k`` procedures for a citizen question, with calibrated confidences."""
        self.maybe_reload()
        query = bound_query(query, self.max_query_chars, self.max_query_tokens)
        if not query or not tokens(query) or top_k <= 0:
            return []
        if all(t in STOPWORDS for t in tokens(query)):
            return []
        scored = self.score_all(query)
        if self.reranker is not None:
            return self._reranked(query, scored, top_k, self.reranker)
        fused = scored.fused
        # The confidence of the top hit reads its lead over the runner-up, so at least two are ranked.
        k = min(max(top_k, 2), len(fused))
        if k == 0:
            return []
        top = np.argpartition(-fused, k - 1)[:k] if k < len(fused) else np.arange(len(fused))
        top = top[np.argsort(-fused[top], kind="stable")]
        best = float(fused[top[0]])
        second = float(fused[top[1]]) if len(top) > 1 else best - 1.0
        dense = scored.dense if self.config.use_dense else scored.lexical
        hits: list[Hit] = []
        ceiling = 1.0
        titles = [self.title_cover(scored, int(i)) for i in top[:max(top_k, 2)]] if self.config.calibrated else []
        curated = self._curated(self.index)
        for j, i in enumerate(top[:top_k]):
            if self.config.calibrated:
                rival = 1 if j == 0 and len(top) > 1 else 0
                conf = round(decision.probability(decision.features(
                    dense, scored.lexical, fused, top, j, self.coverage(scored, int(i)), titles[j], titles[rival],
                    self.sibling_overlap(int(i), int(top[rival])) if rival != j else 0.0, float(curated[i]))), 4)
            else:
                conf = self.confidence(float(dense[i]), float(fused[i]) - (second if j == 0 else best))
            ceiling = min(ceiling, conf)  # scores never increase down the ranking
            hits.append(Hit(self.index.docs[i].code, self.index.docs[i].title, ceiling))
        return hits

    def _reranked(self, query: str, scored: Scored, top_k: int, model: rerank.RerankModel) -> list[Hit]:
        """The fused top ``rerank_k`` re-ordered by the learned re-ranker, its probabilities as scores."""
        fused = scored.fused
        k = min(max(top_k, self.config.rerank_k, 2), len(fused))
        if k == 0:
            return []
        top = np.argpartition(-fused, k - 1)[:k] if k < len(fused) else np.arange(len(fused))
        top = top[np.argsort(-fused[top], kind="stable")]
        x = self.rerank_features(query, scored, top)
        probs = model.probabilities(x)
        order = np.argsort(-probs, kind="stable")[:top_k]
        return [Hit(self.index.docs[top[j]].code, self.index.docs[top[j]].title, round(float(probs[j]), 4))
                for j in order]

    def rerank_features(self, query: str, scored: Scored, top: np.ndarray) -> np.ndarray:
        """The re-ranker's features of the fused candidates ``top`` (best first) for ``query``."""
        index = self.index
        words = rerank.QueryWords.of(scored.folded, list(scored.expansions), query, scored.accented)
        cover = [self.coverage(scored, int(i)) for i in top]
        dense = scored.dense if self.config.use_dense else scored.lexical
        return rerank.candidate_features((scored.fused, dense, scored.lexical), top, self._doc_words(index), words,
                                         cover, self._out_of_scope(index), index.prior)

    def decide(self, hits: list[Hit]) -> decision.Decision:
        """Answer, clarify or not found: calibrated thresholds, or the old 0.5 / 0.15 rule when off."""
        if self.config.calibrated:
            return decision.decide(hits, self.answer_threshold, self.clarify_floor)
        return decision.by_margin(hits, self.min_score, self.clarify_margin)

    def confidence(self, dense: float, lead: float) -> float:
        """0..1 confidence from the hit's dense match and its lead over the runner-up (or the top hit).

        Dense similarity is the absolute signal (lexical scores are relative to the best match);
        the lead rewards an unambiguous winner and lowers every non-top hit.
        """
        cfg = self.config
        z = cfg.calib_slope * (dense - cfg.calib_offset) + cfg.calib_margin_slope * min(lead, 0.4)
        return round(1.0 / (1.0 + math.exp(-z)), 4)
