"""Over random inventories and allocation histories, every grouping adds up to the same.

Each example is written to Postgres and reported by the SQL (``service.cost_report``)
by number, tenant, pool and country: the totals must be equal, every row must match the
pure model's (``model.report``), and a tenant's own report must equal its row.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from app.costs.model import (
    FeeVersion,
    Holding,
    Month,
    NumberFacts,
    Report,
    Usage,
    add_months,
    report,
)
from app.costs.service import cost_report
from tests.support.costs import store
from tests.support.db import connected

TENANTS = [f"00000000-0000-4000-8000-0000000001{i:02d}" for i in range(3)]
POOLS = [f"00000000-0000-4000-8000-0000000002{i:02d}" for i in range(2)]
START = date(2025, 1, 1)
money = st.decimals(min_value=0, max_value=300, places=2, allow_nan=False, allow_infinity=False)


@st.composite
def number_facts(draw: st.DrawFn, index: int, month: Month) -> NumberFacts:
    """A number whose life and allocation changes cluster around ``month``."""
    created = month.start + timedelta(days=draw(st.integers(-400, 40)))
    interval = draw(st.sampled_from(["monthly", "annually"]))
    fees = [FeeVersion(created, draw(money), draw(money), draw(money) / 100)]
    if draw(st.booleans()):
        changed = created + timedelta(days=draw(st.integers(1, 300)))
        fees.append(FeeVersion(changed, draw(money), draw(money), draw(money) / 100))
    ends = None
    if draw(st.booleans()):
        # A billing day (deleted at period end), or any day (a deleted number's last day).
        step = 1 if interval == "monthly" else 12
        ends = draw(
            st.one_of(
                st.integers(1, 14).map(lambda k: add_months(created, k * step)),
                st.integers(1, 400).map(lambda days: created + timedelta(days=days)),
            )
        )
    # Allocation history: alternating held and free stretches, never overlapping.
    holdings, cursor = [], month.start - timedelta(days=draw(st.integers(0, 40)))
    for _ in range(draw(st.integers(0, 4))):
        start = cursor + timedelta(days=draw(st.integers(0, 20)))
        length = draw(st.one_of(st.none(), st.integers(1, 25)))
        end = None if length is None else start + timedelta(days=length)
        holdings.append(
            Holding(
                draw(st.sampled_from(TENANTS)), start, end, draw(st.sampled_from([None, *POOLS]))
            )
        )
        if end is None:
            break
        cursor = end
    usage = {
        month.start + timedelta(days=draw(st.integers(0, 30))): Usage(draw(st.integers(1, 50)))
        for _ in range(draw(st.integers(0, 3)))
    }
    return NumberFacts(
        number=f"4915100{index:06d}",
        country=draw(st.sampled_from(["DE", "AT", "FR"])),
        payment_interval=interval,
        created=created,
        fees=tuple(fees),
        ends=ends,
        pool=draw(st.sampled_from([None, *POOLS])),
        holdings=tuple(holdings),
        usage=usage,
    )


months = st.integers(0, 20).map(lambda k: Month.of(add_months(START, k)))
scenarios = months.flatmap(
    lambda month: st.tuples(
        st.just(month),
        st.integers(1, 6).flatmap(lambda n: st.tuples(*(number_facts(i, month) for i in range(n)))),
    )
)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database_url.replace("postgresql://", "postgresql+asyncpg://"))
    yield engine
    await engine.dispose()


Figures = tuple[int, Decimal, Decimal, Decimal, Decimal]


def _figures(result: Report) -> dict[str, Figures]:
    """Each row's and the totals' (numbers, recurring, setup, usage, total)."""
    rows = [*result.rows, result.totals]
    return {r.key: (r.numbers, r.recurring, r.setup, r.usage, r.total) for r in rows}


def _agree(sql: Report, model: Report, basis: str) -> bool:
    """The same rows and totals, to the cent. Only accrual divides (a charge over its
    period's days), and SQL's numeric keeps fewer digits of a quotient than Decimal: its
    recurring figures (and so the total) may then fall on the other side of a half cent."""
    got, want = _figures(sql), _figures(model)
    if basis == "cash":
        return got == want
    if got.keys() != want.keys():
        return False
    cent = Decimal("0.01")
    return all(
        g[0:1] + g[2:4] == w[0:1] + w[2:4] and abs(g[1] - w[1]) <= cent and abs(g[4] - w[4]) <= cent
        for g, w in ((got[k], want[k]) for k in got)
    )


@settings(
    max_examples=30,
    deadline=None,
    # The same examples on every run: a failure is repeated by running the test again.
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios, basis=st.sampled_from(["cash", "accrual"]))
async def test_sums_agree_across_groupings_and_with_the_model(
    engine: AsyncEngine,
    database_url: str,
    scenario: tuple[Month, tuple[NumberFacts, ...]],
    basis: str,
) -> None:
    month, inventory = scenario
    async with connected(database_url) as conn:
        await conn.execute(
            "TRUNCATE numbers, number_fee_versions, allocations, number_usage_daily,"
            " tenants, pools CASCADE"
        )
        await store(conn, list(inventory))
    async with AsyncSession(engine) as session:
        reports = {
            group_by: await cost_report(session, month, basis, group_by)  # type: ignore[arg-type]
            for group_by in ("number", "tenant", "pool", "country")
        }
        by_tenant = {
            tenant: await cost_report(session, month, basis, "tenant", tenant)  # type: ignore[arg-type]
            for tenant in TENANTS
        }
    totals = {group_by: result.totals for group_by, result in reports.items()}
    first = totals["number"]
    for group_by, total in totals.items():
        assert (total.recurring, total.setup, total.usage, total.total) == (
            first.recurring,
            first.setup,
            first.usage,
            first.total,
        ), group_by
        # Rows are rounded once each: their sum strays from the total by under a cent a row.
        rows = reports[group_by].rows
        assert abs(sum((r.total for r in rows), Decimal(0)) - total.total) <= Decimal(
            "0.005"
        ) * len(rows) + Decimal("0.005")
    for group_by, result in reports.items():
        expected = report(inventory, month, basis, group_by)  # type: ignore[arg-type]
        assert _agree(result, expected, basis), (group_by, _figures(result), _figures(expected))
    tenant_rows = {row.key: row for row in reports["tenant"].rows}
    for tenant, own in by_tenant.items():
        assert [row.key for row in own.rows] == ([tenant] if tenant in tenant_rows else [])
        if tenant in tenant_rows:
            assert own.totals.total == tenant_rows[tenant].total
