"""Cost reports and the forecast: load with one statement each, shape with the model.

The arithmetic runs in Postgres (``sql.py``), exactly, over numeric, and so does the
rounding of each figure, once, half-even: Python only wraps the rows (for 100,000 rows,
rounding in Python cost more than the whole query). The statements run on the session's
asyncpg connection itself, in its transaction: SQLAlchemy's result processing of 100,000
rows cost about 0.3 s.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy import func, select, text, union
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.costs import live, parts, rollups, splice
from app.costs.model import Basis, GroupBy, Month, Report, Row, add_months, cents
from app.costs.rendered import Rendered, decoded, render
from app.costs.sql import (
    AFRESH_PARAMETERS,
    FORECAST_PARAMETERS,
    FORECAST_SQL,
    PARTS_REPORT_PARAMETERS,
    REPORT_PARAMETERS,
    SPLICED_PARAMETERS,
    TAG_REPORT_PARAMETERS,
    TUNING_SQL,
    numbered,
    report_sql,
)
from app.db.driver import asyncpg_connection
from app.db.models import Number, Tenant

# berlin_today: the report's default month is read from it (the controller, the CLI).
from app.numbers.mirror import SEVEN_TIME_ZONE
from app.numbers.mirror import berlin_today as berlin_today

MAX_FORECAST_MONTHS = 24


def _month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def _window(start: date, stop: date) -> dict[str, object]:
    """Bind parameters of the day window [start, stop) and its first and last month."""
    first, last = _month_index(start), _month_index(stop - timedelta(days=1))
    return {"m0": start, "m1": stop, "i0": first, "i1": last}


_TUNING = text(TUNING_SQL)


def _report_parameters(group_by: GroupBy) -> tuple[str, ...]:
    return TAG_REPORT_PARAMETERS if group_by == GroupBy.TAG else REPORT_PARAMETERS


_REPORT_SQL = {
    group_by: numbered(report_sql(group_by), _report_parameters(group_by)) for group_by in GroupBy
}
_FORECAST_SQL = numbered(FORECAST_SQL, FORECAST_PARAMETERS)


async def _fetch(
    session: AsyncSession, sql: str, names: tuple[str, ...], values: dict[str, Any]
) -> list[Any]:
    """The rows of ``sql`` (asyncpg records), tuned, in the session's transaction."""
    await session.execute(_TUNING)  # also begins the transaction the statement joins
    driver = await asyncpg_connection(await session.connection())
    return await driver.fetch(sql, *(values[name] for name in names))


async def cost_answer(
    session: AsyncSession,
    month: Month,
    basis: Basis,
    group_by: GroupBy,
    tenant_id: uuid.UUID | None = None,
    tag: str | None = None,
    *,
    as_csv: bool = False,
) -> Rendered:
    """The month's report as the answers write it (``app.costs.rendered``); with
    ``tenant_id``, only the days that tenant held. ``tag``: the key of a report by tag
    (``GroupBy.TAG``). ``as_csv``: the answer writes CSV, and may have no JSON. A closed
    month's comes from its rollup (``app.costs.rollups``), another's (the current month)
    from the live reports kept (``app.costs.live``); either computed and stored here when
    missing or outdated."""
    if not rollups.rolls_up(month, group_by, berlin_today()):
        return await _live_answer(session, month, basis, group_by, tenant_id, tag, as_csv)
    found = await rollups.read(session, month, basis, group_by, tenant_id, as_csv)
    if found is not None:
        return found
    version = await rollups.month_version(session, month)
    rendered = render(await live_report(session, month, basis, group_by, tenant_id))
    await rollups.store(_engine(session), month, basis, group_by, tenant_id, version, rendered)
    return rendered


async def _live_answer(
    session: AsyncSession,
    month: Month,
    basis: Basis,
    group_by: GroupBy,
    tenant_id: uuid.UUID | None,
    tag: str | None,
    as_csv: bool,
) -> Rendered:
    if not live.keeps(group_by):
        return render(await live_report(session, month, basis, group_by, tenant_id, tag))
    found = await live.read(session, month, basis, group_by, tenant_id, as_csv)
    if found is not None:
        return found
    # A session on a connection of its own making (a test's transaction) keeps nothing.
    if not isinstance(session.bind, AsyncEngine):
        return render(await live_report(session, month, basis, group_by, tenant_id))
    rendered, snapshot, from_valid_part = await _from_parts(
        session, month, basis, group_by, tenant_id
    )
    if snapshot is not None:
        await live.store(
            session.bind, month, basis, group_by, tenant_id, snapshot, rendered, as_csv
        )
        if not from_valid_part:  # after the store: the build does not slow this answer's
            parts.keep_later(session.bind, month, basis, _report_values(month, basis, None, None))
    return rendered


