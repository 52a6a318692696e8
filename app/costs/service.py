"""Cost reports and the forecast: load with one statement each, shape with the model.

The arithmetic runs in Postgres (``sql.py``), exactly, over numeric, and so does the
rounding of each figure, once, half-even: Python only wraps the rows (for 100,000 rows,
rounding in Python cost more than the whole query).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.costs.model import Basis, GroupBy, Month, Report, Row, add_months, cents
from app.costs.sql import FORECAST_SQL, report_sql
from app.numbers.mirror import SEVEN_TIME_ZONE

FORECAST_MONTHS = range(1, 25)


def _month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def _window(start: date, stop: date) -> dict[str, object]:
    """Bind parameters of the day window [start, stop) and its first and last month."""
    first, last = _month_index(start), _month_index(stop - timedelta(days=1))
    # Periods that can overlap: one per month of the window, plus the one running into it.
    return {"m0": start, "m1": stop, "i0": first, "i1": last, "spread": last - first + 1}


async def _tune(session: AsyncSession) -> None:
    """For this transaction only: no JIT (the planner's estimates for the range joins
    are huge, and compiling took seconds for a query that runs in a fraction of one),
    and room to sort a month of charges in memory."""
    await session.execute(text("SET LOCAL jit = off"))
    await session.execute(text("SET LOCAL work_mem = '64MB'"))


async def cost_report(
    session: AsyncSession,
    month: Month,
    basis: Basis,
    group_by: GroupBy,
    tenant_id: uuid.UUID | None = None,
) -> Report:
    """The month's report; with ``tenant_id``, only the days that tenant held."""
    await _tune(session)
    result = await session.execute(
        text(report_sql(group_by)),
        {**_window(month.start, month.stop), "accrual": basis == "accrual", "tenant": tenant_id},
    )
    rows: list[Row] = []
    totals = Row("total", 0, *[Decimal("0.00")] * 4)
    # Positional unpacking: for 100,000 rows, named access on each row costs ~0.1 s.
    for key, numbers, is_total, *figures in result.tuples():
        row = Row(key, numbers, *figures)
        if is_total:
            totals = row
        else:
            rows.append(row)
    rows.sort(key=lambda row: row.key)
    return Report(rows, totals)


@dataclass(frozen=True, slots=True)
class ForecastMonth:
    month: str
    numbers: int
    recurring: Decimal
    setup: Decimal
    total: Decimal
    unpriced: int
    """Numbers being ordered whose fees seven has not told us yet (counted at zero)."""


def berlin_today() -> date:
    return datetime.now(SEVEN_TIME_ZONE).date()


async def forecast(
    session: AsyncSession,
    months: int,
    today: date,
    tenant_id: uuid.UUID | None = None,
) -> list[ForecastMonth]:
    """Cash charges per month, this month first, from the mirror as it is now."""
    start = Month.of(today).start
    stop = add_months(start, months)
    await _tune(session)
    result = await session.execute(
        text(FORECAST_SQL), {**_window(start, stop), "today": today, "tenant": tenant_id}
    )
    found = {record.month: record for record in result}
    out = []
    month = Month.of(today)
    for _ in range(months):
        record = found.get(str(month))
        recurring = record.recurring if record else Decimal(0)
        setup = record.setup if record else Decimal(0)
        out.append(
            ForecastMonth(
                month=str(month),
                numbers=record.numbers if record else 0,
                recurring=cents(recurring),
                setup=cents(setup),
                total=cents(recurring + setup),
                unpriced=record.unpriced if record else 0,
            )
        )
        month = month.next()
    return out
