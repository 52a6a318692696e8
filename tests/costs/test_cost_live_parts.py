"""A live month's report is answered from a kept recurring part and the month's usage
priced afresh (``app.costs.parts``, migration 0025): a usage write leaves the recurring
part valid and is in the next answer; every other write outdates the part it reaches;
neither side is ever served stale."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.costs import live, parts, splice
from app.costs.model import Basis, FeeVersion, GroupBy, Holding, NumberFacts, Usage
from app.costs.service import _report_values, cost_answer
from tests.costs.test_cost_live import (
    CURRENT,
    CURRENT_CHANGES,
    NUMBERS,
    PRICED_SMS,
    WRITES,
    _answer,
    _bytes,
    _live,
)
from tests.costs.test_cost_rollups import Scope
from tests.costs.test_costs_property import POOLS, TENANTS, number_facts
from tests.support.costs import TENANT_B, engine_holding, store
from tests.support.db import connected

USAGE_WRITES = [name for name in WRITES if "usage" in name]
RECURRING_WRITES = [name for name in WRITES if "usage" not in name]
SCOPES: list[Scope] = [
    (Basis.CASH, GroupBy.NUMBER, None),
    (Basis.ACCRUAL, GroupBy.TENANT, None),
    (Basis.ACCRUAL, GroupBy.NUMBER, uuid.UUID(TENANT_B)),
]
_VALID_PARTS = text(
    "SELECT p.id FROM cost_live_parts p"  # noqa: S608
    " WHERE p.month = :month AND p.basis = :basis AND " + live.valid_sql("p", recurring_only=True)
)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    async with engine_holding(database_url, NUMBERS) as engine:
        yield engine


async def _valid_parts(engine: AsyncEngine, basis: Basis) -> list[int]:
    """The ids of the recurring parts of the current month a reader may use now."""
    async with AsyncSession(engine) as session:
        found = await session.scalars(_VALID_PARTS, {"month": CURRENT.start, "basis": basis})
        return list(found)


async def _counts(database_url: str) -> tuple[int, int]:
    """(parts, slices and kept rows by number whose part is gone)."""
    async with connected(database_url) as conn:
        return (
            await conn.fetchval("SELECT count(*) FROM cost_live_parts"),
            await conn.fetchval(
                "SELECT (SELECT count(*) FROM cost_live_slices s"
                " WHERE NOT EXISTS (SELECT 1 FROM cost_live_parts p WHERE p.id = s.part))"
                " + (SELECT count(*) FROM cost_live_number_rows k"
                " WHERE NOT EXISTS (SELECT 1 FROM cost_live_parts p WHERE p.id = k.part))"
            ),
        )


async def test_the_change_rows_say_which_part_a_write_reaches(
    engine: AsyncEngine, database_url: str
) -> None:
    for name, write in WRITES.items():
        async with connected(database_url) as conn:
            transaction = conn.transaction()  # each on the same data: rolled back
            await transaction.start()
            await write(conn)
            kinds = await conn.fetch(
                "SELECT DISTINCT recurring FROM cost_live_changes WHERE xid = pg_current_xact_id()"
            )
            await transaction.rollback()
        assert [row["recurring"] for row in kinds] == [name not in USAGE_WRITES], name


@pytest.mark.parametrize("write", USAGE_WRITES, ids=USAGE_WRITES)
async def test_a_usage_write_keeps_the_recurring_part_and_is_in_the_next_answer(
    engine: AsyncEngine, database_url: str, write: str
) -> None:
    before = {scope: await _answer(engine, CURRENT, scope) for scope in SCOPES}
    kept = {basis: await _valid_parts(engine, basis) for basis in Basis}
    assert all(len(ids) == 1 for ids in kept.values())
    async with connected(database_url) as conn:
        await WRITES[write](conn)
    # The recurring part is still valid, and is what the next answers use ...
    assert {basis: await _valid_parts(engine, basis) for basis in Basis} == kept
    changed = False
    for scope in SCOPES:
        answer = await _answer(engine, CURRENT, scope)
        # ... with the usage priced afresh: never the usage the part was kept beside.
        assert _bytes(answer) == _bytes(await _live(engine, CURRENT, scope)), scope
        changed |= _bytes(answer) != _bytes(before[scope])
    assert {basis: await _valid_parts(engine, basis) for basis in Basis} == kept
    if write in CURRENT_CHANGES:
        assert changed, "the usage write should have moved the figures"


@pytest.mark.parametrize("write", RECURRING_WRITES, ids=RECURRING_WRITES)
async def test_a_recurring_write_outdates_the_recurring_part(
    engine: AsyncEngine, database_url: str, write: str
) -> None:
    for scope in SCOPES:
        await _answer(engine, CURRENT, scope)
    kept = {basis: await _valid_parts(engine, basis) for basis in Basis}
    async with connected(database_url) as conn:
        await WRITES[write](conn)
    assert {basis: await _valid_parts(engine, basis) for basis in Basis} == {
        basis: [] for basis in Basis
    }
    for scope in SCOPES:
        answer = await _answer(engine, CURRENT, scope)  # then the part kept again
        assert _bytes(answer) == _bytes(await _live(engine, CURRENT, scope)), scope
    again = {basis: await _valid_parts(engine, basis) for basis in Basis}
    for basis in Basis:
        assert len(again[basis]) == 1 and again[basis] != kept[basis]
    assert await _counts(database_url) == (2, 0)  # replaced, slices and all


async def test_the_first_ask_after_a_recurring_write_answers_before_the_part_is_kept(
    engine: AsyncEngine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The answer is the whole statement's, sent without waiting for the part; the part
    is kept afterwards, once per month and basis however many asks find it missing."""
    for scope in SCOPES:
        await _answer(engine, CURRENT, scope)
    async with connected(database_url) as conn:
        await CURRENT_CHANGES["an allocation this month"](conn)
    original, release = parts.build, asyncio.Event()
    started: list[Basis] = []

    async def build_when_released(
        engine: AsyncEngine, month: Any, basis: Basis, *rest: Any
    ) -> bool:
        started.append(basis)
        await asyncio.wait_for(release.wait(), 10)  # a build on the answer's path: fails
        return await original(engine, month, basis, *rest)

    monkeypatch.setattr(parts, "build", build_when_released)
    for scope in [*SCOPES, *SCOPES]:  # accrual twice in each round: one build
        async with AsyncSession(engine) as session:
            answer = await cost_answer(session, CURRENT, *scope)
        async with connected(database_url) as conn:  # asked again: computed again
            await conn.execute("DELETE FROM cost_live_reports")
        assert _bytes(answer) == _bytes(await _live(engine, CURRENT, scope)), scope
        assert {basis: await _valid_parts(engine, basis) for basis in Basis} == {
            basis: [] for basis in Basis
        }
    await asyncio.sleep(0)
    assert sorted(started) == sorted(Basis)
    release.set()
    await parts.settled()
    for basis in Basis:
        assert len(await _valid_parts(engine, basis)) == 1
    assert await _counts(database_url) == (2, 0)  # the outdated ones replaced