async def _from_parts(
    session: AsyncSession,
    month: Month,
    basis: Basis,
    group_by: GroupBy,
    tenant_id: uuid.UUID | None,
) -> tuple[Rendered, str | None, bool]:
    """The live report, the snapshot to keep it under (None when this session has
    written: what it sees is its own) and whether it came from a valid recurring part
    and the month's usage (``app.costs.parts``; account-wide by number: the part's rows
    kept encoded, the rows with usage spliced in, ``app.costs.splice``). Else from a
    usable part with the numbers that recurring changes touched since computed afresh,
    or from the whole statement in this session's transaction, as before the parts; the
    caller then keeps the part anew, off the answer's path (the report from a part
    with touched numbers cost ~40-60 ms more, ``sql._part_ctes``)."""
    values = _report_values(month, basis, tenant_id, None)
    for valid, by_number, from_part, extra in (
        (True, splice.REPORT_SQL, parts.REPORT_SQL, ()),
        (False, splice.AFRESH_SQL, parts.AFRESH_SQL, AFRESH_PARAMETERS),
    ):
        if group_by == GroupBy.NUMBER and tenant_id is None:
            records = await _fetch(session, by_number, (*SPLICED_PARAMETERS, *extra), values)
            found = splice.spliced(records)
            if found is not None:
                return *found, valid
        names = (*PARTS_REPORT_PARAMETERS, *extra)
        records = await _fetch(session, from_part[group_by], names, values)
        if records:
            report, snapshot = _report(records)
            return render(report), snapshot, valid
    report, snapshot = await _computed(session, month, basis, group_by, tenant_id)
    return render(report), snapshot, False


async def cost_report(
    session: AsyncSession,
    month: Month,
    basis: Basis,
    group_by: GroupBy,
    tenant_id: uuid.UUID | None = None,
    tag: str | None = None,
) -> Report:
    """:func:`cost_answer`'s report with its figures as ``Decimal``s, for what reads them
    one by one (the CLI's table, the console, budgets); a live one is never encoded."""
    return decoded(await cost_answer(session, month, basis, group_by, tenant_id, tag))


async def live_report(
    session: AsyncSession,
    month: Month,
    basis: Basis,
    group_by: GroupBy,
    tenant_id: uuid.UUID | None = None,
    tag: str | None = None,
) -> Report:
    """The month's report computed from the tables as they are (one statement)."""
    return (await _computed(session, month, basis, group_by, tenant_id, tag))[0]


async def _computed(
    session: AsyncSession,
    month: Month,
    basis: Basis,
    group_by: GroupBy,
    tenant_id: uuid.UUID | None = None,
    tag: str | None = None,
) -> tuple[Report, str | None]:
    """:func:`live_report` and the snapshot its statement read in (text), or None when
    the session's transaction has written."""
    if (group_by == GroupBy.TAG) != (tag is not None):
        raise ValueError("a report by tag, and only one, names the tag's key")
    values = _report_values(month, basis, tenant_id, tag)
    names = _report_parameters(group_by)
    return _report(await _fetch(session, _REPORT_SQL[group_by], names, values))


def _report_values(
    month: Month, basis: Basis, tenant_id: uuid.UUID | None, tag: str | None
) -> dict[str, object]:
    return {
        **_window(month.start, month.stop),
        "accrual": basis == Basis.ACCRUAL,
        "tenant": tenant_id,
        "tag": tag,
    }


def _report(records: list[Any]) -> tuple[Report, str | None]:
    """The report of a report statement's rows, and the snapshot on its totals row."""
    rows: list[Row] = []
    zero = Decimal("0.00")
    totals = Row("total", 0, zero, zero, zero, zero)
    snapshot = None
    # Positional unpacking: for 100,000 rows, named access on each row costs ~0.1 s.
    for key, numbers, is_total, recurring, setup, usage, total, name, read_in in records:
        row = Row(key, numbers, recurring, setup, usage, total, name)
        if is_total:
            totals, snapshot = row, read_in
        else:
            rows.append(row)
    rows.sort(key=_by_key)
    return Report(rows, totals), snapshot


def _engine(session: AsyncSession) -> AsyncEngine:
    """The engine ``session`` was made from: a rollup is stored in a transaction of its own."""
    bind = session.bind
    if not isinstance(bind, AsyncEngine):
        raise TypeError("cost reports of closed months need a session bound to an engine")
    return bind


