"""The cost model against figures worked out by hand, on both bases.

``CASES`` is shared with tests/integration/test_costs.py, which puts the same numbers
into Postgres and expects the same figures from ``GET /v1/costs``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest

from app.costs.model import (
    Basis,
    FeeVersion,
    GroupBy,
    Holding,
    Month,
    NumberFacts,
    Usage,
    add_months,
    billing_day,
    report,
)

TENANT_A = "00000000-0000-4000-8000-00000000000a"
TENANT_B = "00000000-0000-4000-8000-00000000000b"
POOL_P = "00000000-0000-4000-8000-0000000000f1"


def _fees(setup: str, basic: str, sms: str = "0") -> FeeVersion:
    return FeeVersion(date(2020, 1, 1), Decimal(setup), Decimal(basic), Decimal(sms))


# Created on 31 January: billed 31 Jan, 28 Feb, 31 Mar, ...
END_OF_MONTH = NumberFacts("4915100000031", "DE", "monthly", date(2026, 1, 31), (_fees("5", "10"),))
# Annual, created mid-June: billed 15 June every year, periods of 365 days.
ANNUAL = NumberFacts("4915100000615", "DE", "annually", date(2025, 6, 15), (_fees("0", "120"),))
# First month: setup, the first basic charge and 3 inbound SMS at 0.05 on 12 March.
FIRST_MONTH = NumberFacts(
    "4915100000310",
    "AT",
    "monthly",
    date(2026, 3, 10),
    (_fees("20", "10", sms="0.05"),),
    usage={date(2026, 3, 12): Usage(sms_mo=3)},
)
# Deleted at period end: expires on the billing day 10 April, which is not charged.
DELETED = NumberFacts(
    "4915100000110", "DE", "monthly", date(2026, 1, 10), (_fees("0", "10"),), ends=date(2026, 4, 10)
)
# Deleted mid-period: a deleted number's end is the day it went, any day (here 20 March).
DELETED_MID_PERIOD = NumberFacts(
    "4915100000111", "DE", "monthly", date(2026, 1, 10), (_fees("0", "10"),), ends=date(2026, 3, 20)
)
# The sync saw the basic charge go from 10 to 13 on 20 March: 10 April is the first at 13.
FEE_CHANGE = NumberFacts(
    "4915100000120",
    "DE",
    "monthly",
    date(2026, 1, 10),
    (_fees("0", "10"), FeeVersion(date(2026, 3, 20), Decimal(0), Decimal(13))),
)
# 31 a month and March has 31 days: 1.00 a day. Tenant A until 10 March, the pool from
# 11 to 20 March, tenant B from 21 March.
MOVED = NumberFacts(
    "4915100000101",
    "FR",
    "monthly",
    date(2026, 1, 1),
    (_fees("0", "31"),),
    pool=POOL_P,
    holdings=(
        Holding(TENANT_A, date(2026, 1, 1), date(2026, 3, 11)),
        Holding(TENANT_B, date(2026, 3, 21)),
    ),
)


@dataclass(frozen=True)
class Case:
    name: str
    facts: NumberFacts
    month: str
    group_by: GroupBy
    # basis -> {key: (recurring, setup, usage, total)}
    expected: dict[Basis, dict[str, tuple[str, str, str, str]]]


def _total(figure: str) -> tuple[str, str, str, str]:
    return (figure, "0.00", "0.00", figure)


CASES = [
    Case(
        "monthly from the 31st, February bills on the 28th",
        END_OF_MONTH,
        "2026-02",
        "number",
        {
            "cash": {END_OF_MONTH.number: _total("10.00")},
            # 27 days of [31 Jan, 28 Feb) at 10/28 + 28 Feb of [28 Feb, 31 Mar) at 10/31
            "accrual": {END_OF_MONTH.number: _total("9.97")},
        },
    ),
    Case(
        "monthly from the 31st, March bills on the 31st again",
        END_OF_MONTH,
        "2026-03",
        "number",
        {
            "cash": {END_OF_MONTH.number: _total("10.00")},
            # 30 days of [28 Feb, 31 Mar) at 10/31 + 31 Mar of [31 Mar, 30 Apr) at 10/30
            "accrual": {END_OF_MONTH.number: _total("10.01")},
        },
    ),
    Case(
        "first month of the number from the 31st, with its setup fee",
        END_OF_MONTH,
        "2026-01",
        "number",
        {
            "cash": {END_OF_MONTH.number: ("10.00", "5.00", "0.00", "15.00")},
            # 31 Jan alone: 10/28
            "accrual": {END_OF_MONTH.number: ("0.36", "5.00", "0.00", "5.36")},
        },
    ),
    Case(
        "annual number renewing mid-month",
        ANNUAL,
        "2026-06",
        "country",
        {
            "cash": {"DE": _total("120.00")},
            # 14 + 16 days, each at 120/365
            "accrual": {"DE": _total("9.86")},
        },
    ),
    Case(
        "annual number in a month without its renewal",
        ANNUAL,
        "2026-07",
        "country",
        {"cash": {}, "accrual": {"DE": _total("10.19")}},  # 31 * 120/365
    ),
    Case(
        "first month: setup, first charge and inbound SMS",
        FIRST_MONTH,
        "2026-03",
        "number",
        {
            "cash": {FIRST_MONTH.number: ("10.00", "20.00", "0.15", "30.15")},
            # 22 days of [10 Mar, 10 Apr) at 10/31 = 7.0968
            "accrual": {FIRST_MONTH.number: ("7.10", "20.00", "0.15", "27.25")},
        },
    ),
    Case(
        "deleted at period end: the last month it runs",
        DELETED,
        "2026-03",
        "number",
        {
            "cash": {DELETED.number: _total("10.00")},
            # 9 days at 10/28 + 22 days at 10/31
            "accrual": {DELETED.number: _total("10.31")},
        },
    ),
    Case(
        "deleted at period end: the month it expires",
        DELETED,
        "2026-04",
        "number",
        {"cash": {}, "accrual": {DELETED.number: _total("2.90")}},  # 9 days at 10/31
    ),
    Case(
        "deleted at period end: after it expired",
        DELETED,
        "2026-05",
        "number",
        {"cash": {}, "accrual": {}},
    ),
    Case(
        "deleted mid-period: the month it ends",
        DELETED_MID_PERIOD,
        "2026-03",
        "number",
        {
            "cash": {DELETED_MID_PERIOD.number: _total("10.00")},
            # 9 days at 10/28, then [10 Mar, 20 Mar) is the whole last period: 10
            "accrual": {DELETED_MID_PERIOD.number: _total("13.21")},
        },
    ),
    Case(
        "deleted mid-period: the month after it ended owes nothing",
        DELETED_MID_PERIOD,
        "2026-04",
        "number",
        {"cash": {}, "accrual": {}},
    ),
    Case(
        "fee change mid-month: the month of the change keeps the old fee",
        FEE_CHANGE,
        "2026-03",
        "number",
        {
            "cash": {FEE_CHANGE.number: _total("10.00")},
            "accrual": {FEE_CHANGE.number: _total("10.31")},
        },
    ),
    Case(
        "fee change mid-month: the next billing day charges the new fee",
        FEE_CHANGE,
        "2026-04",
        "number",
        {
            "cash": {FEE_CHANGE.number: _total("13.00")},
            # 9 days of [10 Mar, 10 Apr) at 10/31 + 21 days of [10 Apr, 10 May) at 13/30
            "accrual": {FEE_CHANGE.number: _total("12.00")},
        },
    ),
    Case(
        "moved between tenants mid-month, by tenant",
        MOVED,
        "2026-03",
        "tenant",
        {
            "cash": {TENANT_A: _total("31.00")},  # billed 1 March, while A held it
            "accrual": {
                TENANT_A: _total("10.00"),
                TENANT_B: _total("11.00"),
                f"pool:{POOL_P}": _total("10.00"),
            },
        },
    ),
    Case(
        "moved between tenants mid-month, by pool",
        MOVED,
        "2026-03",
        "pool",
        {"cash": {POOL_P: _total("31.00")}, "accrual": {POOL_P: _total("31.00")}},
    ),
]


def figures(rows: list[tuple[str, Decimal, Decimal, Decimal, Decimal]]) -> dict[str, tuple]:
    return {key: tuple(f"{v:.2f}" for v in values) for key, *values in rows}


@pytest.mark.parametrize("basis", ["cash", "accrual"])
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hand_computed_figures(case: Case, basis: Basis) -> None:
    result = report([case.facts], Month.parse(case.month), basis, case.group_by)
    got = figures([(r.key, r.recurring, r.setup, r.usage, r.total) for r in result.rows])
    assert got == case.expected[basis]


def test_a_tenant_sees_only_its_own_days() -> None:
    result = report([MOVED], Month.parse("2026-03"), "accrual", "tenant", tenant=TENANT_B)
    assert [(r.key, r.total) for r in result.rows] == [(TENANT_B, Decimal("11.00"))]
    assert result.totals.total == Decimal("11.00")


def test_billing_days_clamp_to_the_month_and_come_back() -> None:
    created = date(2024, 1, 31)
    assert [billing_day(created, "monthly", k) for k in range(4)] == [
        date(2024, 1, 31),
        date(2024, 2, 29),
        date(2024, 3, 31),
        date(2024, 4, 30),
    ]
    assert billing_day(date(2024, 2, 29), "annually", 1) == date(2025, 2, 28)
    assert billing_day(date(2024, 2, 29), "annually", 4) == date(2028, 2, 29)
    assert add_months(date(2026, 12, 15), 1) == date(2027, 1, 15)


@pytest.mark.parametrize(
    "text",
    [
        "2026-13",
        "2026-1",
        "26-01",
        "2026-01-01",
        "",
        "2026-00",
        "2026-03\n",
        "\uff12\uff10\uff12\uff16-03",
    ],
)
def test_month_must_be_yyyy_mm(text: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM"):
        Month.parse(text)


def test_rounding_is_half_even_once_on_the_row() -> None:
    # Two charges of 0.005 each: rounded separately 0.00 + 0.00 (half-even), once 0.01.
    facts = [
        NumberFacts(f"49151000009{i}", "DE", "monthly", date(2026, 3, 1), (_fees("0.005", "0"),))
        for i in range(2)
    ]
    result = report(facts, Month.parse("2026-03"), "cash", "country")
    assert [(r.key, r.setup) for r in result.rows] == [("DE", Decimal("0.01"))]
    single = report(facts[:1], Month.parse("2026-03"), "cash", "country")
    assert single.rows[0].setup == Decimal("0.00")
