"""cost_rollups: closed months' cost reports, kept right by triggers on every input

Revision ID: 0019_cost_rollups
Revises: 0017_api_keys_change_notices
Create Date: 2026-11-30 21:00:00

``cost_rollups`` holds a closed month's finished report (one row per month, basis,
grouping and tenant scope), stamped with the month's ``version`` read before it was
computed. ``cost_rollup_months`` holds each month's version: any write to an input of the
cost computation that changes a closed month's result (numbers, fee versions,
allocations, usage) bumps the versions of the months it reaches, in its own transaction,
so a rollup computed before that commit no longer matches and is never served again (a
missing month reads as version 0; a bump inserts 1). Bumping instead of deleting also
covers a rollup being computed while the change commits: it is stamped with the version
before the bump.

Only closed months are bumped (months before the one the clock is in, Europe/Berlin); the
service rolls a month up only from the second day after it ends, so a transaction that
straddles the month's end (at most a day long: statement and idle-in-transaction timeouts)
cannot slip a change past both.

Which months a change reaches (from the cost model, app/costs/model.py):
- usage: its day's month;
- an allocation: from the earliest day whose holder it changes;
- a fee version: from its day, or from the number's created day when it is (or was) the
  number's first version, which also prices the days before it;
- a number: from its created day when its country, pool, interval or created day change
  (or it is inserted or deleted); when only its end changes (an expiry, a deletion), from
  the start of the billing period holding the earlier end, since accrual spreads that
  period's fee over the days up to the end (at most a year back).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_cost_rollups"
down_revision: str | None = "0017_api_keys_change_notices"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FUNCTIONS = [
    # The versions of the closed months from ``since`` on go up by one.
    """
    CREATE FUNCTION outdate_cost_rollups(since date) RETURNS void
    LANGUAGE sql AS $$
        INSERT INTO cost_rollup_months AS m (month, version)
        SELECT month::date, 1
        FROM generate_series(
            date_trunc('month', since),
            date_trunc('month', (clock_timestamp() AT TIME ZONE 'Europe/Berlin')::date)
                - interval '1 month',
            interval '1 month') AS month
        WHERE since IS NOT NULL AND since > '-infinity'::date
        ON CONFLICT (month) DO UPDATE SET version = m.version + 1
    $$
    """,
    # The start of the billing period of a number created on ``created`` (billed every
    # ``months``) that holds ``day``: the same arithmetic as app/costs/sql.py.
    """
    CREATE FUNCTION cost_period_start(created date, months integer, day date) RETURNS date
    LANGUAGE sql IMMUTABLE AS $$
        WITH k AS (
            SELECT GREATEST(0, ((date_part('year', day)::int * 12 + date_part('month', day)::int)
                    - (date_part('year', created)::int * 12 + date_part('month', created)::int))
                   / months) AS k
        ), candidates AS (
            SELECT (created + make_interval(months => months * (k - back)))::date AS b
            FROM k, (VALUES (0), (1)) AS steps(back)
            WHERE k - back >= 0
        )
        SELECT COALESCE(max(b) FILTER (WHERE b <= day), created) FROM candidates
    $$
    """,
    # A number's created day and first day no longer charged, as app/costs/sql.py reads them.
    """
    CREATE FUNCTION cost_number_days(n numbers, OUT created date, OUT ends date)
    LANGUAGE sql STABLE AS $$
        SELECT (n.seven_created_at AT TIME ZONE 'Europe/Berlin')::date,
               COALESCE((n.seven_expires_at AT TIME ZONE 'Europe/Berlin')::date,
                        CASE WHEN n.state = 'deleted'
                             THEN (n.updated_at AT TIME ZONE 'Europe/Berlin')::date END,
                        'infinity'::date)
    $$
    """,
    """
    CREATE FUNCTION outdate_cost_rollups_for_number() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE
        old_days record := cost_number_days(OLD);
        new_days record := cost_number_days(NEW);
        months integer := CASE WHEN OLD.payment_interval = 'monthly'
                               AND NEW.payment_interval = 'monthly' THEN 1 ELSE 12 END;
    BEGIN
        IF OLD.country IS DISTINCT FROM NEW.country
           OR OLD.pool_id IS DISTINCT FROM NEW.pool_id
           OR OLD.payment_interval IS DISTINCT FROM NEW.payment_interval
           OR old_days.created IS DISTINCT FROM new_days.created THEN
            PERFORM outdate_cost_rollups(LEAST(old_days.created, new_days.created));
        ELSIF old_days.ends IS DISTINCT FROM new_days.ends THEN
            PERFORM outdate_cost_rollups(cost_period_start(
                new_days.created, months, LEAST(old_days.ends, new_days.ends)));
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION outdate_cost_rollups_for_numbers() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            PERFORM outdate_cost_rollups(
                (SELECT min((seven_created_at AT TIME ZONE 'Europe/Berlin')::date) FROM new_rows));
        ELSE
            PERFORM outdate_cost_rollups(
                (SELECT min((seven_created_at AT TIME ZONE 'Europe/Berlin')::date) FROM old_rows));
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION outdate_cost_rollups_for_fee_versions() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        -- From the earliest day of the rows; a number's first version prices the days
        -- before it too, so for those from the number's created day. Set-based: the
        -- first sync inserts every number's first version in one statement. An update
        -- fires this once with its old rows and once with its new ones.
        PERFORM outdate_cost_rollups(LEAST(
            (SELECT min((valid_from AT TIME ZONE 'Europe/Berlin')::date) FROM changed_rows),
            (SELECT min((n.seven_created_at AT TIME ZONE 'Europe/Berlin')::date)
             FROM changed_rows r JOIN numbers n ON n.number = r.number
             WHERE NOT EXISTS (SELECT 1 FROM number_fee_versions v
                               WHERE v.number = r.number AND v.valid_from < r.valid_from))
        ));
        RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION outdate_cost_rollups_for_allocations() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE' THEN
            -- A release (or a move of either end) changes only the days from the
            -- earlier of the two ends; anything else, the allocation's days.
            PERFORM outdate_cost_rollups((
                SELECT min(CASE
                    WHEN o.number IS DISTINCT FROM n.number
                      OR o.tenant_id IS DISTINCT FROM n.tenant_id
                      OR o.pool_id IS DISTINCT FROM n.pool_id
                      OR o.allocated_at IS DISTINCT FROM n.allocated_at
                    THEN (LEAST(o.allocated_at, n.allocated_at) AT TIME ZONE 'Europe/Berlin')::date
                    WHEN o.released_at IS DISTINCT FROM n.released_at
                    THEN (LEAST(COALESCE(o.released_at, 'infinity'),
                                COALESCE(n.released_at, 'infinity'))
                          AT TIME ZONE 'Europe/Berlin')::date
                    END)
                FROM old_rows o JOIN new_rows n ON n.id = o.id));
        ELSIF TG_OP = 'INSERT' THEN
            PERFORM outdate_cost_rollups(
                (SELECT min((allocated_at AT TIME ZONE 'Europe/Berlin')::date) FROM new_rows));
        ELSE
            PERFORM outdate_cost_rollups(
                (SELECT min((allocated_at AT TIME ZONE 'Europe/Berlin')::date) FROM old_rows));
        END IF;
        RETURN NULL;
    END $$
    """,
    # A table emptied at once (tests, a restore): every month that has a version or a
    # rollup goes up.
    """
    CREATE FUNCTION outdate_all_cost_rollups() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO cost_rollup_months AS m (month, version)
        SELECT month, 1 FROM cost_rollup_months
        UNION SELECT month, 1 FROM cost_rollups
        ON CONFLICT (month) DO UPDATE SET version = m.version + 1;
        RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION outdate_cost_rollups_for_usage() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'DELETE' THEN
            PERFORM outdate_cost_rollups((SELECT min(day) FROM new_rows));
        END IF;
        IF TG_OP <> 'INSERT' THEN
            PERFORM outdate_cost_rollups((SELECT min(day) FROM old_rows));
        END IF;
        RETURN NULL;
    END $$
    """,
]

# Numbers change often (states, the sync): their updates fire a row trigger only when a
# column the costs read changed, so other updates cost nothing. The rest fire once per
# statement over its transition tables (the first sync inserts numbers and their fee
# versions in one statement each). A trigger with transition tables takes one event.
_COST_COLUMNS_CHANGED = (
    "OLD.country IS DISTINCT FROM NEW.country"
    " OR OLD.pool_id IS DISTINCT FROM NEW.pool_id"
    " OR OLD.payment_interval IS DISTINCT FROM NEW.payment_interval"
    " OR OLD.seven_created_at IS DISTINCT FROM NEW.seven_created_at"
    " OR OLD.seven_expires_at IS DISTINCT FROM NEW.seven_expires_at"
    " OR (OLD.state = 'deleted') IS DISTINCT FROM (NEW.state = 'deleted')"
    " OR (NEW.state = 'deleted' AND OLD.updated_at IS DISTINCT FROM NEW.updated_at)"
)
_TRIGGERS = [
    (
        "cost_rollups_numbers_update",
        "numbers",
        f"AFTER UPDATE ON numbers FOR EACH ROW WHEN ({_COST_COLUMNS_CHANGED})"
        " EXECUTE FUNCTION outdate_cost_rollups_for_number()",
    ),
    *(
        (
            f"cost_rollups_{table}_{event.lower()}",
            table,
            f"AFTER {event} ON {table} REFERENCING {tables}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        )
        for table, function, events in [
            (
                "numbers",
                "outdate_cost_rollups_for_numbers",
                [("INSERT", "NEW TABLE AS new_rows"), ("DELETE", "OLD TABLE AS old_rows")],
            ),
            (
                "number_fee_versions",
                "outdate_cost_rollups_for_fee_versions",
                [
                    ("INSERT", "NEW TABLE AS changed_rows"),
                    ("DELETE", "OLD TABLE AS changed_rows"),
                ],
            ),
            (
                "allocations",
                "outdate_cost_rollups_for_allocations",
                [
                    ("INSERT", "NEW TABLE AS new_rows"),
                    ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
                    ("DELETE", "OLD TABLE AS old_rows"),
                ],
            ),
            (
                "number_usage_daily",
                "outdate_cost_rollups_for_usage",
                [
                    ("INSERT", "NEW TABLE AS new_rows"),
                    ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
                    ("DELETE", "OLD TABLE AS old_rows"),
                ],
            ),
        ]
        for event, tables in events
    ),
]
_TRUNCATES = [
    (
        f"cost_rollups_{table}_truncate",
        table,
        f"AFTER TRUNCATE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION outdate_all_cost_rollups()",
    )
    for table in ("numbers", "number_fee_versions", "allocations", "number_usage_daily")
]
# A fee version's update is its removal and its insertion: both tables, one function.
_FEE_VERSION_UPDATES = [
    (
        f"cost_rollups_number_fee_versions_update_{side}",
        "number_fee_versions",
        f"AFTER UPDATE ON number_fee_versions REFERENCING {side.upper()} TABLE AS changed_rows"
        " FOR EACH STATEMENT EXECUTE FUNCTION outdate_cost_rollups_for_fee_versions()",
    )
    for side in ("old", "new")
]


def upgrade() -> None:
    op.create_table(
        "cost_rollup_months",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("month", name=op.f("pk_cost_rollup_months")),
    )
    op.create_table(
        "cost_rollups",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("basis", sa.Text(), nullable=False),
        sa.Column("group_by", sa.Text(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("report", sa.LargeBinary(), nullable=False),
        sa.Column(
            "computed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cost_rollups")),
        sa.UniqueConstraint(
            "month",
            "basis",
            "group_by",
            "tenant_id",
            name=op.f("uq_cost_rollups_month_basis_group_by_tenant_id"),
            postgresql_nulls_not_distinct=True,
        ),
    )
    for statement in _FUNCTIONS:
        op.execute(statement)
    for name, _table, definition in [*_TRIGGERS, *_FEE_VERSION_UPDATES, *_TRUNCATES]:
        op.execute(f"CREATE TRIGGER {name} {definition}")


def downgrade() -> None:
    for name, table, _ in [*_TRIGGERS, *_FEE_VERSION_UPDATES, *_TRUNCATES]:
        op.execute(f"DROP TRIGGER {name} ON {table}")
    for function in (
        "outdate_all_cost_rollups()",
        "outdate_cost_rollups_for_usage()",
        "outdate_cost_rollups_for_allocations()",
        "outdate_cost_rollups_for_fee_versions()",
        "outdate_cost_rollups_for_numbers()",
        "outdate_cost_rollups_for_number()",
        "cost_number_days(numbers)",
        "cost_period_start(date, integer, date)",
        "outdate_cost_rollups(date)",
    ):
        op.execute(f"DROP FUNCTION {function}")
    op.drop_table("cost_rollups")
    op.drop_table("cost_rollup_months")
