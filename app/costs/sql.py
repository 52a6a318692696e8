"""The cost model (``model.py``) as set-based SQL, so a month over 100,000 numbers is
one statement instead of a Python loop per number and day.

Shape of the report query (one calendar month), each step a CTE:

``nums``     the mirror's numbers with their created and end days (Europe/Berlin), and
             the month index and day of the created day for the billing arithmetic;
``fees``     fee versions as day ranges ``[from, to)``; the first reaches back forever;
``segments`` who held each number when, inside the month: allocation days, and the
             gaps between them (the pool's days); numbers never allocated have none;
``bills``    the (at most) two billing periods of each number that overlap the month,
             side by side in one row: ``[b1, b2)`` and ``[b2, b3)``, cut short at ``e``;
``slices``   each number with its fee versions on b1 and b2, once per segment (once,
             for the whole month, when it has none);
``usage``    inbound usage priced per day and summed per slice;
``charged``  per slice: recurring (each period's fee times its days in the slice over
             its length; cash: the fee when billed inside the slice), setup (on the
             created day) and usage; slices without any charge are dropped.

One row per number and slice instead of one per period, fee version and holder: most
numbers have one slice, so the report needs no aggregation per number, which was the
largest cost (a numeric sum's state per number and figure).

Every fragment spliced into the text comes from the constants in this module, never
from a request; values travel as bind parameters.
"""

from __future__ import annotations

from app.costs.model import UNTAGGED, GroupBy
from app.db.vocabulary import LIVE_STATES, NumberState, sql
from app.seven.types import PaymentInterval

BERLIN = "'Europe/Berlin'"
# The window [m0, m1) and the basis, typed once here so every use is unambiguous (the
# statements run on asyncpg itself, see ``numbered``). :i0 and :i1 are the month indexes
# (year * 12 + month - 1) of the window's first and last month: billing arithmetic runs on
# integers, which is what makes it fast.
M0 = "CAST(:m0 AS date)"
M1 = "CAST(:m1 AS date)"
I0 = "CAST(:i0 AS integer)"
I1 = "CAST(:i1 AS integer)"
ACCRUAL = "CAST(:accrual AS boolean)"
_DAY = f"AT TIME ZONE {BERLIN})::date"
_DELETED = sql(NumberState.DELETED)


def _billing_day(index: str) -> str:
    """SQL for the billing day in month ``index`` of a number created on day ``cd``:
    that day, or the month's last when the month is shorter (leap years included).
    Days up to the 28th exist in every month, so only the 29th to 31st need the check."""
    year, month = f"(({index}) / 12)", f"(({index}) % 12 + 1)"
    last = (
        f"CASE WHEN {month} = 2 THEN CASE WHEN {year} % 4 = 0 AND"
        f" ({year} % 100 <> 0 OR {year} % 400 = 0) THEN 29 ELSE 28 END"
        f" WHEN {month} IN (4, 6, 9, 11) THEN 30 ELSE 31 END"
    )
    return f"make_date({year}, {month}, CASE WHEN cd <= 28 THEN cd ELSE LEAST(cd, {last}) END)"


# The schedule of each number of ``source`` (number, pi, c, e, ...): the month index
# ``cm`` and day ``cd`` of its created day and its billing step in months. The OFFSET 0
# fences compute the days and the date_part() calls once per number; without them the
# planner copies the expressions into every use.
def _schedule(source: str) -> str:
    return f"""
    SELECT *, (date_part('year', c)::int * 12 + date_part('month', c)::int - 1) AS cm,
           date_part('day', c)::int AS cd,
           CASE WHEN pi = {sql(PaymentInterval.MONTHLY)} THEN 1 ELSE 12 END AS step
    FROM ({source} OFFSET 0) source
    OFFSET 0"""  # noqa: S608  (module constants only)


# Period k starts in month cm + step * k, so which periods overlap the window [m0, m1)
# follows from integer arithmetic alone. The first: on the cash basis the first billed
# inside the window; on the accrual basis the first that ends after the window opens (a
# period ends on the next billing day, which is the 1st of a month only for a number
# created on a 1st). The last: the last billed before the window closes (a floor, and
# negative when the number is younger than the window).
_FIRST_CASH = f"GREATEST(0, ({I0} - cm + step - 1) / step)"
_FIRST_ACCRUAL = f"GREATEST(0, ({I0} + (cd = 1)::int - cm + step - 1) / step - 1)"
_LAST = f"(({I1} - cm + step) / step - 1)"


