"""KnowledgeService: the catalogue plus a searcher, created once when the action server starts."""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from common.settings import get_settings
from knowledge import decision
from knowledge.bounds import LONG_QUERY_CHARS, SearchPool, bound_query, is_noise
from knowledge.config import KnowledgeSettings
from knowledge.index import IndexStore
from knowledge.keyword_search import KeywordSearcher
from knowledge.schema import Procedure
from knowledge.search import Hit, ProcedureSearcher, SearchConfig
from knowledge.store import Catalogue

log = logging.getLogger(__name__)


class Searcher(Protocol):
    """What the service needs from a searcher: hits best first, and its own thresholds."""

    min_score: float
    clarify_margin: float
    max_query_chars: int
    max_query_tokens: int

    def search(self, query: str, top_k: int = 5) -> list[Hit]:
        """Return hits with ``code``, ``title`` and ``score`` (0..1), best first."""
        ...


class KnowledgeService:
    """Answers questions from the catalogue; safe to share between threads."""

    def __init__(
        self,
        catalogue: Catalogue,
        searcher: Searcher | None = None,
        settings: KnowledgeSettings | None = None,
    ) -> None:
        """Wrap ``catalogue``; without ``searcher`` the keyword searcher is used (rebuilt on edits)."""
        self.catalogue = catalogue
        self.settings = settings or get_settings(KnowledgeSettings)
        self._searcher = searcher
        self._bound(searcher)
        self._fallback: KeywordSearcher | None = None
        self._fallback_revision = -1
        self._lock = threading.Lock()
        self._pools: dict[bool, SearchPool] = {}

    @classmethod
    def from_settings(cls, settings: KnowledgeSettings | None = None) -> KnowledgeService:
        """Open the catalogue and load the hybrid searcher if its index is built (else keyword search)."""
        settings = settings or get_settings(KnowledgeSettings)
        catalogue = Catalogue(settings.catalogue_db_url)
        return cls(catalogue, load_searcher(settings, catalogue), settings)

    @property
    def min_score(self) -> float:
        """Below this top score the bot says it found nothing."""
        if self.settings.min_score is not None:
            return self.settings.min_score
        return (self._searcher or KeywordSearcher).min_score

    @property
    def clarify_margin(self) -> float:
        """Candidates within this distance of the best one make the bot ask which one is meant."""
        if self.settings.clarify_margin is not None:
            return self.settings.clarify_margin
        return (self._searcher or KeywordSearcher).clarify_margin

    def index_version(self, refresh: bool = False) -> str | None:
        """The index version served (``v3``; None on keyword search), first swapping in a newer one if ``refresh``."""
        searcher = self._searcher
        if not isinstance(searcher, ProcedureSearcher):
            return None
        if refresh:
            searcher.maybe_reload(force=True)
        return searcher.version

    @property
    def semantic(self) -> bool:
        """True when the hybrid searcher (not keyword search) is in use."""
        return self._searcher is not None

    def _active_searcher(self) -> Searcher:
        """Return the hybrid searcher, or the keyword searcher rebuilt when the catalogue changed."""
        if self._searcher is not None:
            return self._searcher
        revision = self.catalogue.revision()
        with self._lock:
            if self._fallback is None or revision != self._fallback_revision:
                self._fallback = KeywordSearcher(self.catalogue.all())
                self._bound(self._fallback)
                self._fallback_revision = revision
            return self._fallback

    def _bound(self, searcher: Searcher | None) -> None:
        """Give ``searcher`` the configured query bounds."""
        if searcher is not None:
            searcher.max_query_chars = self.settings.query_max_chars
            searcher.max_query_tokens = self.settings.query_max_tokens
            for name in ("answer_threshold", "clarify_floor"):
                value = getattr(self.settings, name)
                if value is not None and hasattr(searcher, name):
                    setattr(searcher, name, value)

    def decide(self, hits: list[Hit]) -> decision.Decision:
        """Answer, ask which procedure (2–4 candidates) or not found.

        The searcher's calibrated policy when it has one, else one hit clearing ``min_score`` within
        ``clarify_margin`` of the best.
        """
        searcher = self._active_searcher()
        decide = getattr(searcher, "decide", None)
        if callable(decide):
            return decide(hits)  # type: ignore[no-any-return]
        return decision.by_margin(hits, self.min_score, self.clarify_margin)

    @staticmethod
    def is_long(question: str) -> bool:
        """True for a question longer than any real one: it searches in the long lane."""
        return len(question.strip()) > LONG_QUERY_CHARS

    def pool(self, question: str = "") -> SearchPool:
        """The bounded thread pool searches for ``question`` run in: one for short, one for long questions."""
        s = self.settings
        long = self.is_long(question)
        with self._lock:
            if long not in self._pools:
                if long:
                    pool = SearchPool(s.long_search_workers, s.long_search_queue, s.search_deadline,
                                      s.long_search_interval)
                else:
                    pool = SearchPool(s.search_workers, s.search_queue, s.search_deadline)
                self._pools[long] = pool
            return self._pools[long]

    def is_noise(self, question: str) -> bool:
        """True when ``question`` is too long or too little made of words to be searched."""
        return is_noise(question, self.settings.question_max_chars)

    def search(self, query: str, top_k: int = 5) -> list[Hit]:
        """Search with the query cut to its bounds, dropping procedures retired or deleted since indexing."""
        query = bound_query(query, self.settings.query_max_chars, self.settings.query_max_tokens)
        try:
            raw = self._active_searcher().search(query, top_k=top_k + 3)
        except Exception:  # a broken index must not break the conversation
            log.exception("search failed; using keyword search from now on")
            self._searcher = None
            raw = self._active_searcher().search(query, top_k=top_k + 3)
        live = self.catalogue.get_many(h.code for h in raw)
        result = []
        for hit in raw:
            procedure = live.get(hit.code)
            if procedure is not None and not procedure.retired:
                result.append(Hit(hit.code, procedure.title, float(hit.score)))
        return result[:top_k]

    def get(self, code: str) -> Procedure | None:
        """Read a live procedure from storage (so edits show at once); None if unknown or retired."""
        procedure = self.catalogue.get(code)
        return None if procedure is None or procedure.retired else procedure


def load_searcher(settings: KnowledgeSettings, catalogue: Catalogue) -> Searcher | None:
    """The hybrid searcher over ``<data dir>/index`` when it is built; else None (keyword search)."""
    store = IndexStore(settings.data_dir / "index")
    if store.current_name() is None:
        log.warning("no search index under %s; using keyword search (run: python -m knowledge build)", store.root)
        return None
    try:
        levels = tuple(lv.strip() for lv in settings.scope_levels.split(",") if lv.strip())
        return ProcedureSearcher(store, config=SearchConfig(scope_levels=levels, use_reranker=settings.reranker))
    except Exception:  # model missing, index unreadable, ...: answer with keyword search
        log.warning("hybrid search unavailable; using keyword search", exc_info=True)
        return None


_shared_lock = threading.Lock()
_shared: KnowledgeService | None = None


def shared_service() -> KnowledgeService:
    """The process-wide service: every action that searches uses one catalogue and one loaded model."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = KnowledgeService.from_settings()
        return _shared
