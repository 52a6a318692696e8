"""bulk operations: bulk_order and bulk_update parents, and each child's parent_id

Revision ID: 0012_bulk_operations
Revises: 0011_events
Create Date: 2026-11-30 18:15:00

A bulk order or bulk update is an operation of its own whose children are ordinary
``order`` and ``update`` operations pointing at it (``parent_id``); the parent's progress
is counted from them (app.bulk). The partial index serves those counts and
``GET /v1/operations?parent=``; rows without a parent (nearly all) stay out of it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_bulk_operations"
down_revision: str | None = "0011_events"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KINDS = "('order', 'update', 'delete', 'sync')"
_KINDS_WITH_BULK = "('order', 'update', 'delete', 'sync', 'bulk_order', 'bulk_update')"


def upgrade() -> None:
    op.drop_constraint(op.f("ck_operations_kind"), "operations", type_="check")
    op.create_check_constraint(
        op.f("ck_operations_kind"), "operations", f"kind IN {_KINDS_WITH_BULK}"
    )
    op.add_column("operations", sa.Column("parent_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_operations_parent_id_operations"),
        "operations",
        "operations",
        ["parent_id"],
        ["id"],
    )
    op.create_index(
        "ix_operations_parent_id",
        "operations",
        ["parent_id"],
        postgresql_where=sa.text("parent_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_operations_parent_id", table_name="operations")
    op.drop_constraint(op.f("fk_operations_parent_id_operations"), "operations", type_="foreignkey")
    op.drop_column("operations", "parent_id")
    op.execute("DELETE FROM operations WHERE kind IN ('bulk_order', 'bulk_update')")
    op.drop_constraint(op.f("ck_operations_kind"), "operations", type_="check")
    op.create_check_constraint(op.f("ck_operations_kind"), "operations", f"kind IN {_KINDS}")