# The mirror's numbers created before the window closes, with their created day and the
# first day they are no longer charged; ``only``: a further condition.
def _mirror(only: str) -> str:
    return f"""
        SELECT n.number, n.country, n.pool_id, n.payment_interval AS pi,
               (n.seven_created_at {_DAY} AS c,
               COALESCE((n.seven_expires_at {_DAY},
                        CASE WHEN n.state = {_DELETED} THEN (n.updated_at {_DAY} END,
                        'infinity'::date) AS e
        FROM numbers n
        WHERE n.seven_created_at IS NOT NULL
          AND n.seven_created_at < ({M1})::timestamp AT TIME ZONE {BERLIN}{only}"""  # noqa: S608


# The days of [lo, hi) inside the slice [sf, st) (slices lie inside the month).
def _days_in_slice(lo: str, hi: str) -> str:
    return f"GREATEST(0, LEAST({hi}, st) - GREATEST({lo}, sf))"


# The charge of a period billed on ``b`` at ``fee``, running to ``end`` (the next billing
# day or ``e``), in a slice: accrual, the fee times the period's days in the slice over
# its length (exact numeric); cash, the fee when it is billed inside the slice.
def _period_charge(has: str, b: str, end: str, fee: str) -> str:
    return (
        f"CASE WHEN NOT {has} THEN NULL"
        f" WHEN {ACCRUAL} THEN CASE WHEN {_days_in_slice(b, end)} > 0"
        f" THEN {fee} * {_days_in_slice(b, end)} / ({end} - {b}) END"
        f" WHEN {b} >= sf AND {b} < st THEN {fee} END"
    )


# The recurring side: every CTE up to the slices, which the usage side joins. ``numbers``:
# for the numbers of that array alone (each number's slices are computed from its own
# rows alone, so they are the same for it as over every number).
def _recurring_ctes(numbers: str | None = None) -> str:
    def only(column: str, keyword: str) -> str:
        return f" {keyword} {column} = ANY({numbers})" if numbers else ""

    return f"""
nums AS (
    SELECT * FROM ({_schedule(_mirror(only("n.number", "AND")))}) mirror
    WHERE e > {M0}  -- a number gone before the month owes nothing in it
),
fees AS (
    -- Two versions seen on one day: the earlier gets the empty range [d, d). Sorted
    -- by the byte order of the number ("C"): the same partitions, a cheaper sort.
    SELECT number, fee_setup, fee_basic_charge, fee_sms_mo, fee_voice_mo,
           CASE WHEN lag(d) OVER w IS NULL THEN '-infinity'::date ELSE d END AS f,
           COALESCE(lead(d) OVER w, 'infinity'::date) AS t
    FROM (SELECT *, (valid_from {_DAY} AS d FROM number_fee_versions{only("number", "WHERE")}) v
    WINDOW w AS (PARTITION BY number COLLATE "C" ORDER BY valid_from, id)
),
held AS (
    SELECT a.number, a.tenant_id, a.pool_id,
           GREATEST((a.allocated_at {_DAY}, {M0}) AS f,
           LEAST(COALESCE((a.released_at {_DAY}, 'infinity'::date), {M1}) AS t
    FROM allocations a
    WHERE (a.allocated_at {_DAY} < {M1}
      AND (a.released_at IS NULL OR (a.released_at {_DAY} > {M0}){only("a.number", "AND")}
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
bills AS (
    -- In one calendar month at most two periods overlap: the first one (see _FIRST_*)
    -- and the next; on the cash basis only the first can be billed inside it.
    SELECT *, k <= {_LAST} AND b1 < e AS has1, k + 1 <= {_LAST} AND b2 < e AS has2
    FROM (
        SELECT *, {_billing_day("cm + step * k")} AS b1,
               {_billing_day("cm + step * (k + 1)")} AS b2,
               {_billing_day("cm + step * (k + 2)")} AS b3
        FROM (
            SELECT *, CASE WHEN {ACCRUAL} THEN {_FIRST_ACCRUAL} ELSE {_FIRST_CASH} END AS k
            FROM nums
            OFFSET 0  -- k once per number, not in each use below
        ) n
        OFFSET 0  -- the billing days once per number
    ) b
),
slices AS (
    -- A basic charge is priced on its billing day; the setup fee falls on the created
    -- day, which is b1 whenever it lies inside the month.
    SELECT b.number, b.country, b.c, b.e, b.b1, b.b2, b.b3, b.has1, b.has2,
           f1.fee_setup, f1.fee_basic_charge AS fee1,
           -- b2 priced by b1's version unless a later one starts by then (rare): the
           -- latest of those, looked up by the index on (number, valid_from).
           CASE WHEN b.b2 < f1.t THEN f1.fee_basic_charge ELSE (
               SELECT v.fee_basic_charge FROM number_fee_versions v
               WHERE v.number = b.number AND (v.valid_from {_DAY} <= b.b2
               ORDER BY v.valid_from DESC, v.id DESC LIMIT 1
           ) END AS fee2,
           s.number IS NOT NULL AS shared, s.tenant_id, COALESCE(s.pool_id, b.pool_id) AS pool_id,
           COALESCE(s.f, {M0}) AS sf, COALESCE(s.t, {M1}) AS st
    FROM bills b
    JOIN fees f1 ON f1.number = b.number AND b.b1 >= f1.f AND b.b1 < f1.t
    LEFT JOIN segments s ON s.number = b.number
)"""  # noqa: S608  (module constants only)


