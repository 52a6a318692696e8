"""fee versions of inserted numbers: one statement-level trigger instead of one per row

Revision ID: 0004_fee_versions_per_statement
Revises: 0003_costs
Create Date: 2026-11-27 18:45:00

The first sync inserts 100,000 numbers in one ``INSERT ... SELECT``; the row-level
trigger of 0003 ran its PL/pgSQL function and a one-row INSERT for each of them (about
1.2 s of a 4 s sync). Inserts now fire ``numbers_fee_versions_insert`` once per
statement, which writes every new row's first fee version with one set-based INSERT
from the statement's transition table. Updates keep the row-level trigger (renamed
``numbers_fee_versions_update``): a transition table cannot be combined with the
``UPDATE OF <fee columns>`` list that keeps the trigger off every other update, and
updates of fees come a few at a time. What is recorded is unchanged: every inserted
number with fees gets a version from ``now()``, every change of fees or payment
interval a new one.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004_fee_versions_per_statement"
down_revision: str | None = "0003_costs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FEE_COLUMNS = "fee_setup, fee_basic_charge, fee_sms_mo, fee_voice_mo, payment_interval"


def upgrade() -> None:
    op.execute("DROP TRIGGER numbers_fee_versions ON numbers")
    op.execute(
        f"CREATE TRIGGER numbers_fee_versions_update AFTER UPDATE OF {_FEE_COLUMNS}"
        " ON numbers FOR EACH ROW EXECUTE FUNCTION record_number_fee_version()"
    )
    op.execute(
        """
        CREATE FUNCTION record_inserted_number_fee_versions() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            -- A number being ordered has no fees yet; its first version comes with them.
            INSERT INTO number_fee_versions
                (number, valid_from, payment_interval,
                 fee_setup, fee_basic_charge, fee_sms_mo, fee_voice_mo)
            SELECT number, now(), payment_interval,
                   COALESCE(fee_setup, 0), fee_basic_charge,
                   COALESCE(fee_sms_mo, 0), COALESCE(fee_voice_mo, 0)
            FROM inserted_numbers
            WHERE fee_basic_charge IS NOT NULL;
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER numbers_fee_versions_insert AFTER INSERT ON numbers"
        " REFERENCING NEW TABLE AS inserted_numbers"
        " FOR EACH STATEMENT EXECUTE FUNCTION record_inserted_number_fee_versions()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER numbers_fee_versions_insert ON numbers")
    op.execute("DROP FUNCTION record_inserted_number_fee_versions()")
    op.execute("DROP TRIGGER numbers_fee_versions_update ON numbers")
    op.execute(
        f"CREATE TRIGGER numbers_fee_versions AFTER INSERT OR UPDATE OF {_FEE_COLUMNS}"
        " ON numbers FOR EACH ROW EXECUTE FUNCTION record_number_fee_version()"
    )
