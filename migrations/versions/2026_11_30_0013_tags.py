"""tags: key -> value labels on numbers and tenants

Revision ID: 0013_tags
Revises: 0012_bulk_operations
Create Date: 2026-11-30 18:30:00

``numbers.tags`` and ``tenants.tags`` are JSON objects of string to string (checked by the
API, app.lib.tags). The GIN index on ``numbers.tags`` serves ``GET /v1/numbers?tag=``
(containment for ``key:value``, key existence for ``key``). The cost report groups by
tag through a join per number and holder, which the primary keys serve.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013_tags"
down_revision: str | None = "0012_bulk_operations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("numbers", "tenants"):
        op.add_column(
            table,
            sa.Column(
                "tags",
                postgresql.JSONB(),
                nullable=False,
                server_default=sa.text("'{}'::jsonb"),
            ),
        )
        op.create_check_constraint(
            op.f(f"ck_{table}_tags_object"), table, "jsonb_typeof(tags) = 'object'"
        )
    op.create_index("ix_numbers_tags", "numbers", ["tags"], postgresql_using="gin")


def downgrade() -> None:
    op.drop_index("ix_numbers_tags", table_name="numbers")
    for table in ("tenants", "numbers"):
        op.drop_constraint(op.f(f"ck_{table}_tags_object"), table)
        op.drop_column(table, "tags")