_RECURRING_CTES = "\nWITH" + _recurring_ctes()

# Each slice's recurring (r1, r2) and setup charge; NULL where it has none.
_SLICE_CHARGES = f"""
        SELECT *,
               {_period_charge("has1", "b1", "LEAST(b2, e)", "fee1")} AS r1,
               {_period_charge("has2", "b2", "LEAST(b3, e)", "fee2")} AS r2,
               CASE WHEN c >= {M0} AND c < e AND c >= sf AND c < st THEN fee_setup END AS setup
        FROM slices
        OFFSET 0  -- each charge once, not again in the filter below"""  # noqa: S608

# The slices as a part keeps them (``cost_live_slices``' columns but its part): the
# recurring charge summed (NULL: none), the setup charge.
_PART_SLICES = f"""
    SELECT number, country, tenant_id, pool_id, shared, sf, st, c, e,
           CASE WHEN r1 IS NOT NULL OR r2 IS NOT NULL THEN COALESCE(r1, 0) + COALESCE(r2, 0)
           END AS recurring,
           setup
    FROM ({_SLICE_CHARGES}
    ) sliced"""  # noqa: S608


def _usage_and_charges(sliced: str) -> str:
    """The CTEs ``usage`` and ``charged`` over the slices with their charges (``sliced``:
    :data:`_SLICE_CHARGES` as a subquery)."""
    return f"""
usage AS (
    SELECT u.number, COALESCE(s.f, {M0}) AS sf,
           SUM(u.sms_mo * f.fee_sms_mo + u.voice_mo_minutes * f.fee_voice_mo) AS amount
    FROM number_usage_daily u
    JOIN nums n ON n.number = u.number AND u.day >= n.c AND u.day < n.e
    JOIN fees f ON f.number = u.number AND u.day >= f.f AND u.day < f.t
    LEFT JOIN segments s ON s.number = u.number AND u.day >= s.f AND u.day < s.t
    WHERE u.day >= {M0} AND u.day < {M1}
    GROUP BY 1, 2
),
charged AS (
    SELECT sl.number, sl.country, sl.tenant_id, sl.pool_id, sl.shared,
           COALESCE(r1, 0) + COALESCE(r2, 0) AS recurring, COALESCE(setup, 0) AS setup,
           COALESCE(u.amount, 0) AS usage
    FROM {sliced} sl
    LEFT JOIN usage u ON u.number = sl.number AND u.sf = sl.sf
    WHERE r1 IS NOT NULL OR r2 IS NOT NULL OR setup IS NOT NULL OR u.amount IS NOT NULL
)"""  # noqa: S608  (module constants only)