async def test_a_part_is_built_by_one_builder_and_only_when_none_is_valid(
    engine: AsyncEngine, database_url: str
) -> None:
    basis = Basis.CASH
    values = _report_values(CURRENT, basis, None, None)
    async with connected(database_url) as conn:  # another process building it
        transaction = conn.transaction()
        await transaction.start()
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext('cost_live_parts ' || $1))",
            f"{CURRENT.start} {basis.value}",
        )
        assert not await parts.build(engine, CURRENT, basis, values)
        await transaction.rollback()
    assert await _valid_parts(engine, basis) == []
    assert await parts.build(engine, CURRENT, basis, values)
    kept = await _valid_parts(engine, basis)
    assert len(kept) == 1
    assert not await parts.build(engine, CURRENT, basis, values)  # a valid one is kept
    assert await _valid_parts(engine, basis) == kept
    async with connected(database_url) as conn:
        await CURRENT_CHANGES["a fee version from this month"](conn)
    assert await parts.build(engine, CURRENT, basis, values)
    assert await _valid_parts(engine, basis) not in ([], kept)
    assert await _counts(database_url) == (1, 0)


@contextmanager
def _committing_after_the_build(
    monkeypatch: pytest.MonkeyPatch, database_url: str, change: str
) -> Iterator[None]:
    """While open, each part's build is followed at once by ``CURRENT_CHANGES[change]``
    committed on another connection (the worst moment for the part kept)."""
    original = parts.build

    async def built_then_a_commit(*args: Any, **kwargs: Any) -> bool:
        kept = await original(*args, **kwargs)
        async with connected(database_url) as conn:
            await CURRENT_CHANGES[change](conn)
        return kept

    monkeypatch.setattr(parts, "build", built_then_a_commit)
    try:
        yield
    finally:
        monkeypatch.setattr(parts, "build", original)


