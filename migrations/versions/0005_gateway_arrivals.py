"""The gateway's per-sender arrival counts: the per-minute flood limit holds across replicas."""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``gateway.arrivals``."""
    op.execute(
        "CREATE TABLE IF NOT EXISTS gateway.arrivals (channel TEXT NOT NULL, sender TEXT NOT NULL,"
        " win BIGINT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (channel, sender, win))"
    )


def downgrade() -> None:
    """Drop ``gateway.arrivals``."""
    op.execute("DROP TABLE gateway.arrivals")
