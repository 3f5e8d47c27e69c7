"""Alembic environment: applies the migrations to the database ``python -m common.migrate`` names."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from common.db_postgres import with_driver

url = context.config.get_main_option("sqlalchemy.url")
if not url:
    raise SystemExit("no database URL: set STATE_DB_URL or pass --url")
engine = create_engine(with_driver(url))
with engine.connect() as connection:
    context.configure(connection=connection, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
