"""Fixtures of the cluster tests: one throwaway PostgreSQL per session, a fresh migrated database per test."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from common.migrate import upgrade
from tests.cluster.services import Postgres, missing_binaries, start_postgres

_counter = itertools.count()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A PostgreSQL server for the whole session (skipped, with the reason, when it is not installed)."""
    missing = missing_binaries()
    if "postgresql" in missing:
        pytest.skip(f"Debian packages missing: {', '.join(missing)} (requirements/apt.txt; CI installs them)")
    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture
def pg_url(postgres: Postgres) -> str:
    """URL of a new database with every migration applied."""
    url = postgres.create_database(f"t{next(_counter)}")
    upgrade(url)
    return url
