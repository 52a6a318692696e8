"""Closed months' reports come from their rollups, and equal the live computation to the
cent: for every month of the data, and after each kind of late change to a closed month
(the triggers of migration 0019 outdate the rollup in the change's transaction)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, timedelta
from decimal import Decimal

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.costs import rollups
from app.costs.model import (
    Basis,
    FeeVersion,
    GroupBy,
    Holding,
    Month,
    NumberFacts,
    Report,
    Usage,
)
from app.costs.rendered import Rendered, render
from app.costs.schemas import report_json
from app.costs.service import (
    berlin_today,
    cost_answer,
    cost_report,
    live_report,
    roll_up_closed_months,
)
from tests.support.api import Client
from tests.support.costs import (
    POOL_P,
    TENANT_A,
    TENANT_B,
    berlin,
    engine_holding,
    fee_version,
)
from tests.support.db import connected

FIRST = Month.parse("2026-01")
# Every closed month of the data, up to the last that is rolled up today.
MONTHS = [FIRST]
while rollups.rolls_up(MONTHS[-1].next(), GroupBy.TENANT, berlin_today()):
    MONTHS.append(MONTHS[-1].next())

INVENTORY = [
    # Monthly from the 31st; its fee changes on 20 March; tenant A from February to
    # 10 April, then the pool's, then tenant B from 21 April.
    NumberFacts(
        "4915100000031",
        "DE",
        "monthly",
        date(2026, 1, 31),
        (
            fee_version("5", "10", sms="0.05"),
            FeeVersion(date(2026, 3, 20), Decimal(0), Decimal(13)),
        ),
        pool=POOL_P,
        holdings=(
            Holding(TENANT_A, date(2026, 2, 3), date(2026, 4, 11)),
            Holding(TENANT_B, date(2026, 4, 21)),
        ),
        usage={date(2026, 2, 4): Usage(sms_mo=3), date(2026, 4, 15): Usage(sms_mo=7)},
    ),
    # Annual from 15 January; tenant B's throughout.
    NumberFacts(
        "4915100000615",
        "AT",
        "annually",
        date(2026, 1, 15),
        (fee_version("0", "120"),),
        holdings=(Holding(TENANT_B, date(2026, 1, 15)),),
    ),
    # Deleted mid-period on 20 March.
    NumberFacts(
        "4915100000111",
        "FR",
        "monthly",
        date(2026, 1, 10),
        (fee_version("2", "10"),),
        ends=date(2026, 3, 20),
    ),
    # Monthly from the 1st of May, in the pool.
    NumberFacts(
        "4915100000501", "DE", "monthly", date(2026, 5, 1), (fee_version("1", "7"),), pool=POOL_P
    ),
]
NUMBER = "4915100000031"


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    async with engine_holding(database_url, INVENTORY) as engine:
        yield engine


def _figures(report: Report) -> list[tuple[object, ...]]:
    return [
        (row.key, row.name, row.numbers, row.recurring, row.setup, row.usage, row.total)
        for row in [*report.rows, report.totals]
    ]


Scope = tuple[Basis, GroupBy, uuid.UUID | None]
SCOPES: list[Scope] = [
    *((basis, group_by, None) for basis in Basis for group_by in rollups.ROLLED_UP),
    (Basis.ACCRUAL, GroupBy.NUMBER, uuid.UUID(TENANT_A)),
    (Basis.CASH, GroupBy.TENANT, uuid.UUID(TENANT_B)),
]
# Fewer for each late change: what each kind of change moves, in every month.
LATE_SCOPES: list[Scope] = [
    (Basis.CASH, GroupBy.NUMBER, None),
    (Basis.ACCRUAL, GroupBy.NUMBER, None),
    (Basis.ACCRUAL, GroupBy.TENANT, None),
    (Basis.CASH, GroupBy.COUNTRY, None),
    (Basis.ACCRUAL, GroupBy.NUMBER, uuid.UUID(TENANT_A)),
]


def _bytes(report: Rendered) -> tuple[bytes, bytes, bytes]:
    return bytes(report.rows), bytes(report.totals), report.csv


async def _rolled_up(engine: AsyncEngine, month: Month, scope: Scope) -> tuple[Report, Report]:
    """(the report as served, the live computation), each in a session of its own; the
    answer's bytes (JSON rows and totals, CSV) are checked against the live report's,
    rendered afresh, and the figures the CLI reads against the live ones."""
    basis, group_by, tenant = scope
    async with AsyncSession(engine) as session:
        answer = await cost_answer(session, month, basis, group_by, tenant)
    async with AsyncSession(engine) as session:
        served = await cost_report(session, month, basis, group_by, tenant)
    async with AsyncSession(engine) as session:
        live = await live_report(session, month, basis, group_by, tenant)
    assert _bytes(answer) == _bytes(render(live)), (month, scope)
    return served, live


async def _rollup_count(database_url: str) -> int:
    async with connected(database_url) as conn:
        return int(await conn.fetchval("SELECT count(*) FROM cost_rollups"))


async def test_every_closed_month_is_served_from_its_rollup_equal_to_the_live_report(
    engine: AsyncEngine, database_url: str
) -> None:
    for month in MONTHS:
        for scope in SCOPES:
            first, live = await _rolled_up(engine, month, scope)  # computed and stored
            again, _ = await _rolled_up(engine, month, scope)  # read back
            assert _figures(first) == _figures(live) == _figures(again), (month, scope)
    assert await _rollup_count(database_url) == len(MONTHS) * len(SCOPES)


async def test_the_cron_job_rolls_up_each_closed_month_once(
    engine: AsyncEngine, database_url: str
) -> None:
    today = berlin_today()
    assert await roll_up_closed_months(engine, today) == len(MONTHS) * 8
    assert await roll_up_closed_months(engine, today) == 0
    async with connected(database_url) as conn:  # a usage day late for March
        await conn.execute(
            "INSERT INTO number_usage_daily (number, day, sms_mo) VALUES ($1, '2026-03-05', 4)",
            NUMBER,
        )
    # March and every month after it: the trigger cannot tell that only March changed.
    assert await roll_up_closed_months(engine, today) == (len(MONTHS) - 2) * 8
    for month in MONTHS:
        for scope in SCOPES[:8]:
            served, live = await _rolled_up(engine, month, scope)
            assert _figures(served) == _figures(live), (month, scope)


def _days(day: str) -> object:
    return berlin(date.fromisoformat(day))


Change = Callable[[asyncpg.Connection], Awaitable[object]]
LATE_CHANGES: dict[str, Change] = {
    "a fee version back-dated": lambda c: c.execute(
        "INSERT INTO number_fee_versions (number, valid_from, payment_interval, fee_setup,"
        " fee_basic_charge, fee_sms_mo, fee_voice_mo) VALUES ($1, $2, 'monthly', 0, 17, 0.1, 0)",
        NUMBER,
        _days("2026-02-15"),
    ),
    "a fee version removed": lambda c: c.execute(
        "DELETE FROM number_fee_versions WHERE number = $1 AND valid_from > $2",
        NUMBER,
        _days("2026-03-01"),
    ),
    "a fee version moved": lambda c: c.execute(
        "UPDATE number_fee_versions SET valid_from = $2 WHERE number = $1 AND valid_from > $3",
        NUMBER,
        _days("2026-02-10"),
        _days("2026-03-01"),
    ),
    "an allocation back-dated": lambda c: c.execute(
        "INSERT INTO allocations (id, number, tenant_id, allocated_at, released_at)"
        " VALUES ($1, '4915100000111', $2, $3, $4)",
        uuid.uuid4(),
        uuid.UUID(TENANT_A),
        _days("2026-02-01"),
        _days("2026-03-05"),
    ),
    "an allocation's release moved back": lambda c: c.execute(
        "UPDATE allocations SET released_at = $2 WHERE number = $1 AND tenant_id = $3",
        NUMBER,
        _days("2026-03-01"),
        uuid.UUID(TENANT_A),
    ),
    "an allocation removed": lambda c: c.execute(
        "DELETE FROM allocations WHERE number = $1 AND tenant_id = $2", NUMBER, uuid.UUID(TENANT_A)
    ),
    "usage of a closed month corrected": lambda c: c.execute(
        "UPDATE number_usage_daily SET sms_mo = 30 WHERE number = $1 AND day = '2026-02-04'",
        NUMBER,
    ),
    "usage of a closed month removed": lambda c: c.execute(
        "DELETE FROM number_usage_daily WHERE number = $1", NUMBER
    ),
    "a number's country corrected": lambda c: c.execute(
        "UPDATE numbers SET country = 'NL' WHERE number = $1", NUMBER
    ),
    "a number moved to no pool": lambda c: c.execute(
        "UPDATE numbers SET pool_id = NULL WHERE number = $1", NUMBER
    ),
    "a number's created day corrected": lambda c: c.execute(
        "UPDATE numbers SET seven_created_at = $2 WHERE number = $1", NUMBER, _days("2026-01-20")
    ),
    "a number's end moved back": lambda c: c.execute(
        "UPDATE numbers SET seven_expires_at = $1 WHERE number = '4915100000111'",
        _days("2026-02-25"),
    ),
    "a deleted number found earlier than thought": lambda c: c.execute(
        "UPDATE numbers SET seven_expires_at = NULL, state = 'deleted', updated_at = $1"
        " WHERE number = '4915100000111'",
        _days("2026-03-02"),
    ),
    "a number inserted late": lambda c: c.execute(
        "INSERT INTO numbers (number, country, payment_interval, state, created,"
        " seven_created_at, fee_setup, fee_basic_charge, fee_sms_mo, fee_voice_mo)"
        " VALUES ('4915100000777', 'DE', 'monthly', 'active', '2026-02-02 12:00:00',"
        " $1, 3, 9, 0, 0)",
        _days("2026-02-02"),
    ),
    "a number removed": lambda c: c.execute("DELETE FROM numbers WHERE number = '4915100000501'"),
}


@pytest.mark.parametrize("change", list(LATE_CHANGES), ids=list(LATE_CHANGES))
async def test_a_late_change_is_served_at_once(
    engine: AsyncEngine, database_url: str, change: str
) -> None:
    before = {}
    for month in MONTHS:
        for scope in LATE_SCOPES:
            before[month, scope], _ = await _rolled_up(engine, month, scope)
    async with connected(database_url) as conn, conn.transaction():
        await LATE_CHANGES[change](conn)
    changed = False
    for month in MONTHS:
        for scope in LATE_SCOPES:
            served, live = await _rolled_up(engine, month, scope)
            assert _figures(served) == _figures(live), (change, month, scope)
            changed |= _figures(served) != _figures(before[month, scope])
    assert changed, "the change should have moved some closed month's figures"


async def test_a_rollup_computed_before_a_change_commits_is_not_served(
    engine: AsyncEngine, database_url: str
) -> None:
    month, scope = MONTHS[2], (Basis.CASH, GroupBy.COUNTRY, None)
    async with AsyncSession(engine) as session:
        version = await rollups.month_version(session, month)
        stale = await live_report(session, month, *scope)
    async with connected(database_url) as conn:  # commits while the rollup is computed
        await conn.execute("UPDATE numbers SET country = 'NL' WHERE number = $1", NUMBER)
    await rollups.store(engine, month, *scope, version, render(stale))
    async with AsyncSession(engine) as session:
        assert await rollups.read(session, month, *scope) is None
    served, live = await _rolled_up(engine, month, scope)
    assert _figures(served) == _figures(live) != _figures(stale)


async def test_names_beside_keys_are_read_as_they_are_now(
    engine: AsyncEngine, database_url: str
) -> None:
    month, scope = MONTHS[1], (Basis.CASH, GroupBy.TENANT, None)
    await _rolled_up(engine, month, scope)
    async with connected(database_url) as conn:
        await conn.execute("UPDATE tenants SET name = 'renamed' WHERE id = $1", uuid.UUID(TENANT_A))
    served, live = await _rolled_up(engine, month, scope)
    assert _figures(served) == _figures(live)
    assert "renamed" in {row.name for row in served.rows}


def test_what_is_rolled_up() -> None:
    today = date(2026, 12, 2)
    october, november = Month.parse("2026-10"), Month.parse("2026-11")
    assert rollups.rolls_up(october, GroupBy.NUMBER, today)
    assert rollups.rolls_up(november, GroupBy.NUMBER, today)
    # Not on the month's last day's morrow: a transaction open across its end may commit.
    assert not rollups.rolls_up(november, GroupBy.NUMBER, today - timedelta(days=1))
    assert not rollups.rolls_up(october, GroupBy.TAG, today)  # tags are read as they are now


@pytest.mark.parametrize("group_by", [GroupBy.NUMBER, GroupBy.TENANT])
async def test_the_api_answers_a_closed_month_with_the_live_reports_bytes(
    engine: AsyncEngine, client: Client, admin_headers: dict[str, str], group_by: GroupBy
) -> None:
    """What GET /v1/costs writes for a closed month, JSON and CSV, first computed and then
    from the rollup, is byte for byte the live report rendered and encoded afresh."""
    month, basis = MONTHS[1], Basis.ACCRUAL
    async with AsyncSession(engine) as session:
        live = render(await live_report(session, month, basis, group_by))
    params = {"month": str(month), "group_by": group_by.value, "basis": basis.value}
    for _ in range(2):  # computed and stored, then read back
        as_json = await client.get("/v1/costs", params=params, headers=admin_headers)
        assert as_json.headers["content-type"] == "application/json"
        assert as_json.content == report_json(str(month), basis, group_by, live)
        as_csv = await client.get(
            "/v1/costs", params=params, headers={**admin_headers, "Accept": "text/csv"}
        )
        assert as_csv.headers["content-type"] == "text/csv; charset=utf-8"
        assert as_csv.content == live.csv


async def test_a_closed_month_read_for_a_csv_answer_fetches_the_csv_alone(
    engine: AsyncEngine,
) -> None:
    """By number the stored CSV is the answer: its ~11 MB of JSON stay in the database.
    By tenant the names are read as they are now, so the CSV is written from the rows."""
    month = MONTHS[1]
    for group_by in (GroupBy.NUMBER, GroupBy.TENANT):
        async with AsyncSession(engine) as session:
            live = render(await live_report(session, month, Basis.CASH, group_by))
            await cost_answer(session, month, Basis.CASH, group_by)  # rolled up
            as_csv = await rollups.read(session, month, Basis.CASH, group_by, None, as_csv=True)
            as_json = await rollups.read(session, month, Basis.CASH, group_by, None)
        assert as_csv is not None and as_json is not None
        assert as_csv.csv == as_json.csv == live.csv
        assert bytes(as_json.rows) == bytes(live.rows)
        if group_by == GroupBy.NUMBER:
            with pytest.raises(ValueError, match="CSV alone"):
                _ = as_csv.rows
        else:
            assert bytes(as_csv.rows) == bytes(live.rows)
