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
M0 = "CAST(:m0 AS date)"
M1 = "CAST(:m1 AS date)"
ACCRUAL = "CAST(:accrual AS boolean)"

# Billing periods of ``src`` (a CTE with number, pi, c, e) overlapping [:m0, :m1).
_PERIODS = f"""
periods AS (
    SELECT s.number, p.b, p.b_next
    FROM {{src}} s
    CROSS JOIN LATERAL (
        SELECT (s.c + CASE WHEN s.pi = 'monthly' THEN make_interval(months => k)
                           ELSE make_interval(years => k) END)::date AS b,
               (s.c + CASE WHEN s.pi = 'monthly' THEN make_interval(months => k + 1)
                           ELSE make_interval(years => k + 1) END)::date AS b_next
        FROM generate_series(
            GREATEST(0, CASE WHEN s.pi = 'monthly'
                THEN (EXTRACT(YEAR FROM {M0})::int - EXTRACT(YEAR FROM s.c)::int) * 12
                     + EXTRACT(MONTH FROM {M0})::int - EXTRACT(MONTH FROM s.c)::int - 1
                ELSE EXTRACT(YEAR FROM {M0})::int - EXTRACT(YEAR FROM s.c)::int - 1 END),
            CASE WHEN s.pi = 'monthly'
                THEN (EXTRACT(YEAR FROM {M1})::int - EXTRACT(YEAR FROM s.c)::int) * 12
                     + EXTRACT(MONTH FROM {M1})::int - EXTRACT(MONTH FROM s.c)::int
                ELSE EXTRACT(YEAR FROM {M1})::int - EXTRACT(YEAR FROM s.c)::int END
        ) AS k
    ) p
    WHERE p.b < {M1} AND p.b_next > {M0} AND p.b < s.e
)"""  # noqa: S608  (module constants only)

_DAY = f"AT TIME ZONE {BERLIN})::date"

_REPORT_CTES = f"""
WITH
nums AS (
    SELECT n.number, n.country, n.pool_id, n.payment_interval AS pi,
           (n.seven_created_at {_DAY} AS c,
           COALESCE((n.seven_expires_at {_DAY},
                    CASE WHEN n.state = 'deleted' THEN (n.updated_at {_DAY} END,
                    'infinity'::date) AS e
    FROM numbers n
    WHERE n.seven_created_at IS NOT NULL
      AND n.seven_created_at < ({M1})::timestamp AT TIME ZONE {BERLIN}
),
versions AS (
    SELECT DISTINCT ON (v.number, d) v.number, (v.valid_from {_DAY} AS d,
           v.fee_setup, v.fee_basic_charge, v.fee_sms_mo, v.fee_voice_mo
    FROM number_fee_versions v
    ORDER BY v.number, d, v.valid_from DESC, v.id DESC
),
fees AS (
    SELECT number, fee_setup, fee_basic_charge, fee_sms_mo, fee_voice_mo,
           CASE WHEN lag(d) OVER w IS NULL THEN '-infinity'::date ELSE d END AS f,
           COALESCE(lead(d) OVER w, 'infinity'::date) AS t
    FROM versions
    WINDOW w AS (PARTITION BY number ORDER BY d)
),
{_PERIODS.format(src="nums")},
charges AS (
    SELECT p.number, 'recurring' AS kind, f.fee_basic_charge AS amount,
           CASE WHEN {ACCRUAL} THEN GREATEST(p.b, {M0}) ELSE p.b END AS lo,
           CASE WHEN {ACCRUAL} THEN LEAST(p.b_next, n.e, {M1}) ELSE p.b + 1 END AS hi,
           CASE WHEN {ACCRUAL} THEN LEAST(p.b_next, n.e) - p.b ELSE 1 END AS span
    FROM periods p
    JOIN nums n ON n.number = p.number
    JOIN fees f ON f.number = p.number AND p.b >= f.f AND p.b < f.t
    WHERE {ACCRUAL} OR p.b >= {M0}
    UNION ALL
    SELECT n.number, 'setup', f.fee_setup, n.c, n.c + 1, 1
    FROM nums n
    JOIN fees f ON f.number = n.number AND n.c >= f.f AND n.c < f.t
    WHERE n.c >= {M0} AND n.c < {M1} AND n.c < n.e
    UNION ALL
    SELECT u.number, 'usage', u.sms_mo * f.fee_sms_mo + u.voice_mo_minutes * f.fee_voice_mo,
           u.day, u.day + 1, 1
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
    SELECT ch.number, ch.kind, n.country, s.tenant_id,
           COALESCE(s.pool_id, n.pool_id) AS pool_id,
           CASE WHEN ch.span = 1 THEN ch.amount
                ELSE ch.amount * (LEAST(ch.hi, COALESCE(s.t, ch.hi))
                                  - GREATEST(ch.lo, COALESCE(s.f, ch.lo))) / ch.span
           END AS amount
    FROM charges ch
    JOIN nums n ON n.number = ch.number
    LEFT JOIN segments s ON s.number = ch.number AND s.f < ch.hi AND s.t > ch.lo
)"""  # noqa: S608  (module constants only)

