"""cost_live_changes.numbers: which numbers a recurring change touched

Revision ID: 0027_cost_live_change_numbers
Revises: 0026_cost_live_number_rows
Create Date: 2026-12-01 16:00:00

A kept recurring part (migration 0025) was outdated whole by any recurring write, though
a number's slices are computed from that number's own rows alone (its ``numbers`` row,
its fee versions, its allocations) and such a write touches one number in the common
case. So a recurring change row now also names the numbers its transaction touched
(``numbers``; NULL: every number), and a part is served with the touched numbers'
slices computed afresh (``app/costs/parts.py``).

The statement-level triggers name the numbers of their transition tables, the row
trigger on ``numbers`` its row's; a statement of more than 1,000 rows (or a
transaction naming more than 1,000 numbers over its statements) names none: a wide
change, which outdates the part whole as before. The rows already written, a
``TRUNCATE`` and the usage changes name none.

The row stays the transaction's own (its key leads with the xid): a second statement of
the same transaction and month appends its numbers to it, so writers still share no row.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0027_cost_live_change_numbers"
down_revision: str | None = "0026_cost_live_number_rows"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The most numbers a change row names (app/costs/live.py reads the same bound).
WIDEST = 1000

# Each closed month from ``since`` on is outdated (migration 0019's rollups), as before.
_OUTDATE_CLOSED_MONTHS = """
        INSERT INTO cost_rollup_months AS m (month, version)
        SELECT month::date, 1
        FROM generate_series(
            date_trunc('month', since),
            date_trunc('month', (clock_timestamp() AT TIME ZONE 'Europe/Berlin')::date)
                - interval '1 month',
            interval '1 month') AS month
        WHERE since IS NOT NULL AND since > '-infinity'::date
        ON CONFLICT (month) DO UPDATE SET version = m.version + 1;
"""
# Migration 0025's function with the numbers the change touched (NULL: every number);
# the triggers call this one.
_OUTDATE_NUMBERS = f"""
    CREATE FUNCTION outdate_cost_rollups(since date, touched text[]) RETURNS void
    LANGUAGE sql AS $$
{_OUTDATE_CLOSED_MONTHS}        INSERT INTO cost_live_changes AS c (xid, month, recurring, numbers)
        SELECT pg_current_xact_id(),
               CASE WHEN since = '-infinity'::date THEN since
                    ELSE date_trunc('month', since::timestamp)::date END,
               true,
               CASE WHEN cardinality(touched) <= {WIDEST} THEN touched END
        WHERE since IS NOT NULL
        ON CONFLICT (xid, month, recurring) DO UPDATE
        SET numbers = CASE
            WHEN cardinality(c.numbers) + cardinality(excluded.numbers) <= {WIDEST}
            THEN c.numbers || excluded.numbers END
        -- Already wide, or naming these numbers already: the row stays as it is.
        WHERE c.numbers IS NOT NULL AND NOT ((excluded.numbers <@ c.numbers) IS TRUE);
    $$
"""  # noqa: S608  (constants only)
# Every other recording is a wide one: the one-argument function (for any other caller)
# and a TRUNCATE's row (migration 0023's) make the transaction's row wide even if an
# earlier statement of it named its numbers.
_OUTDATE_WIDE = """
    CREATE OR REPLACE FUNCTION outdate_cost_rollups(since date) RETURNS void
    LANGUAGE sql AS $$ SELECT outdate_cost_rollups(since, NULL::text[]) $$
"""
_OUTDATE_ALL = """
    CREATE OR REPLACE FUNCTION outdate_all_cost_rollups() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO cost_rollup_months AS m (month, version)
        SELECT month, 1 FROM cost_rollup_months
        UNION SELECT month, 1 FROM cost_rollups
        ON CONFLICT (month) DO UPDATE SET version = m.version + 1;
        INSERT INTO cost_live_changes AS c (xid, month)
        VALUES (pg_current_xact_id(), '-infinity')
        ON CONFLICT (xid, month, recurring) DO {on_conflict};
        RETURN NULL;
    END $$
"""
# Migration 0025's one-argument function, for the downgrade.
_OUTDATE_0025 = f"""
    CREATE OR REPLACE FUNCTION outdate_cost_rollups(since date) RETURNS void
    LANGUAGE sql AS $$
{_OUTDATE_CLOSED_MONTHS}        INSERT INTO cost_live_changes (xid, month, recurring)
        SELECT pg_current_xact_id(),
               CASE WHEN since = '-infinity'::date THEN since
                    ELSE date_trunc('month', since::timestamp)::date END, true
        WHERE since IS NOT NULL
        ON CONFLICT DO NOTHING;
    $$