_REPORT_CTES = _RECURRING_CTES + "," + _usage_and_charges(f"({_SLICE_CHARGES}\n    )")

# For the statement's transaction only (set_config(..., true) is SET LOCAL): no JIT (the
# planner's estimates for the range joins are huge, and compiling took seconds for a query
# that runs in a fraction of one); no merge joins (with those estimates the planner sorted
# 100,000 numbers twice to merge them with their fee versions, where hashing costs a
# fraction); a plan for these values every time (asyncpg prepares the statement once per
# connection, and from the sixth run Postgres may keep a generic plan, which evaluates the
# basis per row: accrual by number 0.9 -> 1.1 s); and room to hash in memory.
TUNING_SQL = (
    "SELECT set_config('jit', 'off', true), set_config('enable_mergejoin', 'off', true),"
    " set_config('plan_cache_mode', 'force_custom_plan', true),"
    " set_config('work_mem', '64MB', true)"
)

REPORT_PARAMETERS = ("m0", "m1", "i0", "i1", "accrual", "tenant")
#: A report by tag takes the tag's key too.
TAG_REPORT_PARAMETERS = (*REPORT_PARAMETERS, "tag")
FORECAST_PARAMETERS = ("i0", "i1", "today", "tenant")


def numbered(sql: str, names: tuple[str, ...]) -> str:
    """``sql`` with asyncpg's ``$1, $2, ...`` for its ``CAST(:name AS ...)`` parameters,
    numbered in the order of ``names``."""
    for position, name in enumerate(names, 1):
        if f"CAST(:{name} AS" not in sql:  # asyncpg could not type an unused one
            raise ValueError(f"the statement does not use :{name}")
        sql = sql.replace(f"CAST(:{name} AS", f"CAST(${position} AS")
    if "CAST(:" in sql:
        raise ValueError(f"the statement uses a parameter not among {names}")
    return sql


# How each grouping names its rows; see ``model.group_key`` for the meaning.
GROUP_KEYS: dict[GroupBy, str] = {
    GroupBy.TENANT: "COALESCE(tenant_id::text, 'pool:' || pool_id::text, 'unassigned')",
    GroupBy.POOL: "COALESCE(pool_id::text, 'unassigned')",
    GroupBy.COUNTRY: "country",
    GroupBy.NUMBER: "number",
    # The number's own tag, else its holder's in the slice (the tenant that held those
    # days; none for a pool's or the account's days), else "untagged".
    GroupBy.TAG: (
        "COALESCE((SELECT n.tags ->> CAST(:tag AS text) FROM numbers n"  # noqa: S608
        " WHERE n.number = charged.number),"
        " (SELECT t.tags ->> CAST(:tag AS text) FROM tenants t WHERE t.id = charged.tenant_id),"
        f" '{UNTAGGED}')"
    ),
}


# The name beside each key: a tenant's, or a pool's (``pool:<id>`` in a tenant report);
# joined on the key's text, so ``unassigned`` and the totals row simply find none.
# Countries, numbers and tag values have no name (and a report by number has 100,000 rows to spare
# the joins).
_NAME_JOINS: dict[GroupBy, tuple[str, str]] = {
    GroupBy.TENANT: (
        "COALESCE(t.name, p.name)",
        "LEFT JOIN tenants t ON t.id::text = e.key"
        " LEFT JOIN pools p ON 'pool:' || p.id::text = e.key",
    ),
    GroupBy.POOL: ("p.name", "LEFT JOIN pools p ON p.id::text = e.key"),
}
_NO_NAME = ("NULL::text", "")


def name_lookup_sql(group_by: GroupBy) -> str | None:
    """Each key of ``:keys`` (text[]) with the name a report by ``group_by`` shows beside
    it, as the report's own joins find it; None for groupings without names."""
    if group_by not in _NAME_JOINS:
        return None
    name, joins = _NAME_JOINS[group_by]
    return f"SELECT e.key, {name} FROM unnest(CAST(:keys AS text[])) AS e(key) {joins}"  # noqa: S608