# How each grouping names its rows; see ``model.group_key`` for the meaning.
GROUP_KEYS: dict[GroupBy, str] = {
    "tenant": "COALESCE(tenant_id::text, 'pool:' || pool_id::text, 'unassigned')",
    "pool": "COALESCE(pool_id::text, 'unassigned')",
    "country": "country",
    "number": "number",
}


def report_sql(group_by: GroupBy) -> str:
    """One row per key plus a totals row (``key`` NULL), sums exact, nothing rounded."""
    key = GROUP_KEYS[group_by]
    return f"""{_REPORT_CTES}
SELECT {key} AS key,
       COUNT(DISTINCT number) AS numbers,
       COALESCE(SUM(amount) FILTER (WHERE kind = 'recurring'), 0) AS recurring,
       COALESCE(SUM(amount) FILTER (WHERE kind = 'setup'), 0) AS setup,
       COALESCE(SUM(amount) FILTER (WHERE kind = 'usage'), 0) AS usage,
       GROUPING({key}) = 1 AS is_total
FROM pieces
WHERE CAST(:tenant AS uuid) IS NULL OR tenant_id = CAST(:tenant AS uuid)
GROUP BY GROUPING SETS (({key}), ())
"""  # noqa: S608  (key comes from GROUP_KEYS, a constant)


# The forecast: cash basis from the current mirror, per month. Numbers being ordered
# count from today with the interval asked for; their fees are NULL until seven's answer
# fills them in, so they are counted as unpriced instead of guessed.
FORECAST_SQL = f"""
WITH
live AS (
    SELECT n.number, n.payment_interval AS pi, n.fee_setup, n.fee_basic_charge,
           COALESCE((n.seven_created_at {_DAY}, CAST(:today AS date)) AS c,
           COALESCE((n.seven_expires_at {_DAY}, 'infinity'::date) AS e
    FROM numbers n
    WHERE n.state IN ('active', 'deleting', 'ordering')
      AND (CAST(:tenant AS uuid) IS NULL OR n.tenant_id = CAST(:tenant AS uuid))
),
{_PERIODS.format(src="live")}
SELECT to_char(p.b, 'YYYY-MM') AS month,
       COUNT(DISTINCT p.number) AS numbers,
       COALESCE(SUM(l.fee_basic_charge), 0) AS recurring,
       COALESCE(SUM(l.fee_setup) FILTER (WHERE p.b = l.c), 0) AS setup,
       COUNT(DISTINCT p.number) FILTER (WHERE l.fee_basic_charge IS NULL) AS unpriced
FROM periods p
JOIN live l ON l.number = p.number
WHERE p.b >= {M0}
GROUP BY 1
ORDER BY 1
"""  # noqa: S608  (only module constants are spliced in)
