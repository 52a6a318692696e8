"""The cost model (``model.py``) as set-based SQL, so a month over 100,000 numbers is
one statement instead of a Python loop per number and day.

Shape of the report query, each step a CTE:

``nums``     the mirror's numbers with their created and end days (Europe/Berlin);
``fees``     fee versions as day ranges ``[from, to)``; the first reaches back forever;
``periods``  billing periods overlapping the window, from ``generate_series`` over the
             few period indexes that can overlap it (dates computed from ``created``,
             so Postgres' month arithmetic clamps 31 Jan to 28 Feb and returns to 31 Mar);
``charges``  recurring, setup and usage amounts as ``amount`` over the days ``[lo, hi)``
             of a span of ``span`` days (cash: one day, span 1; accrual: the overlap
             of the period with the window, span = the period's length);
``segments`` who held each number when, inside the window: allocation days, and the
             gaps between them (the pool's days); numbers never allocated have none;
``pieces``   each charge cut by the segments: amount * overlap / span.

Every fragment spliced into the text comes from the constants in this module, never
from a request; values travel as bind parameters.
"""

from __future__ import annotations

from app.costs.model import GroupBy

BERLIN = "'Europe/Berlin'"
# The window [m0, m1) and the basis, typed once here so every use is unambiguous.
# :i0 and :i1 are the month indexes (year * 12 + month - 1) of the window's first and
# last month: billing arithmetic runs on integers, which is what makes it fast.
M0 = "CAST(:m0 AS date)"
M1 = "CAST(:m1 AS date)"
I0 = "CAST(:i0 AS integer)"
I1 = "CAST(:i1 AS integer)"
ACCRUAL = "CAST(:accrual AS boolean)"
_DAY = f"AT TIME ZONE {BERLIN})::date"


def _billing_day(index: str) -> str:
    """SQL for the billing day in month ``index`` of a number created on day ``s.cd``:
    that day, or the month's last when the month is shorter (leap years included).
    Days up to the 28th exist in every month, so only the 29th to 31st need the check."""
    year, month = f"(({index}) / 12)", f"(({index}) % 12 + 1)"
    last = (
        f"CASE WHEN {month} = 2 THEN CASE WHEN {year} % 4 = 0 AND"
        f" ({year} % 100 <> 0 OR {year} % 400 = 0) THEN 29 ELSE 28 END"
        f" WHEN {month} IN (4, 6, 9, 11) THEN 30 ELSE 31 END"
    )
    return (
        f"make_date({year}, {month}, CASE WHEN s.cd <= 28 THEN s.cd ELSE LEAST(s.cd, {last}) END)"
    )


# Columns every source of billing periods provides, computed once per number.
_SCHEDULE_COLUMNS = """
           (date_part('year', c)::int * 12 + date_part('month', c)::int - 1) AS cm,
           date_part('day', c)::int AS cd,
           CASE WHEN pi = 'monthly' THEN 1 ELSE 12 END AS step"""

# Billing periods of ``src`` (number, pi, c, e, cm, cd, step, ...) overlapping [m0, m1):
# period k starts in month cm + step * k; only the periods from the one running when the
# window opens (k_lo) to the one running when it closes can overlap it. ``:spread`` is
# the most periods that can overlap the window, less one (1 for a single month): a cross
# join with that many offsets is cheaper than a set-returning function per number.
_PERIODS = f"""
periods AS (
    SELECT s.*, p.b, p.b_next
    FROM {{src}} s
    CROSS JOIN generate_series(0, CAST(:spread AS integer)) o
    CROSS JOIN LATERAL (
        SELECT {_billing_day("s.cm + s.step * k")} AS b,
               {_billing_day("s.cm + s.step * (k + 1)")} AS b_next
        FROM (SELECT GREATEST(0, ({I0} - s.cm) / s.step - 1) + o AS k) kk
        WHERE k <= ({I1} - s.cm) / s.step
        OFFSET 0  -- computes b and b_next once, instead of again in each filter below
    ) p
    WHERE p.b < {M1} AND p.b_next > {M0} AND p.b < s.e
)"""  # noqa: S608  (module constants only)