def _cents(expr: str) -> str:
    """SQL rounding ``expr`` half-even to cents. Postgres' round() goes half away from
    zero, which differs only on an exact half cent: a value of exactly three decimals
    (``min_scale``), so only those take the longer way."""
    scaled = f"(({expr}) * 100)"
    return (
        f"CASE WHEN min_scale({expr}) = 3 AND abs({scaled} - trunc({scaled})) = 0.5"
        f" AND trunc({scaled}) % 2 = 0 THEN trunc({expr}, 2) ELSE round({expr}, 2) END"
    )


def report_sql(group_by: GroupBy) -> str:
    """One row per key plus a totals row (``is_total``), each figure rounded half-even to
    cents once, from exact sums (Postgres numeric) -- ``model.make_row``, in SQL. The
    totals row carries the statement's snapshot too (``snapshot``)."""
    return _REPORT_CTES + _report_rows(group_by)


# The snapshot the statement read in, for a live report kept (app.costs.live); none when
# this transaction wrote (what it sees may yet be rolled back).
_UNWRITTEN = "pg_current_xact_id_if_assigned() IS NULL"
_SNAPSHOT = f"is_total AND {_UNWRITTEN}"


def _report_rows(group_by: GroupBy, where: str = "") -> str:
    """The report's rows from the CTE ``charged`` (one row per charged number and slice).

    Only a number shared between holders in the month has several slices; those alone
    are summed per (key, number), so that each key counts its numbers by counting rows.
    The totals are summed from the slices directly, and count each number once even when
    two tenants shared it."""
    key = GROUP_KEYS[group_by]
    name, joins = _NAME_JOINS.get(group_by, _NO_NAME)
    rows = (
        "SELECT key, 1::bigint, recurring, setup, usage FROM per_number"
        if group_by == GroupBy.NUMBER
        else "SELECT key, COUNT(*), SUM(recurring), SUM(setup), SUM(usage)"
        " FROM per_number GROUP BY key"
    )
    return f""",
mine AS (
    SELECT {key} AS key, number, shared, recurring, setup, usage FROM charged
    WHERE CAST(:tenant AS uuid) IS NULL OR tenant_id = CAST(:tenant AS uuid)
),
per_number AS (
    SELECT key, number, recurring, setup, usage FROM mine WHERE NOT shared
    UNION ALL
    SELECT key, number, SUM(recurring), SUM(setup), SUM(usage) FROM mine WHERE shared
    GROUP BY key, number
),
exact (key, numbers, recurring, setup, usage, is_total) AS (
    SELECT *, false FROM ({rows}) r
    UNION ALL
    SELECT 'total',
           COUNT(*) FILTER (WHERE NOT shared)
           + (SELECT COUNT(DISTINCT number) FROM mine WHERE shared),
           COALESCE(SUM(recurring), 0), COALESCE(SUM(setup), 0), COALESCE(SUM(usage), 0), true
    FROM mine
)
SELECT key, numbers, is_total, {_cents("recurring")} AS recurring, {_cents("setup")} AS setup,
       {_cents("usage")} AS usage, {_cents("recurring + setup + usage")} AS total,
       CASE WHEN NOT is_total THEN {name} END AS name,
       CASE WHEN {_SNAPSHOT} THEN pg_current_snapshot()::text END AS snapshot
FROM exact e {joins} {where}
"""  # noqa: S608  (key, name and joins come from constants)


# A report kept in two parts (``app.costs.parts``): the recurring side per slice, kept
# per month and basis, and usage, priced afresh, which is what most writes change.
_BASIS = f"CASE WHEN {ACCRUAL} THEN 'accrual' ELSE 'cash' END"


def part_sql() -> str:
    """The recurring part of the month on the basis, kept: each slice with its recurring
    and setup charges, under a new ``cost_live_parts`` row stamped with this statement's
    snapshot (one statement: the stamp is the snapshot the slices were read in); returns
    the part's id. Run in a transaction of its own, which writes nothing the costs are
    computed from."""
    return f"""{_RECURRING_CTES},
part AS (
    INSERT INTO cost_live_parts (month, basis, snapshot)
    VALUES ({M0}, {_BASIS}, pg_current_snapshot())
    RETURNING id
),
kept AS (
    INSERT INTO cost_live_slices
        (part, number, country, tenant_id, pool_id, shared, sf, st, c, e, recurring, setup)
    SELECT part.id, s.* FROM ({_PART_SLICES}
    ) s CROSS JOIN part
)
SELECT id FROM part"""  # noqa: S608