async def test_a_recurring_writer_committing_after_the_part_is_kept_is_never_served_stale(
    engine: AsyncEngine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer commits right after the part and the report were computed (the worst
    moment): neither is served after it; the next report keeps the part again."""
    scope: Scope = (Basis.ACCRUAL, GroupBy.NUMBER, None)
    stale = await _live(engine, CURRENT, scope)
    with _committing_after_the_build(monkeypatch, database_url, "a fee version from this month"):
        assert _bytes(await _answer(engine, CURRENT, scope)) == _bytes(stale)  # its snapshot's
    assert await _valid_parts(engine, scope[0]) == []
    answer = await _answer(engine, CURRENT, scope)
    assert _bytes(answer) == _bytes(await _live(engine, CURRENT, scope)) != _bytes(stale)
    assert len(await _valid_parts(engine, scope[0])) == 1


async def test_a_usage_writer_committing_after_the_part_is_kept_is_in_the_next_answer(
    engine: AsyncEngine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    scope: Scope = (Basis.CASH, GroupBy.NUMBER, None)
    stale = await _live(engine, CURRENT, scope)
    with _committing_after_the_build(monkeypatch, database_url, "usage this month"):
        assert _bytes(await _answer(engine, CURRENT, scope)) == _bytes(stale)
    kept = await _valid_parts(engine, scope[0])
    assert len(kept) == 1  # a usage write leaves the part valid ...
    answer = await _answer(engine, CURRENT, scope)  # ... and is priced afresh beside it
    assert _bytes(answer) == _bytes(await _live(engine, CURRENT, scope)) != _bytes(stale)
    assert PRICED_SMS.encode() in bytes(answer.rows)
    assert await _valid_parts(engine, scope[0]) == kept


async def test_pruning_drops_outdated_parts_with_their_slices(
    engine: AsyncEngine, database_url: str
) -> None:
    for basis in Basis:
        await _answer(engine, CURRENT, (basis, GroupBy.NUMBER, None))
    async with connected(database_url) as conn:
        await CURRENT_CHANGES["usage this month"](conn)
    await live.prune(engine, CURRENT.start)
    assert await _counts(database_url) == (2, 0)  # a usage write outdates no part
    valid = {basis: await _valid_parts(engine, basis) for basis in Basis}
    async with connected(database_url) as conn:
        await CURRENT_CHANGES["an allocation this month"](conn)
    await live.prune(engine, CURRENT.start)
    assert await _counts(database_url) == (0, 0)
    async with connected(database_url) as conn:
        assert await conn.fetchval("SELECT count(*) FROM cost_live_slices") == 0
    for basis in Basis:  # and after a re-stamp, still exact
        scope: Scope = (basis, GroupBy.NUMBER, None)
        await _answer(engine, CURRENT, scope)
        assert await _valid_parts(engine, basis) not in ([], valid[basis])
    await live.prune(engine, CURRENT.start)
    for basis in Basis:
        scope = (basis, GroupBy.NUMBER, None)
        async with connected(database_url) as conn:
            await conn.execute("DELETE FROM cost_live_reports")
        assert _bytes(await _answer(engine, CURRENT, scope)) == _bytes(
            await _live(engine, CURRENT, scope)
        )


# Random inventories around the current month (the property test's numbers): fee
# versions changing inside it, holders coming and going, usage on any of its days.
current_inventories = st.integers(1, 6).flatmap(
    lambda n: st.tuples(*(number_facts(i, CURRENT) for i in range(n)))
)


@settings(
    max_examples=20,
    deadline=None,
    derandomize=True,  # the same examples on every run
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(inventory=current_inventories, basis=st.sampled_from(list(Basis)))
async def test_the_report_from_the_parts_equals_the_whole_statement_over_random_inventories(
    engine: AsyncEngine, database_url: str, inventory: tuple[NumberFacts, ...], basis: Basis
) -> None:
    """Usage priced by the fee version holding each day (looked up by index) and put in
    the kept slice holding it: the same as the whole statement's fee ranges and segments."""
    async with connected(database_url) as conn:
        await conn.execute(
            "TRUNCATE numbers, number_fee_versions, allocations, number_usage_daily,"
            " tenants, pools CASCADE"
        )
        await store(conn, list(inventory))
    spliced: list[list[Any]] = []
    original = splice.spliced

    def spliced_and_seen(records: list[Any]) -> Any:
        found = original(records)
        if found is not None:  # what the answer is made of
            spliced.append(records)
        return found

    for group_by in (GroupBy.NUMBER, GroupBy.TENANT, GroupBy.POOL):
        scope: Scope = (basis, group_by, None)
        await _answer(engine, CURRENT, scope)  # keeps the part
        async with connected(database_url) as conn:  # the next answer: from the part
            await conn.execute("DELETE FROM cost_live_reports")
        assert len(await _valid_parts(engine, basis)) == 1
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(splice, "spliced", spliced_and_seen)
            from_parts = await _answer(engine, CURRENT, scope)
        assert _bytes(from_parts) == _bytes(await _live(engine, CURRENT, scope)), group_by
    assert len(spliced) == 1, "by number: the kept rows, the rows with usage spliced in"


def _spliced_inventory() -> list[NumberFacts]:
    """Around a number with usage alone (deleted on the 10th, before its billing day,
    with usage before: on the cash basis no kept row), numbers whose kept rows the usage
    replaces (one of them held by two tenants in turn) or leaves, on either side."""
    start = CURRENT.start
    fees = (FeeVersion(date(2025, 1, 15), Decimal("1.50"), Decimal("2.25"), Decimal("0.075")),)
    tenants = (
        Holding(TENANTS[0], start - timedelta(days=3), start + timedelta(days=11)),
        Holding(TENANTS[1], start + timedelta(days=11), None, POOLS[0]),
    )
    used = {start + timedelta(days=1): Usage(3), start + timedelta(days=20): Usage(1)}
    numbers = [
        ("4915100000001", None, (), {}),
        ("4915100000002", None, (), used),
        ("4915100000003", start + timedelta(days=9), (), {start + timedelta(days=2): Usage(7)}),
        ("4915100000004", None, tenants, used),
        ("4915100000005", None, (), {}),
    ]
    return [
        NumberFacts(number, "DE", "monthly", date(2025, 1, 15), fees, ends, None, held, usage)
        for number, ends, held, usage in numbers
    ]


@pytest.mark.parametrize("basis", list(Basis))
async def test_the_rows_with_usage_are_spliced_over_and_between_the_kept_rows(
    engine: AsyncEngine, database_url: str, basis: Basis, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with connected(database_url) as conn:
        await conn.execute(
            "TRUNCATE numbers, number_fee_versions, allocations, number_usage_daily,"
            " tenants, pools CASCADE"
        )
        await store(conn, _spliced_inventory())
    scope: Scope = (basis, GroupBy.NUMBER, None)
    await _answer(engine, CURRENT, scope)  # keeps the part
    async with connected(database_url) as conn:
        await conn.execute("DELETE FROM cost_live_reports")
    spliced: list[list[Any]] = []
    original = splice.spliced

    def spliced_and_seen(records: list[Any]) -> Any:
        found = original(records)
        if found is not None:  # what the answer is made of
            spliced.append(records)
        return found

    monkeypatch.setattr(splice, "spliced", spliced_and_seen)
    answer = await _answer(engine, CURRENT, scope)
    assert _bytes(answer) == _bytes(await _live(engine, CURRENT, scope))
    [records] = spliced
    kinds = {record["key"]: record["in_part"] for record in records[:-1]}
    if basis == Basis.CASH:  # a kept row replaced, and one put in between
        assert kinds == {"4915100000002": True, "4915100000003": False, "4915100000004": True}
    else:  # accrual: the deleted number owes its days, so it has a kept row
        assert set(kinds.values()) == {True}
    assert [row["key"] for row in msgspec.json.decode(bytes(answer.rows))] == [
        f"491510000000{i}" for i in range(1, 6)
    ]
