"""cost_live_number_rows: a kept recurring part's report by number, encoded without usage

Revision ID: 0026_cost_live_number_rows
Revises: 0025_cost_live_parts
Create Date: 2026-12-01 13:30:00

The report by number of a live month from a kept recurring part (migration 0025) read
and encoded every one of its ~97,000 rows again after each usage write, when ~12,000
numbers have usage. So each part also keeps its account-wide report by number as the
answers write it with no usage: the rows' JSON (``rows``: each row encoded, comma
separated, at the byte offsets of ``offsets``, in the order of ``keys``) and the exact
sums the totals start from. A report is then these rows with only those of the numbers
with usage this month written afresh and spliced in (``app/costs/splice.py``).

UNLOGGED like the parts: a cache, emptied by a crash with them. The rows are stored
uncompressed (``EXTERNAL``): read whole on every such report.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0026_cost_live_number_rows"
down_revision: str | None = "0025_cost_live_parts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # No foreign key to the part, like its slices: deleted with it (parts.py, live.prune).
    op.execute(
        """
        CREATE UNLOGGED TABLE cost_live_number_rows (
            part bigint NOT NULL,
            numbers integer NOT NULL,
            recurring numeric NOT NULL,
            setup numeric NOT NULL,
            keys bytea NOT NULL,
            offsets bytea NOT NULL,
            rows bytea NOT NULL,
            CONSTRAINT pk_cost_live_number_rows PRIMARY KEY (part)
        )
        """
    )
    for column in ("keys", "offsets", "rows"):
        op.execute(f"ALTER TABLE cost_live_number_rows ALTER COLUMN {column} SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.execute("DROP TABLE cost_live_number_rows")
