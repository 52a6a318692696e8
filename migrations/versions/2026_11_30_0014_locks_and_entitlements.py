"""deletion locks on numbers; the tenants each pool is open to

Revision ID: 0014_locks_and_entitlements
Revises: 0013_tags
Create Date: 2026-11-30 18:30:00

A number may carry a deletion lock (when, by whom, why): every DELETE of it is refused
until an admin lifts it. A pool is open to every tenant (``all_tenants``) or only to the
tenants ``pool_tenants`` lists. Every pool that exists is open to all, as it was before
this migration, so no tenant loses a pool it allocates from; new pools are too unless
their creator names tenants.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_locks_and_entitlements"
down_revision: str | None = "0013_tags"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("numbers", sa.Column("deletion_locked_at", sa.DateTime(timezone=True)))
    op.add_column("numbers", sa.Column("deletion_locked_by", sa.Text()))
    op.add_column("numbers", sa.Column("deletion_lock_reason", sa.Text()))
    op.create_check_constraint(
        op.f("ck_numbers_deletion_lock_whole"),
        "numbers",
        "(deletion_locked_at IS NULL) = (deletion_locked_by IS NULL)"
        " AND (deletion_locked_at IS NOT NULL OR deletion_lock_reason IS NULL)",
    )
    op.add_column(
        "pools",
        sa.Column("all_tenants", sa.Boolean(), server_default=sa.text("true"), nullable=False),
    )
    op.create_table(
        "pool_tenants",
        sa.Column("pool_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["pool_id"],
            ["pools.id"],
            name=op.f("fk_pool_tenants_pool_id_pools"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_pool_tenants_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pool_id", "tenant_id", name=op.f("pk_pool_tenants")),
    )
    op.create_index(op.f("ix_pool_tenants_tenant_id"), "pool_tenants", ["tenant_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_pool_tenants_tenant_id"), table_name="pool_tenants")
    op.drop_table("pool_tenants")
    op.drop_column("pools", "all_tenants")
    op.drop_constraint(op.f("ck_numbers_deletion_lock_whole"), "numbers", type_="check")
    op.drop_column("numbers", "deletion_lock_reason")
    op.drop_column("numbers", "deletion_locked_by")
    op.drop_column("numbers", "deletion_locked_at")
