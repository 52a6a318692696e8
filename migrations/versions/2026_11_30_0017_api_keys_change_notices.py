"""a change to an API key announces itself on the api_keys_changed channel

Revision ID: 0017_api_keys_change_notices
Revises: 0016_console_sessions
Create Date: 2026-11-30 21:00:00

Each API process keeps the stored keys it has seen in memory (app.lib.key_cache) and
drops one when PostgreSQL says it changed: on commit of an UPDATE of a key's digest,
scope, tenant or revocation, or a DELETE (a tenant's deletion cascades here), a NOTIFY
on ``api_keys_changed`` names the key's old digest in hex; TRUNCATE says ``*``. The
throttled ``last_used_at`` write changes none of these and says nothing, so it does not
empty every process's cache once a minute. Row level: keys change one or a few at a
time, and the digest is what the caches are keyed by.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017_api_keys_change_notices"
down_revision: str | None = "0016_console_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What a cached principal is made of (app.lib.auth._stored_principal).
_PRINCIPAL = ("key_hash", "scope", "tenant_id", "revoked_at")
_TRIGGERS = {
    "api_keys_notify_update": (
        "AFTER UPDATE ON api_keys FOR EACH ROW WHEN (({old}) IS DISTINCT FROM ({new}))".format(
            old=", ".join(f"OLD.{column}" for column in _PRINCIPAL),
            new=", ".join(f"NEW.{column}" for column in _PRINCIPAL),
        )
    ),
    "api_keys_notify_delete": "AFTER DELETE ON api_keys FOR EACH ROW",
    "api_keys_notify_truncate": "AFTER TRUNCATE ON api_keys FOR EACH STATEMENT",
}


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION notify_api_keys_changed() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'TRUNCATE' THEN
                PERFORM pg_notify('api_keys_changed', '*');
            ELSE
                PERFORM pg_notify('api_keys_changed', encode(OLD.key_hash, 'hex'));
            END IF;
            RETURN NULL;
        END $$
        """
    )
    for name, event in _TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {event} EXECUTE FUNCTION notify_api_keys_changed()")


def downgrade() -> None:
    for name in _TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON api_keys")
    op.execute("DROP FUNCTION notify_api_keys_changed()")