async def roll_up_closed_months(engine: AsyncEngine, today: date) -> int:
    """Roll up, account-wide, every report of each closed month since the first number
    was created that has no valid rollup (never rolled up, or outdated by a late
    change); the number rolled up. Safe to run again: only what is missing is done."""
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as session:
        first = await session.scalar(select(func.min(Number.seven_created_at)))
    if first is None:
        return 0
    months = []
    month = Month.of(first.astimezone(SEVEN_TIME_ZONE).date())
    while rollups.rolls_up(month, GroupBy.TENANT, today):
        months.append(month)
        month = month.next()
    done = await rollups.valid(engine, months)
    count = 0
    for month in months:
        for basis in Basis:
            for group_by in rollups.ROLLED_UP:
                if (month.start, basis.value, group_by.value) in done:
                    continue
                async with sessions() as session:
                    await cost_answer(session, month, basis, group_by)
                count += 1
    return count


# The live months' parts that recurring changes have touched since (served meanwhile
# with those numbers' slices computed afresh) and that no valid part has replaced.
_TOUCHED_PARTS = text(
    "SELECT DISTINCT p.month, p.basis FROM cost_live_parts p"  # noqa: S608
    " WHERE p.month >= :oldest AND " + live.usable_sql("p") + " AND NOT EXISTS"
    " (SELECT 1 FROM cost_live_parts v WHERE v.month = p.month AND v.basis = p.basis"
    " AND " + live.valid_sql("v", recurring_only=True) + ")"
)


async def rebuild_touched_parts(engine: AsyncEngine, today: date) -> int:
    """Build again each live month's recurring part that recurring changes have touched
    since it was kept and that no answer has built anew since (``app.costs.parts``); how
    many were built. Hourly, before the prune: a part built again holds back no change
    row (one that is not keeps the rows naming its numbers)."""
    oldest = Month.of(today - timedelta(days=1))  # as the prune: the first not rolled up
    async with engine.connect() as connection:
        found = (await connection.execute(_TOUCHED_PARTS, {"oldest": oldest.start})).all()
    built = 0
    for start, basis_name in found:
        month, basis = Month.of(start), Basis(basis_name)
        values = _report_values(month, basis, None, None)
        built += await parts.build(engine, month, basis, values)
    return built


def _by_key(row: Row) -> str:
    return row.key


class ForecastMonth(msgspec.Struct, frozen=True):
    month: str
    numbers: int
    recurring: Decimal
    setup: Decimal
    total: Decimal
    unpriced: int
    """Numbers being ordered whose fees seven has not told us yet (counted at zero)."""


async def forecast(
    session: AsyncSession,
    months: int,
    today: date,
    tenant_id: uuid.UUID | None = None,
) -> list[ForecastMonth]:
    """Cash charges per month, this month first, from the mirror as it is now."""
    start = Month.of(today).start
    stop = add_months(start, months)
    values = {**_window(start, stop), "today": today, "tenant": tenant_id}
    records = await _fetch(session, _FORECAST_SQL, FORECAST_PARAMETERS, values)
    found = {record["month"]: record for record in records}
    out = []
    month = Month.of(today)
    for _ in range(months):
        record = found.get(str(month))
        recurring = record["recurring"] if record else Decimal(0)
        setup = record["setup"] if record else Decimal(0)
        out.append(
            ForecastMonth(
                month=str(month),
                numbers=record["numbers"] if record else 0,
                recurring=cents(recurring),
                setup=cents(setup),
                total=cents(recurring + setup),
                unpriced=record["unpriced"] if record else 0,
            )
        )
        month = month.next()
    return out


#: The most tag keys :func:`tag_keys` offers.
MAX_TAG_KEYS = 50


async def tag_keys(session: AsyncSession, tenant_id: uuid.UUID | None = None) -> list[str]:
    """The tag keys a report can be grouped by (``group_by=tag:<key>``): those on numbers
    and tenants; for a tenant, on the numbers it holds and on itself."""
    on_numbers = select(func.jsonb_object_keys(Number.tags).label("key"))
    on_tenants = select(func.jsonb_object_keys(Tenant.tags).label("key"))
    if tenant_id is not None:
        on_numbers = on_numbers.where(Number.tenant_id == tenant_id)
        on_tenants = on_tenants.where(Tenant.id == tenant_id)
    keys = union(on_numbers, on_tenants).subquery()
    found = await session.scalars(select(keys.c.key).order_by(keys.c.key).limit(MAX_TAG_KEYS))
    return list(found)