def drop_parts_sql(where: str) -> str:
    """Delete the parts for which ``where`` (a condition on ``p``, a ``cost_live_parts``
    row) holds, with their slices and rows by number (neither has a foreign key to its
    part: checking one took longer than computing the slices)."""
    return (
        f"WITH gone AS (DELETE FROM cost_live_parts p WHERE {where} RETURNING p.id),"  # noqa: S608
        " rows AS (DELETE FROM cost_live_number_rows k WHERE k.part IN (SELECT id FROM gone))"
        " DELETE FROM cost_live_slices s WHERE s.part IN (SELECT id FROM gone)"
    )


#: The part's statement uses no tenant: one part serves every scope.
PART_PARAMETERS = ("m0", "m1", "i0", "i1", "accrual")


# The numbers the part's slices are computed afresh for (``part.touched``).
_TOUCHED = "CAST((SELECT touched FROM part) AS text[])"


def _part_ctes(valid: str, touched: str | None, parts: str = "cost_live_parts p") -> str:
    """The CTEs ``part`` (the id of the latest part of ``parts`` of the month and basis for
    which ``valid`` holds, a condition on ``p``, and ``touched``: the numbers that
    recurring changes the part did not see touched, an array expression on ``p``; None:
    none, ``valid`` says so), the whole statement's recurring CTEs restricted to those
    numbers, ``part_slices`` (the part's slices as they are now: the kept ones of every
    other number, the touched numbers' computed afresh) and ``usage``: the month's usage
    days each priced by the fee version holding it (the latest seen by that day, else
    the first: ``fees``' ranges, looked up by the index) and put in the slice holding it,
    inside the number's days, as the whole statement's ``usage`` does.

    Without touched numbers ``part_slices`` is the kept slices alone: the union with the
    fresh ones made each scan of the 97,000 kept slices carry every column (~+40 ms)."""
    kept = (
        "SELECT number, country, tenant_id, pool_id, shared, sf, st, c, e, recurring, setup"
        " FROM cost_live_slices WHERE part = (SELECT id FROM part)"
    )
    if touched is None:
        touched, recurring, now = "CAST('{}' AS text[])", "", f"\n    {kept}"
    else:
        recurring = _recurring_ctes(_TOUCHED) + ","
        now = f"\n    {kept} AND number <> ALL({_TOUCHED})\n    UNION ALL{_PART_SLICES}"
    return f"""
WITH
part AS (
    SELECT p.id, {touched} AS touched FROM {parts}
    WHERE p.month = {M0} AND p.basis = {_BASIS} AND ({valid})
    ORDER BY p.id DESC LIMIT 1
),{recurring}
part_slices AS NOT MATERIALIZED ({now}
),
usage AS (
    SELECT s.number, s.sf,
           SUM(u.sms_mo * f.fee_sms_mo + u.voice_mo_minutes * f.fee_voice_mo) AS amount
    FROM number_usage_daily u
    JOIN part_slices s ON s.number = u.number
     AND u.day >= s.sf AND u.day < s.st AND u.day >= s.c AND u.day < s.e
    CROSS JOIN LATERAL (
        SELECT fee_sms_mo, fee_voice_mo
        FROM (SELECT *, (valid_from {_DAY} <= u.day AS seen
              FROM number_fee_versions WHERE number = u.number) v
        ORDER BY seen DESC, CASE WHEN seen THEN valid_from END DESC,
                 CASE WHEN seen THEN id END DESC, valid_from, id
        LIMIT 1
    ) f
    WHERE u.day >= {M0} AND u.day < {M1}
    GROUP BY 1, 2
)"""  # noqa: S608  (valid, touched and parts: constants of this package)


