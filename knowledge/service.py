"""KnowledgeService: the catalogue plus a searcher, created once when the action server starts."""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import logging
import math
import re
import sys
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any, Protocol

from common.text import normalize_query
from knowledge.config import KnowledgeSettings, get_settings
from knowledge.schema import Procedure
from knowledge.storage import Catalogue

log = logging.getLogger(__name__)

# Words that say nothing about which procedure is meant.
_STOPWORDS = frozenset(
    {
        "thu", "tuc", "lam", "the", "nao", "nhu", "can", "gi", "nhung", "o", "dau", "bao", "lau", "nhieu", "tien",
        "le", "phi", "mat", "cho", "toi", "minh", "em", "anh", "chi", "hoi", "xin", "voi", "va", "cua", "la", "co",
        "khong", "ko", "duoc", "thi", "sao", "a", "a.", "nhe", "oi", "di", "ve", "viec", "nay", "do", "muon",
        "giay", "to", "ho", "so", "nop", "cach", "buoc",
    }
)


@dataclass(frozen=True)
class SearchHit:
    """One search result: a procedure code, its title and a score in 0..1."""

    code: str
    title: str
    score: float


class Searcher(Protocol):
    """What the service needs from a searcher."""

    def search(self, query: str, top_k: int = 5) -> list[Any]:
        """Return hits with ``code``, ``title`` and ``score`` (0..1), best first."""
        ...


def _tokens(text: str) -> list[str]:
    """Folded word tokens of ``text``."""
    return re.findall(r"\w+", normalize_query(text))


class KeywordSearcher:
    """Plain folded-keyword search (IDF-weighted word and word-pair overlap); the offline fallback."""

    min_score = 0.5
    clarify_margin = 0.04

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

    def search(self, query: str, top_k: int = 5) -> list[SearchHit]:
        """Return the best ``top_k`` procedures for ``query``."""
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
                scored.append(SearchHit(code, title, round(score, 4)))
        scored.sort(key=lambda hit: (-hit.score, len(hit.title)))
        return scored[:top_k]


class KnowledgeService:
    """Answers questions from the catalogue; safe to share between threads."""

    def __init__(
        self,
        catalogue: Catalogue,
        searcher: Searcher | None = None,
        settings: KnowledgeSettings | None = None,
    ) -> None:
        """Wrap ``catalogue``; without ``searcher`` the keyword fallback is used (rebuilt on edits)."""
        self.catalogue = catalogue
        self.settings = settings or get_settings()
        self._searcher = searcher
        self._fallback: KeywordSearcher | None = None
        self._fallback_revision = -1
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: KnowledgeSettings | None = None) -> KnowledgeService:
        """Open the catalogue and load the semantic searcher if it is built (else the fallback)."""
        settings = settings or get_settings()
        catalogue = Catalogue(settings.catalogue_db_url)
        return cls(catalogue, load_searcher(settings, catalogue), settings)

    @property
    def min_score(self) -> float:
        """Below this top score the bot says it found nothing."""
        if self.settings.min_score is not None:
            return self.settings.min_score
        if self._searcher is None:
            return KeywordSearcher.min_score
        return _threshold(self._searcher, "min_score", "NOT_FOUND_THRESHOLD", 0.35)

    @property
    def clarify_margin(self) -> float:
        """Candidates within this distance of the best one make the bot ask which one is meant."""
        if self.settings.clarify_margin is not None:
            return self.settings.clarify_margin
        if self._searcher is None:
            return KeywordSearcher.clarify_margin
        return _threshold(self._searcher, "clarify_margin", "CLOSE_MARGIN", 0.15)

    @property
    def semantic(self) -> bool:
        """True when the semantic searcher (not the keyword fallback) is in use."""
        return self._searcher is not None

    def _active_searcher(self) -> Searcher:
        """Return the semantic searcher, or the fallback rebuilt when the catalogue changed."""
        if self._searcher is not None:
            return self._searcher
        revision = self.catalogue.revision()
        with self._lock:
            if self._fallback is None or revision != self._fallback_revision:
                self._fallback = KeywordSearcher(self.catalogue.all())
                self._fallback_revision = revision
            return self._fallback

    def search(self, query: str, top_k: int = 5) -> list[SearchHit]:
        """Search, dropping hits for procedures that were retired or deleted since indexing."""
        try:
            raw = self._active_searcher().search(query, top_k=top_k + 3)
        except Exception:  # a broken index must not break the conversation
            log.exception("search failed; using keyword fallback")
            self._searcher = None
            raw = self._active_searcher().search(query, top_k=top_k + 3)
        hits = [SearchHit(str(h.code), str(getattr(h, "title", "")), float(h.score)) for h in raw]
        live = self.catalogue.get_many(h.code for h in hits)
        result = []
        for hit in hits:
            procedure = live.get(hit.code)
            if procedure is not None and not procedure.retired:
                result.append(SearchHit(hit.code, procedure.title, hit.score))
        return result[:top_k]

    def get(self, code: str) -> Procedure | None:
        """Read a live procedure from storage (so edits show at once); None if unknown or retired."""
        procedure = self.catalogue.get(code)
        return None if procedure is None or procedure.retired else procedure

    def log_unanswered(
        self,
        text: str,
        channel: str = "",
        sender_id: str = "",
        best: SearchHit | None = None,
    ) -> int:
        """Record a question the bot could not answer (sender id is stored hashed)."""
        return self.catalogue.log_unanswered(
            text,
            channel=channel,
            sender_id=sender_id,
            best_code=best.code if best else None,
            best_score=best.score if best else None,
        )


def load_searcher(settings: KnowledgeSettings, catalogue: Catalogue) -> Searcher | None:
    """Load the semantic searcher over ``<data dir>/index`` when it is built; else None (fallback)."""
    if importlib.util.find_spec("knowledge.search") is None:
        return None
    try:
        module = importlib.import_module("knowledge.search")
        searcher_cls = module.ProcedureSearcher
        loader = getattr(searcher_cls, "load", None)
        if callable(loader):
            return loader(settings.data_dir)  # type: ignore[no-any-return]
        from knowledge.index import IndexStore

        store = IndexStore(settings.data_dir / "index")
        if store.current_name() is None:
            log.warning("no search index under %s; using keyword fallback (run: python -m knowledge build)",
                        store.root)
            return None
        return searcher_cls(store)  # type: ignore[no-any-return]
    except Exception:  # model missing, index unreadable, ...: answer with the fallback
        log.warning("semantic search unavailable; using keyword fallback", exc_info=True)
        return None


def _threshold(searcher: object, attribute: str, module_constant: str, default: float) -> float:
    """A searcher's threshold: its attribute, else its module's constant, else ``default``."""
    value = getattr(searcher, attribute, None)
    if value is None:
        module = sys.modules.get(type(searcher).__module__)
        value = getattr(module, module_constant, None)
    return float(default if value is None else value)


_shared_lock = threading.Lock()
_shared: KnowledgeService | None = None


def shared_service() -> KnowledgeService:
    """The process-wide service: every action that searches uses one catalogue and one loaded model."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = KnowledgeService.from_settings()
        return _shared
