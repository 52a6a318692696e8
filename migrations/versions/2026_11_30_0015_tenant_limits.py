"""tenant limits, and orders awaiting an admin's approval above the budget

Revision ID: 0015_tenant_limits
Revises: 0014_locks_and_entitlements
Create Date: 2026-11-30 18:30:00

A tenant's limits are columns of its row (NULL: no limit): ``limit_max_numbers``,
``limit_monthly_budget`` (EUR), ``limit_orders_per_day`` and ``over_budget`` (what an order
beyond the budget becomes: refused, or an operation ``awaiting_approval``). An order
operation keeps ``month_charge``, what it was priced to add to its month's cash charges,
so orders not yet carried out count against the budget before seven has quoted their fees.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_tenant_limits"
down_revision: str | None = "0014_locks_and_entitlements"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = ("queued", "running", "succeeded", "failed")
NEW_STATUSES = (*STATUSES, "awaiting_approval")
EVENT_TYPES = (
    "operation.succeeded",
    "operation.failed",
    "number.ordered",
    "number.updated",
    "number.deleting",
    "number.deleted",
    "number.missing",
    "allocation.granted",
    "allocation.released",
    "pool.exhausted",
    "sync.drift",
    "message.received",
    "endpoint.disabled",
    "ping",
)
NEW_EVENT_TYPES = (*EVENT_TYPES, "operation.awaiting_approval", "operation.approved")


def _one_of(values: Sequence[str]) -> str:
    return "(" + ", ".join(f"'{value}'" for value in values) + ")"


def _replace_check(table: str, column: str, values: Sequence[str]) -> None:
    name = op.f(f"ck_{table}_{column}")
    op.drop_constraint(name, table, type_="check")
    op.create_check_constraint(name, table, f"{column} IN {_one_of(values)}")


def upgrade() -> None:
    op.add_column("tenants", sa.Column("limit_max_numbers", sa.Integer(), nullable=True))
    op.add_column("tenants", sa.Column("limit_monthly_budget", sa.Numeric(12, 4), nullable=True))
    op.add_column("tenants", sa.Column("limit_orders_per_day", sa.Integer(), nullable=True))
    op.add_column(
        "tenants",
        sa.Column("over_budget", sa.Text(), server_default="refuse", nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_tenants_limits_not_negative"),
        "tenants",
        "limit_max_numbers >= 0 AND limit_monthly_budget >= 0 AND limit_orders_per_day >= 0",
    )
    op.create_check_constraint(
        op.f("ck_tenants_over_budget"), "tenants", "over_budget IN ('refuse', 'approve')"
    )
    op.add_column("operations", sa.Column("month_charge", sa.Numeric(12, 4), nullable=True))
    _replace_check("operations", "status", NEW_STATUSES)
    _replace_check("events", "type", NEW_EVENT_TYPES)


def downgrade() -> None:
    op.execute(
        "UPDATE operations SET status = 'failed', error_code = 'approval_expired'"
        " WHERE status = 'awaiting_approval'"
    )
    op.execute(
        "DELETE FROM events WHERE type IN ('operation.awaiting_approval', 'operation.approved')"
    )
    _replace_check("events", "type", EVENT_TYPES)
    _replace_check("operations", "status", STATUSES)
    op.drop_column("operations", "month_charge")
    op.drop_constraint(op.f("ck_tenants_over_budget"), "tenants", type_="check")
    op.drop_constraint(op.f("ck_tenants_limits_not_negative"), "tenants", type_="check")
    op.drop_column("tenants", "over_budget")
    op.drop_column("tenants", "limit_orders_per_day")
    op.drop_column("tenants", "limit_monthly_budget")
    op.drop_column("tenants", "limit_max_numbers")
