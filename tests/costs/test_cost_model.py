"""The cost model against figures worked out by hand (``tests.support.costs``), on both bases."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from app.costs.model import (
    Basis,
    Month,
    NumberFacts,
    add_months,
    billing_day,
    report,
)
from tests.support.costs import CASES, MOVED, TENANT_B, Case, fee_version


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
        NumberFacts(
            f"49151000009{i}", "DE", "monthly", date(2026, 3, 1), (fee_version("0.005", "0"),)
        )
        for i in range(2)
    ]
    result = report(facts, Month.parse("2026-03"), "cash", "country")
    assert [(r.key, r.setup) for r in result.rows] == [("DE", Decimal("0.01"))]
    single = report(facts[:1], Month.parse("2026-03"), "cash", "country")
    assert single.rows[0].setup == Decimal("0.00")