_REPORT_CTES = f"""
WITH
nums AS (
    SELECT *, {_SCHEDULE_COLUMNS}
    FROM (
        SELECT n.number, n.country, n.pool_id, n.payment_interval AS pi,
               (n.seven_created_at {_DAY} AS c,
               COALESCE((n.seven_expires_at {_DAY},
                        CASE WHEN n.state = 'deleted' THEN (n.updated_at {_DAY} END,
                        'infinity'::date) AS e
        FROM numbers n
        WHERE n.seven_created_at IS NOT NULL
          AND n.seven_created_at < ({M1})::timestamp AT TIME ZONE {BERLIN}
    ) mirror
),
fees AS (
    -- Two versions seen on one day: the earlier gets the empty range [d, d).
    SELECT number, fee_setup, fee_basic_charge, fee_sms_mo, fee_voice_mo,
           CASE WHEN lag(d) OVER w IS NULL THEN '-infinity'::date ELSE d END AS f,
           COALESCE(lead(d) OVER w, 'infinity'::date) AS t
    FROM (SELECT *, (valid_from {_DAY} AS d FROM number_fee_versions) v
    WINDOW w AS (PARTITION BY number ORDER BY valid_from, id)
),
{_PERIODS.format(src="nums")},
charges AS (
    SELECT p.number, p.country, p.pool_id, 'recurring' AS kind, f.fee_basic_charge AS amount,
           CASE WHEN {ACCRUAL} THEN GREATEST(p.b, {M0}) ELSE p.b END AS lo,
           CASE WHEN {ACCRUAL} THEN LEAST(p.b_next, p.e, {M1}) ELSE p.b + 1 END AS hi,
           CASE WHEN {ACCRUAL} THEN LEAST(p.b_next, p.e) - p.b ELSE 1 END AS span
    FROM periods p
    JOIN fees f ON f.number = p.number AND p.b >= f.f AND p.b < f.t
    WHERE {ACCRUAL} OR p.b >= {M0}
    UNION ALL
    SELECT n.number, n.country, n.pool_id, 'setup', f.fee_setup, n.c, n.c + 1, 1
    FROM nums n
    JOIN fees f ON f.number = n.number AND n.c >= f.f AND n.c < f.t
    WHERE n.c >= {M0} AND n.c < {M1} AND n.c < n.e
    UNION ALL
    SELECT n.number, n.country, n.pool_id, 'usage',
           u.sms_mo * f.fee_sms_mo + u.voice_mo_minutes * f.fee_voice_mo, u.day, u.day + 1, 1
    FROM number_usage_daily u
    JOIN nums n ON n.number = u.number AND u.day >= n.c AND u.day < n.e
    JOIN fees f ON f.number = u.number AND u.day >= f.f AND u.day < f.t
    WHERE u.day >= {M0} AND u.day < {M1}
),
held AS (
    SELECT a.number, a.tenant_id, a.pool_id,
           GREATEST((a.allocated_at {_DAY}, {M0}) AS f,
           LEAST(COALESCE((a.released_at {_DAY}, 'infinity'::date), {M1}) AS t
    FROM allocations a
    WHERE (a.allocated_at {_DAY} < {M1}
      AND (a.released_at IS NULL OR (a.released_at {_DAY} > {M0})
),
ordered AS (
    SELECT h.*, lag(t) OVER w AS prev_t, lead(f) OVER w AS next_f
    FROM held h WHERE f < t
    WINDOW w AS (PARTITION BY number ORDER BY f)
),
segments AS (
    SELECT number, tenant_id, pool_id, f, t FROM ordered
    UNION ALL
    SELECT number, NULL, NULL, COALESCE(prev_t, {M0}), f FROM ordered
    WHERE COALESCE(prev_t, {M0}) < f
    UNION ALL
    SELECT number, NULL, NULL, t, {M1} FROM ordered WHERE next_f IS NULL AND t < {M1}
),
pieces AS (
    SELECT ch.number, ch.kind, ch.country, s.tenant_id,
           COALESCE(s.pool_id, ch.pool_id) AS pool_id,
           CASE WHEN ch.span = 1 THEN ch.amount
                ELSE ch.amount * (LEAST(ch.hi, COALESCE(s.t, ch.hi))
                                  - GREATEST(ch.lo, COALESCE(s.f, ch.lo))) / ch.span
           END AS amount
    FROM charges ch
    LEFT JOIN segments s ON s.number = ch.number AND s.f < ch.hi AND s.t > ch.lo
)"""  # noqa: S608  (module constants only)

