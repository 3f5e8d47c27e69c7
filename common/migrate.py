"""Apply the Alembic migrations to the PostgreSQL state database: ``python -m common.migrate [--url URL]``.

The stores on SQLite need nothing (each file creates its tables on first use); on PostgreSQL every
replica expects the schema to be there, so a deployment runs this once before starting them, and
again after each upgrade (it applies only what is missing).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from common.db_postgres import is_postgres
from common.settings import REPO_ROOT, StorageSettings, load_or_exit

MIGRATIONS = REPO_ROOT / "migrations"


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision``."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, revision)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m common.migrate", description=__doc__)
    parser.add_argument("--url", default="", help="database URL (default: STATE_DB_URL)")
    parser.add_argument("--revision", default="head", help="target revision (default: head)")
    args = parser.parse_args(argv)
    url = args.url or load_or_exit(StorageSettings.from_env).state_db_url
    if not is_postgres(url):
        print("common.migrate: STATE_DB_URL is not a PostgreSQL URL; the SQLite stores need no migration",
              file=sys.stderr)
        return 2
    upgrade(url, args.revision)
    print(f"common.migrate: state database at revision {args.revision}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
