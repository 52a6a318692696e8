"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-27 17:05:56.272213
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Trigram indexes serve the `q` substring filter on number and friendly name.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table(
        "pools",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column(
            "features", postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'"), nullable=False
        ),
        sa.Column("cooldown_days", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("cooldown_days >= 0", name=op.f("ck_pools_cooldown_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pools")),
        sa.UniqueConstraint("name", name=op.f("uq_pools_name")),
    )
    op.create_table(
        "tenants",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenants")),
        sa.UniqueConstraint("name", name=op.f("uq_tenants_name")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("prefix", sa.Text(), nullable=False),
        sa.Column("key_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(scope = 'admin') = (tenant_id IS NULL)", name=op.f("ck_api_keys_tenant_matches_scope")
        ),
        sa.CheckConstraint("scope IN ('admin', 'tenant')", name=op.f("ck_api_keys_scope")),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_api_keys_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_index(op.f("ix_api_keys_tenant_id"), "api_keys", ["tenant_id"], unique=False)
    op.create_table(
        "operations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="queued", nullable=False),
        sa.Column("number", sa.Text(), nullable=True),
        sa.Column(
            "params",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("error_code", sa.Text(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("idempotency_key", sa.Text(), nullable=True),
        sa.Column("request_hash", sa.Text(), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=True),
        sa.Column("api_key_id", sa.Uuid(), nullable=True),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('order', 'update', 'delete', 'sync')", name=op.f("ck_operations_kind")
        ),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed')",
            name=op.f("ck_operations_status"),
        ),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_keys.id"],
            name=op.f("fk_operations_api_key_id_api_keys"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_operations_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operations")),
    )
    op.create_index(
        "ix_operations_kind_created_at", "operations", ["kind", "created_at"], unique=False
    )
    op.create_index(op.f("ix_operations_number"), "operations", ["number"], unique=False)
    op.create_index(
        "ix_operations_status_updated_at", "operations", ["status", "updated_at"], unique=False
    )
    op.create_index(op.f("ix_operations_tenant_id"), "operations", ["tenant_id"], unique=False)
    op.create_index(
        "uq_operations_idempotency_key",
        "operations",
        ["idempotency_key"],
        unique=True,
        postgresql_where=sa.text("idempotency_key IS NOT NULL"),
    )
    op.create_index(
        "uq_operations_number_in_flight",
        "operations",
        ["number"],
        unique=True,
        postgresql_where=sa.text(
            "status IN ('queued', 'running') AND kind IN ('order', 'update', 'delete')"
        ),
    )
    op.create_table(
        "numbers",
        sa.Column("number", sa.Text(), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("friendly_name", sa.Text(), server_default="", nullable=False),
        sa.Column("payment_interval", sa.Text(), nullable=False),
        sa.Column("fee_setup", sa.Numeric(precision=12, scale=4), nullable=True),
        sa.Column("fee_basic_charge", sa.Numeric(precision=12, scale=4), nullable=True),
        sa.Column("fee_sms_mo", sa.Numeric(precision=12, scale=4), nullable=True),
        sa.Column("fee_voice_mo", sa.Numeric(precision=12, scale=4), nullable=True),
        sa.Column("feature_sms", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("feature_a2p_sms", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("feature_voice", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "forward_sms_mo",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("created", sa.Text(), nullable=True),
        sa.Column("expires", sa.Text(), nullable=True),
        sa.Column("seven_created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("seven_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=True),
        sa.Column("pool_id", sa.Uuid(), nullable=True),
        sa.Column("pending_operation_id", sa.Uuid(), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "inserted_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "payment_interval IN ('monthly', 'annually')", name=op.f("ck_numbers_payment_interval")
        ),
        sa.CheckConstraint(
            "state IN ('ordering', 'active', 'deleting', 'deleted', 'failed')",
            name=op.f("ck_numbers_state"),
        ),
        sa.ForeignKeyConstraint(
            ["pending_operation_id"],
            ["operations.id"],
            name=op.f("fk_numbers_pending_operation_id_operations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(["pool_id"], ["pools.id"], name=op.f("fk_numbers_pool_id_pools")),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_numbers_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_numbers")),
    )
    op.create_index(op.f("ix_numbers_country"), "numbers", ["country"], unique=False)
    op.create_index(
        "ix_numbers_friendly_name_trgm",
        "numbers",
        ["friendly_name"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"friendly_name": "gin_trgm_ops"},
    )
    op.create_index(
        "ix_numbers_number_trgm",
        "numbers",
        ["number"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"number": "gin_trgm_ops"},
    )
    op.create_index(op.f("ix_numbers_pool_id"), "numbers", ["pool_id"], unique=False)
    op.create_index(op.f("ix_numbers_state"), "numbers", ["state"], unique=False)
    op.create_index(op.f("ix_numbers_tenant_id"), "numbers", ["tenant_id"], unique=False)
    op.create_table(
        "sync_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("operation_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column(
            "started_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fetched", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("added", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("changed", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("removed", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("unchanged", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed')",
            name=op.f("ck_sync_runs_status"),
        ),
        sa.ForeignKeyConstraint(
            ["operation_id"],
            ["operations.id"],
            name=op.f("fk_sync_runs_operation_id_operations"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_runs")),
    )
    op.create_index(op.f("ix_sync_runs_operation_id"), "sync_runs", ["operation_id"], unique=False)
    op.create_index(op.f("ix_sync_runs_started_at"), "sync_runs", ["started_at"], unique=False)
    op.create_table(
        "allocations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Text(), nullable=False),
        sa.Column("pool_id", sa.Uuid(), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column(
            "allocated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("available_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "released_at IS NULL OR released_at >= allocated_at",
            name=op.f("ck_allocations_released_after_allocated"),
        ),
        sa.ForeignKeyConstraint(
            ["number"], ["numbers.number"], name=op.f("fk_allocations_number_numbers")
        ),
        sa.ForeignKeyConstraint(
            ["pool_id"], ["pools.id"], name=op.f("fk_allocations_pool_id_pools")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_allocations_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocations")),
    )
    op.create_index(op.f("ix_allocations_number"), "allocations", ["number"], unique=False)
    op.create_index(op.f("ix_allocations_pool_id"), "allocations", ["pool_id"], unique=False)
    op.create_index(op.f("ix_allocations_tenant_id"), "allocations", ["tenant_id"], unique=False)
    op.create_index(
        "uq_allocations_number_open",
        "allocations",
        ["number"],
        unique=True,
        postgresql_where=sa.text("released_at IS NULL"),
    )
    op.create_table(
        "sync_drift",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("before", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("after", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.CheckConstraint(
            "kind IN ('added', 'changed', 'removed')", name=op.f("ck_sync_drift_kind")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["sync_runs.id"],
            name=op.f("fk_sync_drift_run_id_sync_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_drift")),
    )
    op.create_index(op.f("ix_sync_drift_run_id"), "sync_drift", ["run_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_sync_drift_run_id"), table_name="sync_drift")
    op.drop_table("sync_drift")
    op.drop_index(
        "uq_allocations_number_open",
        table_name="allocations",
        postgresql_where=sa.text("released_at IS NULL"),
    )
    op.drop_index(op.f("ix_allocations_tenant_id"), table_name="allocations")
    op.drop_index(op.f("ix_allocations_pool_id"), table_name="allocations")
    op.drop_index(op.f("ix_allocations_number"), table_name="allocations")
    op.drop_table("allocations")
    op.drop_index(op.f("ix_sync_runs_started_at"), table_name="sync_runs")
    op.drop_index(op.f("ix_sync_runs_operation_id"), table_name="sync_runs")
    op.drop_table("sync_runs")
    op.drop_index(op.f("ix_numbers_tenant_id"), table_name="numbers")
    op.drop_index(op.f("ix_numbers_state"), table_name="numbers")
    op.drop_index(op.f("ix_numbers_pool_id"), table_name="numbers")
    op.drop_index(
        "ix_numbers_number_trgm",
        table_name="numbers",
        postgresql_using="gin",
        postgresql_ops={"number": "gin_trgm_ops"},
    )
    op.drop_index(
        "ix_numbers_friendly_name_trgm",
        table_name="numbers",
        postgresql_using="gin",
        postgresql_ops={"friendly_name": "gin_trgm_ops"},
    )
    op.drop_index(op.f("ix_numbers_country"), table_name="numbers")
    op.drop_table("numbers")
    op.drop_index(
        "uq_operations_number_in_flight",
        table_name="operations",
        postgresql_where=sa.text(
            "status IN ('queued', 'running') AND kind IN ('order', 'update', 'delete')"
        ),
    )
    op.drop_index(
        "uq_operations_idempotency_key",
        table_name="operations",
        postgresql_where=sa.text("idempotency_key IS NOT NULL"),
    )
    op.drop_index(op.f("ix_operations_tenant_id"), table_name="operations")
    op.drop_index("ix_operations_status_updated_at", table_name="operations")
    op.drop_index(op.f("ix_operations_number"), table_name="operations")
    op.drop_index("ix_operations_kind_created_at", table_name="operations")
    op.drop_table("operations")
    op.drop_index(op.f("ix_api_keys_tenant_id"), table_name="api_keys")
    op.drop_table("api_keys")
    op.drop_table("tenants")
    op.drop_table("pools")
    # pg_trgm stays: other schemas of the database may use it.