# The report's ``charged`` from the part's slices as they are now and the priced usage.
_CHARGED_FROM_PART = """,
charged AS (
    SELECT s.number, s.country, s.tenant_id, s.pool_id, s.shared,
           COALESCE(s.recurring, 0) AS recurring, COALESCE(s.setup, 0) AS setup,
           COALESCE(u.amount, 0) AS usage
    FROM part_slices s
    LEFT JOIN usage u ON u.number = s.number AND u.sf = s.sf
    WHERE s.recurring IS NOT NULL OR s.setup IS NOT NULL OR u.amount IS NOT NULL
)"""


def parts_report_sql(group_by: GroupBy, valid: str, touched: str | None = None) -> str:
    """:func:`report_sql`'s rows from the kept recurring part of the month and basis for
    which ``valid`` (a condition on ``p``, a ``cost_live_parts`` row) holds, with the
    slices of the numbers of ``touched`` computed afresh (:func:`_part_ctes`), and the
    month's usage; no rows at all, not even the totals, when there is none."""
    where = "WHERE EXISTS (SELECT 1 FROM part)"
    return _part_ctes(valid, touched) + _CHARGED_FROM_PART + _report_rows(group_by, where)


PARTS_REPORT_PARAMETERS = ("m0", "m1", "accrual", "tenant")
#: What a report from a part with touched numbers takes besides: their slices are
#: computed as the whole statement does.
AFRESH_PARAMETERS = ("i0", "i1")


# The account-wide report by number from a part, spliced (``app.costs.splice``, migration
# 0026): the part's rows without usage, kept encoded, and afresh only the rows of the
# numbers with usage this month or touched since the part (migration 0027).

#: Each number's row without usage, from the part ``$1``'s slices (:func:`_report_rows`'s
#: per-number sums with usage 0: numbers with a charge only), then the totals' sums.
NUMBER_ROWS_SQL = f"""
SELECT number, {_cents("recurring")}, {_cents("setup")}, {_cents("0::numeric")},
       {_cents("recurring + setup")}
FROM (
    SELECT number, COALESCE(SUM(recurring), 0) AS recurring, COALESCE(SUM(setup), 0) AS setup
    FROM cost_live_slices WHERE part = $1
    GROUP BY number
    HAVING bool_or(recurring IS NOT NULL OR setup IS NOT NULL)
) n"""  # noqa: S608
NUMBER_SUMS_SQL = (
    "SELECT COALESCE(SUM(recurring), 0), COALESCE(SUM(setup), 0)"
    " FROM cost_live_slices WHERE part = $1"
)


