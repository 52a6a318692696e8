"""What ``GET /v1/costs`` and ``GET /v1/costs/forecast`` answer, as JSON and as CSV.

The report's rows and totals are encoded once (``app.costs.rendered``, where amounts
become the one money string of ``app.lib.money``); :class:`CostReportOut` describes the
answer :func:`report_json` writes around them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

import msgspec

from app.costs.model import Basis, GroupBy, Report, Row
from app.costs.rendered import CostRowOut, CostTotalsOut, Rendered, row_out, totals_out
from app.costs.service import ForecastMonth
from app.lib.money import Money, money


class CostReportOut(msgspec.Struct):
    """Rows keyed by ``group_by``. For ``tenant``: the tenant's id; days no tenant held go
    to ``pool:<pool id>`` or ``unassigned``. For ``pool``: the pool's id or ``unassigned``.
    For ``tag`` (asked as ``tag:<key>``, the key in ``tag``): the tag's value, the
    number's own else its holder's on those days, or ``untagged``. Each row's ``name`` is
    the tenant's or pool's name beside its key (null for ``unassigned`` and for
    ``country``, ``number`` and ``tag`` rows)."""

    month: Annotated[str, msgspec.Meta(examples=["2026-03"])]
    basis: Basis
    group_by: GroupBy
    currency: Literal["EUR"]
    rows: list[CostRowOut]
    totals: CostTotalsOut
    tag: Annotated[str | None, msgspec.Meta(examples=["cost_center"])] = None
    """The tag's key when ``group_by`` is ``tag``; else null."""


class ForecastMonthOut(msgspec.Struct):
    """A month of the forecast as the API names it."""

    month: str
    numbers: int
    recurring: Money
    setup: Money
    total: Money
    unpriced: int
    """Numbers being ordered whose fees seven has not told us yet (counted at zero)."""


class ForecastTotalsOut(msgspec.Struct):
    recurring: Money
    setup: Money
    total: Money


class ForecastOut(msgspec.Struct):
    """Cash charges to come, this month first. ``unpriced`` counts numbers being ordered
    whose fees seven has not quoted yet: they are included at zero. Usage is not projected."""

    currency: Literal["EUR"]
    basis: Literal["cash"]
    months: list[ForecastMonthOut]
    totals: ForecastTotalsOut


def report_out(
    month: str, basis: Basis, group_by: GroupBy, report: Report, tag: str | None = None
) -> CostReportOut:
    return CostReportOut(
        month=month,
        basis=basis,
        group_by=group_by,
        currency="EUR",
        rows=[row_out(row) for row in report.rows],
        totals=totals_out(report.totals),
        tag=tag,
    )


#: A report as the schema shows it, made by :func:`report_out` itself.
REPORT_EXAMPLE = report_out(
    "2026-03",
    Basis.CASH,
    GroupBy.COUNTRY,
    Report(
        rows=[
            Row("DE", 2, Decimal("9.80"), Decimal("0.00"), Decimal("0.15"), Decimal("9.95")),
            Row("DK", 1, Decimal("29.90"), Decimal("19.90"), Decimal("0.00"), Decimal("49.80")),
        ],
        totals=Row(
            "total", 3, Decimal("39.70"), Decimal("19.90"), Decimal("0.15"), Decimal("59.75")
        ),
    ),
)


class _ReportAnswer(msgspec.Struct):
    """:class:`CostReportOut` with its rows and totals already encoded: the same fields,
    in the same order, so the same JSON."""

    month: str
    basis: Basis
    group_by: GroupBy
    currency: Literal["EUR"]
    rows: msgspec.Raw
    totals: msgspec.Raw
    tag: str | None = None


_encoder = msgspec.json.Encoder()


def report_json(
    month: str, basis: Basis, group_by: GroupBy, report: Rendered, tag: str | None = None
) -> bytes:
    """What ``GET /v1/costs`` answers in JSON (:class:`CostReportOut`), around the rows
    encoded once (``app.costs.rendered``): for 97,000 rows a copy, not 390,000 amounts."""
    return _encoder.encode(
        _ReportAnswer(month, basis, group_by, "EUR", report.rows, report.totals, tag)
    )


def forecast_out(months: list[ForecastMonth]) -> ForecastOut:
    recurring = sum((m.recurring for m in months), Decimal(0))
    setup = sum((m.setup for m in months), Decimal(0))
    return ForecastOut(
        currency="EUR",
        basis="cash",
        months=[
            ForecastMonthOut(
                month=m.month,
                numbers=m.numbers,
                recurring=money(m.recurring),
                setup=money(m.setup),
                total=money(m.total),
                unpriced=m.unpriced,
            )
            for m in months
        ],
        totals=ForecastTotalsOut(
            recurring=money(recurring), setup=money(setup), total=money(recurring + setup)
        ),
    )
