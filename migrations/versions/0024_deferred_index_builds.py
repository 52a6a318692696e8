"""deferred_index_builds: indexes of the mirror the first sync left to be built after it

Revision ID: 0024_deferred_index_builds
Revises: 0023_cost_live_reports
Create Date: 2026-12-01 06:10:00

The first sync into the empty mirror drops the secondary indexes of ``numbers`` for its
COPY. It builds the B-trees again in its own transaction, but leaves the two trigram
GIN indexes (``q=`` searches) to ``CREATE INDEX CONCURRENTLY`` after its commit
(``app/sync/indexes.py``). Their definitions are kept here, written in the run's
transaction with the drop, so an index whose build a dead worker never finished is
still known and is built by the next run.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024_deferred_index_builds"
down_revision: str | None = "0023_cost_live_reports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "deferred_index_builds",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column(
            "deferred_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_deferred_index_builds")),
    )


def downgrade() -> None:
    op.drop_table("deferred_index_builds")
