"""number_list_indexes: (column, number) for each filter of GET /v1/numbers

Revision ID: 0020_number_list_indexes
Revises: 0019_cost_rollups
Create Date: 2026-11-30 21:15:00

A page filtered by country, state, tenant or pool was a scan of the primary key that
skipped every number of other values (62,000 rows before the first German one of the
benchmark's 100,000, 275 ms); with the number after the filtered column, the page is
the next rows of one range. Each replaces the index on its column alone, which it also
serves.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020_number_list_indexes"
down_revision: str | None = "0019_cost_rollups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("country", "state", "tenant_id", "pool_id")


def upgrade() -> None:
    for column in COLUMNS:
        op.create_index(f"ix_numbers_{column}_number", "numbers", [column, "number"])
        op.drop_index(f"ix_numbers_{column}", table_name="numbers")


def downgrade() -> None:
    for column in COLUMNS:
        op.create_index(f"ix_numbers_{column}", "numbers", [column])
        op.drop_index(f"ix_numbers_{column}_number", table_name="numbers")