# How each grouping names its rows; see ``model.group_key`` for the meaning.
GROUP_KEYS: dict[GroupBy, str] = {
    "tenant": "COALESCE(tenant_id::text, 'pool:' || pool_id::text, 'unassigned')",
    "pool": "COALESCE(pool_id::text, 'unassigned')",
    "country": "country",
    "number": "number",
}


def _cents(expr: str) -> str:
    """SQL rounding ``expr`` half-even to cents (Postgres' round() goes half away from 0)."""
    scaled = f"(({expr}) * 100)"
    return (
        f"CAST(CASE WHEN abs({scaled} - trunc({scaled})) = 0.5 AND trunc({scaled}) % 2 = 0"
        f" THEN trunc({scaled}) / 100 ELSE round({expr}, 2) END AS numeric(16, 2))"
    )


def report_sql(group_by: GroupBy) -> str:
    """One row per key plus a totals row (``is_total``), each figure rounded half-even to
    cents once, from exact sums (Postgres numeric) -- ``model.make_row``, in SQL.

    Summed per (key, number) first, by hashing, so that counting a row's numbers needs
    no sort; the totals count each number once even when two tenants shared it."""
    key = GROUP_KEYS[group_by]
    # By number, the (key, number) sums already are the rows.
    rows = (
        "SELECT key, 1::bigint, recurring, setup, usage, false FROM per_number"
        if group_by == "number"
        else "SELECT key, COUNT(*), SUM(recurring), SUM(setup), SUM(usage), false"
        " FROM per_number GROUP BY key"
    )
    return f"""{_REPORT_CTES},
per_number AS (
    SELECT {key} AS key, number,
           COALESCE(SUM(amount) FILTER (WHERE kind = 'recurring'), 0) AS recurring,
           COALESCE(SUM(amount) FILTER (WHERE kind = 'setup'), 0) AS setup,
           COALESCE(SUM(amount) FILTER (WHERE kind = 'usage'), 0) AS usage
    FROM pieces
    WHERE CAST(:tenant AS uuid) IS NULL OR tenant_id = CAST(:tenant AS uuid)
    GROUP BY 1, 2
),
exact (key, numbers, recurring, setup, usage, is_total) AS (
    {rows}
    UNION ALL
    SELECT 'total', (SELECT COUNT(*) FROM (SELECT number FROM per_number GROUP BY number) n),
           COALESCE(SUM(recurring), 0), COALESCE(SUM(setup), 0), COALESCE(SUM(usage), 0), true
    FROM per_number
)
SELECT key, numbers, is_total, {_cents("recurring")} AS recurring, {_cents("setup")} AS setup,
       {_cents("usage")} AS usage, {_cents("recurring + setup + usage")} AS total
FROM exact
"""  # noqa: S608  (key comes from GROUP_KEYS, a constant)


# The forecast: cash basis from the current mirror, per month. Numbers being ordered
# count from today with the interval asked for; their fees are NULL until seven's answer
# fills them in, so they are counted as unpriced instead of guessed.
FORECAST_SQL = f"""
WITH
live AS (
    SELECT *, {_SCHEDULE_COLUMNS}
    FROM (
        SELECT n.number, n.payment_interval AS pi, n.fee_setup, n.fee_basic_charge,
               COALESCE((n.seven_created_at {_DAY}, CAST(:today AS date)) AS c,
               COALESCE((n.seven_expires_at {_DAY}, 'infinity'::date) AS e
        FROM numbers n
        WHERE n.state IN ('active', 'deleting', 'ordering')
          AND (CAST(:tenant AS uuid) IS NULL OR n.tenant_id = CAST(:tenant AS uuid))
    ) mirror
),
{_PERIODS.format(src="live")}
SELECT to_char(b, 'YYYY-MM') AS month,
       COUNT(DISTINCT number) AS numbers,
       COALESCE(SUM(fee_basic_charge), 0) AS recurring,
       COALESCE(SUM(fee_setup) FILTER (WHERE b = c), 0) AS setup,
       COUNT(DISTINCT number) FILTER (WHERE fee_basic_charge IS NULL) AS unpriced
FROM periods
WHERE b >= {M0}
GROUP BY 1
ORDER BY 1
"""  # noqa: S608  (only module constants are spliced in)
