"""audit log: every row names its actor (a key, the bootstrap ADMIN_API_KEY, the CLI)

Revision ID: 0010_audit_actors
Revises: 0009_handover_clearing
Create Date: 2026-11-30 12:00:00

Rows of the bootstrap key and of the CLI had no key id and nothing else to tell them
apart. ``actor`` is ``key`` (with ``api_key_id``), ``bootstrap`` or ``cli``. Existing rows
are filled in from what they hold: a key id is a key, a ``cli:`` request id the CLI, any
other row without a key the bootstrap key (the only other caller without one). The log is
append-only, so its trigger is set aside for that one UPDATE, inside this migration's
transaction.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_audit_actors"
down_revision: str | None = "0009_handover_clearing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("actor", sa.Text(), nullable=True))
    op.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    op.execute(
        "UPDATE audit_log SET actor = CASE"
        " WHEN api_key_id IS NOT NULL THEN 'key'"
        " WHEN request_id LIKE 'cli:%' THEN 'cli'"
        " ELSE 'bootstrap' END"
    )
    op.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
    op.alter_column("audit_log", "actor", nullable=False)
    op.create_check_constraint(
        op.f("ck_audit_log_actor"), "audit_log", "actor IN ('key', 'bootstrap', 'cli')"
    )
    op.create_check_constraint(
        op.f("ck_audit_log_key_matches_actor"),
        "audit_log",
        "(actor = 'key') = (api_key_id IS NOT NULL)",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_audit_log_key_matches_actor"), "audit_log", type_="check")
    op.drop_constraint(op.f("ck_audit_log_actor"), "audit_log", type_="check")
    op.drop_column("audit_log", "actor")
