"""costs: fee versions (kept by a trigger on numbers), daily usage, webhook event ids

Revision ID: 0003_costs
Revises: 0002_audit_log
Create Date: 2026-11-27 17:20:00

``number_fee_versions`` is written by the trigger ``numbers_fee_versions`` whenever a
row of ``numbers`` is inserted with fees or its fees or payment interval change,
whoever writes it (the sync's set-based UPDATE, the worker after an order, a person
with psql). Recording it in the database means no writer can forget to, and the cost
reports can keep charging the days before a change at the old fee.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_costs"
down_revision: str | None = "0002_audit_log"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MONEY = sa.Numeric(precision=12, scale=4)
_FEE_COLUMNS = "fee_setup, fee_basic_charge, fee_sms_mo, fee_voice_mo, payment_interval"


def upgrade() -> None:
    op.create_table(
        "number_fee_versions",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("number", sa.Text(), nullable=False),
        sa.Column(
            "valid_from",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("payment_interval", sa.Text(), nullable=False),
        sa.Column("fee_setup", _MONEY, nullable=False),
        sa.Column("fee_basic_charge", _MONEY, nullable=False),
        sa.Column("fee_sms_mo", _MONEY, nullable=False),
        sa.Column("fee_voice_mo", _MONEY, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_number_fee_versions")),
    )
    op.create_index(
        "ix_number_fee_versions_number_valid_from",
        "number_fee_versions",
        ["number", "valid_from"],
    )
    op.create_table(
        "number_usage_daily",
        sa.Column("number", sa.Text(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("sms_mo", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("voice_mo_minutes", _MONEY, server_default=sa.text("0"), nullable=False),
        sa.CheckConstraint(
            "sms_mo >= 0 AND voice_mo_minutes >= 0", name=op.f("ck_number_usage_daily_not_negative")
        ),
        sa.PrimaryKeyConstraint("number", "day", name=op.f("pk_number_usage_daily")),
    )
    op.create_index("ix_number_usage_daily_day", "number_usage_daily", ["day"])
    op.create_table(
        "webhook_events",
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("event_type", "event_id", name=op.f("pk_webhook_events")),
    )
    op.execute(
        """
        CREATE FUNCTION record_number_fee_version() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            -- A number being ordered has no fees yet; its first version comes with them.
            IF NEW.fee_basic_charge IS NULL THEN
                RETURN NEW;
            END IF;
            IF TG_OP = 'UPDATE' AND
               (NEW.fee_setup, NEW.fee_basic_charge, NEW.fee_sms_mo, NEW.fee_voice_mo,
                NEW.payment_interval) IS NOT DISTINCT FROM
               (OLD.fee_setup, OLD.fee_basic_charge, OLD.fee_sms_mo, OLD.fee_voice_mo,
                OLD.payment_interval) THEN
                RETURN NEW;
            END IF;
            INSERT INTO number_fee_versions
                (number, valid_from, payment_interval,
                 fee_setup, fee_basic_charge, fee_sms_mo, fee_voice_mo)
            VALUES (NEW.number, now(), NEW.payment_interval,
                    COALESCE(NEW.fee_setup, 0), NEW.fee_basic_charge,
                    COALESCE(NEW.fee_sms_mo, 0), COALESCE(NEW.fee_voice_mo, 0));
            RETURN NEW;
        END $$
        """
    )
    op.execute(
        f"CREATE TRIGGER numbers_fee_versions AFTER INSERT OR UPDATE OF {_FEE_COLUMNS}"
        " ON numbers FOR EACH ROW EXECUTE FUNCTION record_number_fee_version()"
    )
    # Numbers already mirrored get their current fees as their first version; the cost
    # model applies a number's first version to every day before it as well.
    op.execute(
        """
        INSERT INTO number_fee_versions
            (number, valid_from, fee_setup, fee_basic_charge, fee_sms_mo, fee_voice_mo,
             payment_interval)
        SELECT number, COALESCE(seven_created_at, now()), COALESCE(fee_setup, 0),
               fee_basic_charge, COALESCE(fee_sms_mo, 0), COALESCE(fee_voice_mo, 0),
               payment_interval
        FROM numbers WHERE fee_basic_charge IS NOT NULL
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER numbers_fee_versions ON numbers")
    op.execute("DROP FUNCTION record_number_fee_version()")
    op.drop_table("webhook_events")
    op.drop_index("ix_number_usage_daily_day", table_name="number_usage_daily")
    op.drop_table("number_usage_daily")
    op.drop_index("ix_number_fee_versions_number_valid_from", table_name="number_fee_versions")
    op.drop_table("number_fee_versions")
