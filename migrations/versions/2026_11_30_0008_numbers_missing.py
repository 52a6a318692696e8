"""numbers can be missing: absent from seven's list, not yet confirmed gone

Revision ID: 0008_numbers_missing
Revises: 0007_operation_write_facts
Create Date: 2026-11-30 10:00:00

A number seven's list leaves out is no longer ``deleted`` at once (which ended its
holder's allocation through the trigger of 0005, so a short list from seven moved numbers
between tenants): it becomes ``missing``, keeping its holder, until a read of the number
or a second sync long enough after the first confirms it gone (app/sync/diff.py).
``missing_since`` is when a sync first missed it, set exactly while the state is
``missing`` (a check holds the two together). Runs record ``missing`` drift.

Downgrading turns missing numbers back into ``active`` (the older sync judges them again
on its next run) and drops the ``missing`` drift items, which the older schema cannot
hold.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_numbers_missing"
down_revision: str | None = "0007_operation_write_facts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATES = "('ordering', 'active', 'deleting', 'deleted', 'failed')"
_STATES_WITH_MISSING = "('ordering', 'active', 'deleting', 'missing', 'deleted', 'failed')"
_KINDS = "('added', 'changed', 'removed')"
_KINDS_WITH_MISSING = "('added', 'changed', 'missing', 'removed')"


def upgrade() -> None:
    op.add_column("numbers", sa.Column("missing_since", sa.DateTime(timezone=True)))
    op.drop_constraint(op.f("ck_numbers_state"), "numbers", type_="check")
    op.create_check_constraint(
        op.f("ck_numbers_state"), "numbers", f"state IN {_STATES_WITH_MISSING}"
    )
    op.create_check_constraint(
        op.f("ck_numbers_missing_since_when_missing"),
        "numbers",
        "(state = 'missing') = (missing_since IS NOT NULL)",
    )
    op.drop_constraint(op.f("ck_sync_drift_kind"), "sync_drift", type_="check")
    op.create_check_constraint(
        op.f("ck_sync_drift_kind"), "sync_drift", f"kind IN {_KINDS_WITH_MISSING}"
    )


def downgrade() -> None:
    op.execute("DELETE FROM sync_drift WHERE kind = 'missing'")
    op.drop_constraint(op.f("ck_sync_drift_kind"), "sync_drift", type_="check")
    op.create_check_constraint(op.f("ck_sync_drift_kind"), "sync_drift", f"kind IN {_KINDS}")
    op.drop_constraint(op.f("ck_numbers_missing_since_when_missing"), "numbers", type_="check")
    op.execute("UPDATE numbers SET state = 'active' WHERE state = 'missing'")
    op.drop_constraint(op.f("ck_numbers_state"), "numbers", type_="check")
    op.create_check_constraint(op.f("ck_numbers_state"), "numbers", f"state IN {_STATES}")
    op.drop_column("numbers", "missing_since")