"""


# The numbers of a transition table ``rows``; NULL (wide) past the bound of rows, read
# no further: counting the distinct numbers of the first sync's 100,000-row statements
# sorted them all (~40 ms a statement, inside the sync's commit).
def _touched(rows: str) -> str:
    return (
        f"(SELECT CASE WHEN count(*) <= {WIDEST} THEN array_agg(DISTINCT number) END"  # noqa: S608
        f" FROM (SELECT number FROM {rows} LIMIT {WIDEST + 1}) r)"
    )


# Migration 0019's trigger functions, each naming its numbers (``touched``: as above).
_FOR_NUMBER = """
    CREATE OR REPLACE FUNCTION outdate_cost_rollups_for_number() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE
        old_days record := cost_number_days(OLD);
        new_days record := cost_number_days(NEW);
        months integer := CASE WHEN OLD.payment_interval = 'monthly'
                               AND NEW.payment_interval = 'monthly' THEN 1 ELSE 12 END;
{declare}    BEGIN
        IF OLD.country IS DISTINCT FROM NEW.country
           OR OLD.pool_id IS DISTINCT FROM NEW.pool_id
           OR OLD.payment_interval IS DISTINCT FROM NEW.payment_interval
           OR old_days.created IS DISTINCT FROM new_days.created THEN
            PERFORM outdate_cost_rollups(LEAST(old_days.created, new_days.created){args});
        ELSIF old_days.ends IS DISTINCT FROM new_days.ends THEN
            PERFORM outdate_cost_rollups(cost_period_start(
                new_days.created, months, LEAST(old_days.ends, new_days.ends)){args});
        END IF;
        RETURN NULL;
    END $$
"""
_FOR_NUMBERS = """
    CREATE OR REPLACE FUNCTION outdate_cost_rollups_for_numbers() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            PERFORM outdate_cost_rollups(
                (SELECT min((seven_created_at AT TIME ZONE 'Europe/Berlin')::date) FROM new_rows)
                {new_args});
        ELSE
            PERFORM outdate_cost_rollups(
                (SELECT min((seven_created_at AT TIME ZONE 'Europe/Berlin')::date) FROM old_rows)
                {old_args});
        END IF;
        RETURN NULL;
    END $$
"""
_FOR_FEE_VERSIONS = """
    CREATE OR REPLACE FUNCTION outdate_cost_rollups_for_fee_versions() RETURNS trigger
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
        ){args});
        RETURN NULL;
    END $$
"""
_FOR_ALLOCATIONS = """
    CREATE OR REPLACE FUNCTION outdate_cost_rollups_for_allocations() RETURNS trigger
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
                FROM old_rows o JOIN new_rows n ON n.id = o.id){both_args});
        ELSIF TG_OP = 'INSERT' THEN
            PERFORM outdate_cost_rollups(
                (SELECT min((allocated_at AT TIME ZONE 'Europe/Berlin')::date) FROM new_rows)
                {new_args});
        ELSE
            PERFORM outdate_cost_rollups(
                (SELECT min((allocated_at AT TIME ZONE 'Europe/Berlin')::date) FROM old_rows)
                {old_args});
        END IF;
        RETURN NULL;
    END $$
"""
_BOTH = "(SELECT number FROM old_rows UNION ALL SELECT number FROM new_rows) AS r"


def _functions(named: bool) -> list[str]:
    """The trigger functions, naming their numbers (``named``) or as migration 0019 wrote
    them."""

    def args(rows: str) -> str:
        return f", {_touched(rows)}" if named else ""

    return [
        _FOR_NUMBER.format(
            declare=(
                "        touched text[] := CASE WHEN OLD.number = NEW.number"
                " THEN ARRAY[NEW.number] ELSE ARRAY[OLD.number, NEW.number] END;\n"
            )
            if named
            else "",
            args=", touched" if named else "",
        ),
        _FOR_NUMBERS.format(new_args=args("new_rows"), old_args=args("old_rows")),
        _FOR_FEE_VERSIONS.format(args=args("changed_rows")),
        _FOR_ALLOCATIONS.format(
            both_args=args(_BOTH), new_args=args("new_rows"), old_args=args("old_rows")
        ),
    ]


def upgrade() -> None:
    op.execute("ALTER TABLE cost_live_changes ADD COLUMN numbers text[]")
    op.execute(_OUTDATE_NUMBERS)
    op.execute(_OUTDATE_WIDE)
    op.execute(
        _OUTDATE_ALL.format(on_conflict="UPDATE SET numbers = NULL WHERE c.numbers IS NOT NULL")
    )
    for function in _functions(named=True):
        op.execute(function)


def downgrade() -> None:
    for function in _functions(named=False):
        op.execute(function)
    op.execute(_OUTDATE_ALL.format(on_conflict="NOTHING"))
    op.execute(_OUTDATE_0025)
    op.execute("DROP FUNCTION outdate_cost_rollups(date, text[])")
    op.execute("ALTER TABLE cost_live_changes DROP COLUMN numbers")
