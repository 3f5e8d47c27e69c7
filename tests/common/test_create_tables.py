"""Tables created on first use survive two processes starting on one database at the same moment."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Column, Connection, Integer, MetaData, Table, event
from sqlalchemy.exc import OperationalError

from common.db import create_tables, make_engine


def _racing_metadata(url: str) -> MetaData:
    """A table that another 'process' creates after ``create_all`` found it missing, before its CREATE."""
    metadata = MetaData()
    table = Table("things", metadata, Column("id", Integer, primary_key=True))
    other = make_engine(url)

    @event.listens_for(table, "before_create")
    def _other_process_wins(*_args: object, **_kw: object) -> None:
        with other.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS things (id INTEGER PRIMARY KEY)")

    return metadata


def test_a_table_created_meanwhile_by_another_process_is_not_an_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'race.db'}"
    engine = make_engine(url)
    create_tables(_racing_metadata(url), engine)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM things").scalar() == 0


def test_plain_create_all_fails_in_that_race(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'race.db'}"
    with pytest.raises(OperationalError, match="already exists"):
        _racing_metadata(url).create_all(make_engine(url))


def test_other_database_errors_still_raise_at_once(tmp_path: Path) -> None:
    metadata = MetaData()
    table = Table("things", metadata, Column("id", Integer, primary_key=True))
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    calls: list[int] = []

    @event.listens_for(table, "before_create")
    def _broken(target: object, connection: Connection, **_kw: object) -> None:
        calls.append(1)
        connection.exec_driver_sql("SELEC 1")

    with pytest.raises(OperationalError, match="syntax error"):
        create_tables(metadata, engine, attempts=3)
    assert calls == [1]
