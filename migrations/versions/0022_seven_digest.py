"""seven_digest: the digest of seven's item a number's row was last synced from

Revision ID: 0022_seven_digest
Revises: 0021_cost_rollups_rendered
Create Date: 2026-12-01 03:40:00

A re-sync decoded and copied every number seven lists to find the few that changed
(bench/README.md, Sync). ``seven_digest`` is BLAKE2b-128 of the item's bytes as seven
sent them, written by the sync with the row: while it is set, the row holds exactly
what that item maps to, so a re-sync that meets the same bytes again need neither
decode nor copy them (``app/sync/digests.py``). Anything else that writes what the
sync compares or judges by (seven's columns, ``state``, ``missing_since``,
``pending_operation_id``) clears it, in the trigger below, so such a row is decoded
and compared again by the next sync. The sync's own writes set a new digest (or, for
a removal, none: the trigger clears it, which is what a row that is no longer seven's
item needs).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022_seven_digest"
down_revision: str | None = "0021_cost_rollups_rendered"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What the sync's diff compares and judges a row by (app/sync/diff.py), as of this
# revision: seven's columns (app.numbers.mirror.SEVEN_COLUMNS) and our own three.
_WATCHED = (
    "country",
    "friendly_name",
    "payment_interval",
    "fee_setup",
    "fee_basic_charge",
    "fee_sms_mo",
    "fee_voice_mo",
    "feature_sms",
    "feature_a2p_sms",
    "feature_voice",
    "forward_sms_mo",
    "created",
    "expires",
    "seven_created_at",
    "seven_expires_at",
    "state",
    "missing_since",
    "pending_operation_id",
)


def _row(alias: str) -> str:
    return "ROW(" + ", ".join(f"{alias}.{column}" for column in _WATCHED) + ")"


def upgrade() -> None:
    op.add_column("numbers", sa.Column("seven_digest", sa.LargeBinary(), nullable=True))
    op.execute(
        """
        CREATE FUNCTION numbers_clear_seven_digest() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            NEW.seven_digest := NULL;
            RETURN NEW;
        END
        $$
        """
    )
    # A write that sets a digest of its own is the sync's; any other write that changes
    # a watched column leaves the row no longer what the old digest's item maps to.
    # The WHEN clause keeps every other update (holders, tags, locks) free of the call.
    op.execute(
        f"""
        CREATE TRIGGER numbers_clear_seven_digest
        BEFORE UPDATE ON numbers
        FOR EACH ROW
        WHEN (OLD.seven_digest IS NOT NULL
              AND NEW.seven_digest IS NOT DISTINCT FROM OLD.seven_digest
              AND {_row("NEW")} IS DISTINCT FROM {_row("OLD")})
        EXECUTE FUNCTION numbers_clear_seven_digest()
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER numbers_clear_seven_digest ON numbers")
    op.execute("DROP FUNCTION numbers_clear_seven_digest()")
    op.drop_column("numbers", "seven_digest")
