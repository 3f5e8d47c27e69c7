"""Fixtures for knowledge tests: a temporary data dir and catalogue, never var/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from common.settings import get_settings
from knowledge.config import KnowledgeSettings
from knowledge.store import Catalogue

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "dichvucong"
CRAWL = SHARED / "tthc_raw.jsonl.gz"
LISTS = SHARED / "lists"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point TTHC_DATA_DIR at a temporary directory."""
    monkeypatch.setenv("TTHC_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CATALOGUE_DB_URL", raising=False)
    yield tmp_path


@pytest.fixture
def catalogue(data_dir: Path) -> Iterator[Catalogue]:
    """An empty catalogue in the temporary data dir."""
    cat = Catalogue(get_settings(KnowledgeSettings).catalogue_db_url)
    yield cat
    cat.close()


@pytest.fixture(scope="session")
def crawl_records() -> list[dict]:
    """Every raw record of the shared portal crawl (skips when it is not there)."""
    import gzip
    import json

    if not CRAWL.is_file():
        pytest.skip("shared crawl not available")
    with gzip.open(CRAWL, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


@pytest.fixture(scope="session")
def crawl_path() -> Path:
    """Path of the shared portal crawl."""
    if not CRAWL.is_file():
        pytest.skip("shared crawl not available")
    return CRAWL


@pytest.fixture(scope="session")
def lists_dir() -> Path:
    """Directory of the portal's xlsx list exports."""
    if not LISTS.is_dir():
        pytest.skip("shared xlsx lists not available")
    return LISTS
