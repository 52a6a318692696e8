"""operations record when seven accepted a write and when an unknown one may be settled

Revision ID: 0007_operation_write_facts
Revises: 0006_numbers_change_notices
Create Date: 2026-11-30 09:00:00

``accepted_at``: seven clearly accepted the paid or destructive call (an order, a
deletion); committed the moment its answer arrives, so no later step (the read-back,
the friendly name) can cause the call to be sent again. ``settle_after``: an unsettled
write (``submitted_at`` set, no answer that decides it) is read back from seven no
earlier than this, because seven may still be carrying it out.

An order accepted by an earlier release kept that fact in ``result.accepted``; it is
moved into the column so such an operation is not ordered again after the upgrade.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_operation_write_facts"
down_revision: str | None = "0006_numbers_change_notices"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("operations", sa.Column("settle_after", sa.DateTime(timezone=True)))
    op.add_column("operations", sa.Column("accepted_at", sa.DateTime(timezone=True)))
    op.execute(
        "UPDATE operations SET accepted_at = coalesce(submitted_at, updated_at)"
        " WHERE status IN ('queued', 'running') AND (result ->> 'accepted')::boolean"
    )


def downgrade() -> None:
    op.execute(
        "UPDATE operations SET result = coalesce(result, '{}'::jsonb) || '{\"accepted\": true}'"
        " WHERE status IN ('queued', 'running') AND accepted_at IS NOT NULL"
    )
    op.drop_column("operations", "accepted_at")
    op.drop_column("operations", "settle_after")
