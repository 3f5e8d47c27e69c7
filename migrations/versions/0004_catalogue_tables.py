"""The catalogue (knowledge/store.py) and the unanswered inbox (desk/unanswered.py) in the public schema.

Their SQLAlchemy tables were created by ``create_all`` on first use; from this revision the schema is
Alembic's (``IF NOT EXISTS``: a database where a replica created them already is brought under it as is).
With ``CATALOGUE_DB_URL`` naming another database, run ``python -m common.migrate --url`` on that one too.
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = "TIMESTAMP WITH TIME ZONE NOT NULL"
STATEMENTS = [
    "CREATE TABLE IF NOT EXISTS public.procedures (code VARCHAR(64) PRIMARY KEY, title TEXT NOT NULL,"
    f" field TEXT NOT NULL, document TEXT NOT NULL, retired BOOLEAN NOT NULL, updated_at {TS})",
    "CREATE TABLE IF NOT EXISTS public.procedure_versions (id SERIAL PRIMARY KEY, code VARCHAR(64) NOT NULL,"
    f" document TEXT, revision INTEGER NOT NULL, changed_at {TS}, source VARCHAR(200) NOT NULL)",
    "CREATE INDEX IF NOT EXISTS ix_procedure_versions_code ON public.procedure_versions (code)",
    "CREATE TABLE IF NOT EXISTS public.catalogue_state (key VARCHAR(64) PRIMARY KEY, value INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS public.unanswered_questions (id SERIAL PRIMARY KEY, text TEXT NOT NULL,"
    " folded_text TEXT NOT NULL, channel VARCHAR(32) NOT NULL, sender_hash VARCHAR(64) NOT NULL,"
    f" created_at {TS}, best_code VARCHAR(64), best_score DOUBLE PRECISION, status VARCHAR(16) NOT NULL)",
]


def upgrade() -> None:
    """Create the catalogue's and the unanswered inbox's tables unless they exist."""
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    """Drop them (the catalogue can be imported again; unanswered questions are lost)."""
    op.execute("DROP TABLE public.unanswered_questions, public.catalogue_state, public.procedure_versions,"
               " public.procedures")
