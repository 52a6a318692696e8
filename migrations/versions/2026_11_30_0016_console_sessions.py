"""console_sessions: who is signed in to the console (/console)

Revision ID: 0016_console_sessions
Revises: 0015_tenant_limits
Create Date: 2026-11-30 19:00:00

A browser's session holds an opaque random id in its cookie; the row keeps only that id's
SHA-256 digest (a database read does not hand out sessions), the key it was opened with
(``key_id``, null for the bootstrap ``ADMIN_API_KEY``, and that key's digest, so each request
re-checks the key: a revoked or rotated key ends its sessions), the CSRF token its forms
carry and when it expires.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_console_sessions"
down_revision: str | None = "0015_tenant_limits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("id_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("key_id", sa.Uuid(), nullable=True),
        sa.Column("key_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("csrf_token", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"],
            ["api_keys.id"],
            name=op.f("fk_console_sessions_key_id_api_keys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_console_sessions")),
    )
    op.create_index("ix_console_sessions_key_id", "console_sessions", ["key_id"])
    op.create_index("ix_console_sessions_expires_at", "console_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_table("console_sessions")