def spliced_sql(valid: str, touched: str | None = None) -> str:
    """The rows of the numbers with usage this month or touched since the part (priced
    as :func:`_part_ctes` does, their recurring and setup summed over their slices as
    they are now; ``in_part``: the kept rows have one of theirs, ``has_row``: the report
    has one now), then the totals, from the kept sums with the touched numbers' kept
    slices taken out and their fresh ones put in, and this usage, with the kept rows
    (``keys``, ``offsets``, ``rows``) and the snapshot: from the latest part with kept
    rows for which ``valid`` holds; no rows at all when there is none."""
    parts = "cost_live_parts p JOIN cost_live_number_rows k ON k.part = p.id"
    charged = "bool_or(s.recurring IS NOT NULL OR s.setup IS NOT NULL)"
    return f"""{_part_ctes(valid, touched, parts)},
used AS (
    SELECT number, SUM(amount) AS usage FROM usage GROUP BY number
),
affected AS (
    SELECT number FROM used UNION SELECT unnest(touched) FROM part
),
was AS (  -- the touched numbers' slices as the part kept them
    SELECT s.number, COALESCE(SUM(s.recurring), 0) AS recurring,
           COALESCE(SUM(s.setup), 0) AS setup, {charged} AS in_part
    FROM cost_live_slices s
    WHERE s.part = (SELECT id FROM part) AND cardinality({_TOUCHED}) > 0
      AND s.number = ANY({_TOUCHED})
    GROUP BY s.number
),
priced AS (
    SELECT a.number, COALESCE(SUM(s.recurring), 0) AS recurring,
           COALESCE(SUM(s.setup), 0) AS setup, COALESCE(u.usage, 0) AS usage,
           CASE WHEN a.number = ANY({_TOUCHED}) THEN COALESCE(w.in_part, false)
                ELSE {charged} END AS in_part,
           u.usage IS NOT NULL OR COALESCE({charged}, false) AS has_row,
           a.number = ANY({_TOUCHED}) AS touched
    FROM affected a
    LEFT JOIN used u ON u.number = a.number
    LEFT JOIN was w ON w.number = a.number
    LEFT JOIN part_slices s ON s.number = a.number
    GROUP BY a.number, u.usage, w.in_part
)
SELECT number AS key, 1::bigint AS numbers, false AS is_total, {_cents("recurring")},
       {_cents("setup")}, {_cents("usage")}, {_cents("recurring + setup + usage")}, in_part,
       has_row, NULL::bytea AS keys, NULL::bytea AS offsets, NULL::bytea AS rows,
       NULL::text AS snapshot
FROM priced
UNION ALL
SELECT 'total', k.numbers + n.added - n.gone, true,
       {_cents("k.recurring - w.recurring + n.recurring")},
       {_cents("k.setup - w.setup + n.setup")}, {_cents("n.usage")},
       {_cents("k.recurring - w.recurring + n.recurring + k.setup - w.setup + n.setup + n.usage")},
       NULL, NULL, k.keys, k.offsets, k.rows,
       CASE WHEN {_UNWRITTEN} THEN pg_current_snapshot()::text END
FROM cost_live_number_rows k,
     (SELECT COALESCE(SUM(recurring), 0) AS recurring, COALESCE(SUM(setup), 0) AS setup
      FROM was) w,
     (SELECT count(*) FILTER (WHERE has_row AND NOT in_part) AS added,
             count(*) FILTER (WHERE in_part AND NOT has_row) AS gone,
             COALESCE(SUM(recurring) FILTER (WHERE touched), 0) AS recurring,
             COALESCE(SUM(setup) FILTER (WHERE touched), 0) AS setup,
             COALESCE(SUM(usage), 0) AS usage
      FROM priced) n
WHERE k.part = (SELECT id FROM part)
"""  # noqa: S608  (module constants only)


SPLICED_PARAMETERS = ("m0", "m1", "accrual")


# The forecast: cash basis from the current mirror, per month. Numbers being ordered
# count from today with the interval asked for; their fees are NULL until seven's answer
# fills them in, so they are counted as unpriced instead of guessed. A missing number
# counts too: until its absence is confirmed, seven may well go on billing it.
_LIVE = f"""
        SELECT n.number, n.payment_interval AS pi, n.fee_setup, n.fee_basic_charge,
               COALESCE((n.seven_created_at {_DAY}, CAST(:today AS date)) AS c,
               COALESCE((n.seven_expires_at {_DAY}, 'infinity'::date) AS e
        FROM numbers n
        WHERE n.state IN {sql((*LIVE_STATES, NumberState.ORDERING))}
          AND (CAST(:tenant AS uuid) IS NULL OR n.tenant_id = CAST(:tenant AS uuid))"""  # noqa: S608
FORECAST_SQL = f"""
WITH
live AS ({_schedule(_LIVE)}
),
-- The periods billed inside the window (of any length): one set-returning call per number
-- over its period indexes.
periods AS (
    SELECT * FROM (
        SELECT s.*, {_billing_day("m")} AS b
        FROM (SELECT *, cm + step * generate_series({_FIRST_CASH}, {_LAST}) AS m FROM live) s
        OFFSET 0  -- b once per period, not again in the filter below
    ) p
    WHERE b < e
)
SELECT to_char(b, 'YYYY-MM') AS month,
       COUNT(DISTINCT number) AS numbers,
       COALESCE(SUM(fee_basic_charge), 0) AS recurring,
       COALESCE(SUM(fee_setup) FILTER (WHERE b = c), 0) AS setup,
       COUNT(DISTINCT number) FILTER (WHERE fee_basic_charge IS NULL) AS unpriced
FROM periods
GROUP BY 1
ORDER BY 1
"""  # noqa: S608  (only module constants are spliced in)
