"""A live month's report is answered from a kept recurring part and the month's usage
priced afresh (``app.costs.parts``, migration 0025): a usage write leaves the recurring
part valid and is in the next answer; a recurring write names the numbers it touched,
whose slices the next answer computes afresh beside the part (migration 0027), and a
wide one outdates the part whole; neither side is ever served stale."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
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

from app.costs import live, parts, service, splice
from app.costs.model import Basis, FeeVersion, GroupBy, Holding, NumberFacts, Usage
from app.costs.service import _report_values, cost_answer, rebuild_touched_parts
from tests.costs.test_cost_live import (
    CURRENT,
    CURRENT_CHANGES,
    NUMBERS,
    PRICED_SMS,
    WRITES,
    _answer,
    _bytes,
    _live,
    _this_month,
)
from tests.costs.test_cost_rollups import NUMBER, Scope
from tests.costs.test_costs_property import POOLS, TENANTS, number_facts
from tests.support.costs import TENANT_A, TENANT_B, engine_holding, store
from tests.support.db import connected

USAGE_WRITES = [name for name in WRITES if "usage" in name]
RECURRING_WRITES = [name for name in WRITES if "usage" not in name]
SCOPES: list[Scope] = [
    (Basis.CASH, GroupBy.NUMBER, None),
    (Basis.ACCRUAL, GroupBy.TENANT, None),
    (Basis.ACCRUAL, GroupBy.NUMBER, uuid.UUID(TENANT_B)),
]
#: Every grouping kept, on both bases, account-wide, and one tenant's scope.
EVERY_SCOPE: list[Scope] = [
    *(
        (basis, group_by, None)
        for basis in Basis
        for group_by in (GroupBy.TENANT, GroupBy.POOL, GroupBy.COUNTRY, GroupBy.NUMBER)
    ),
    *((basis, GroupBy.NUMBER, uuid.UUID(TENANT_B)) for basis in Basis),
]
_VALID_PARTS = text(
    "SELECT p.id FROM cost_live_parts p"  # noqa: S608
    " WHERE p.month = :month AND p.basis = :basis AND " + live.valid_sql("p", recurring_only=True)
)
# The parts a reader may use with the numbers recurring changes touched computed afresh.
_USABLE_PARTS = text(
    "SELECT p.id, " + live.touched_sql("p") + " FROM cost_live_parts p"  # noqa: S608
    " WHERE p.month = :month AND p.basis = :basis AND " + live.usable_sql("p")
)
# Each recurring write's numbers (the rollup tests' and this month's writes).
TOUCHED = {
    **{name: NUMBER for name in WRITES if "fee version" in name},
    "an allocation back-dated": "4915100000111",
    "an allocation's release moved back": NUMBER,
    "an allocation removed": NUMBER,
    "a number's country corrected": NUMBER,
    "a number moved to no pool": NUMBER,
    "a number's created day corrected": NUMBER,
    "a number's end moved back": "4915100000111",
    "a deleted number found earlier than thought": "4915100000111",
    "a number inserted late": "4915100000777",
    "a number removed": "4915100000501",
    "an allocation this month": "4915100000501",
    "an allocation released this month": NUMBER,
    "a number's end this month": "4915100000501",
    "a number's pool this month": "4915100000501",
}
# One statement over 1,001 numbers (each inserted with its first fee version): more than
# a change row names, so a wide change.
_WIDE_SQL = (
    "INSERT INTO numbers (number, country, payment_interval, state, created,"
    " seven_created_at, fee_setup, fee_basic_charge, fee_sms_mo, fee_voice_mo)"
    " SELECT '49153' || lpad(i::text, 8, '0'), 'DE', 'monthly', 'active',"
    " '2026-02-02 12:00:00', $1, 0, 2, 0, 0 FROM generate_series(1, $2) i"
)


async def _wide_write(conn: Any, numbers: int = 1001) -> None:
    await conn.execute(_WIDE_SQL, _this_month(1), numbers)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    async with engine_holding(database_url, NUMBERS) as engine:
        yield engine


async def _valid_parts(engine: AsyncEngine, basis: Basis) -> list[int]:
    """The ids of the recurring parts of the current month a reader may use now."""
    async with AsyncSession(engine) as session:
        found = await session.scalars(_VALID_PARTS, {"month": CURRENT.start, "basis": basis})
        return list(found)


async def _usable_parts(engine: AsyncEngine, basis: Basis) -> dict[int, list[str]]:
    """The recurring parts of the current month a reader may use now, with the numbers
    it computes afresh beside each."""
    async with AsyncSession(engine) as session:
        found = await session.execute(_USABLE_PARTS, {"month": CURRENT.start, "basis": basis})
        return {part: sorted(touched) for part, touched in found}


VALID, AFRESH, WHOLE = "a valid part", "a part, numbers afresh", "the whole statement"


def _noting_splices(spliced: list[list[Any]]) -> Callable[[list[Any]], Any]:
    """``splice.spliced``, noting in ``spliced`` the records of each answer made from
    the spliced rows (a splice that gives up is not noted)."""
    original = splice.spliced

    def spliced_and_seen(records: list[Any]) -> Any:
        found = original(records)
        if found is not None:  # what the answer is made of
            spliced.append(records)
        return found

    return spliced_and_seen


@contextmanager
def _how_answered(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """While open, how each answer not served from a kept report was made (VALID,
    AFRESH or WHOLE), in order; the parts those answers would keep anew are not built."""
    how: list[str] = []
    whole: list[bool] = []
    from_parts, computed, keep_later = service._from_parts, service._computed, parts.keep_later

    async def computing(*args: Any, **kwargs: Any) -> Any:
        whole.append(True)
        return await computed(*args, **kwargs)

    async def answering(*args: Any, **kwargs: Any) -> Any:
        whole.clear()
        found = await from_parts(*args, **kwargs)
        how.append(WHOLE if whole else VALID if found[2] else AFRESH)
        return found

    monkeypatch.setattr(service, "_computed", computing)
    monkeypatch.setattr(service, "_from_parts", answering)
    monkeypatch.setattr(parts, "keep_later", lambda *args: None)
    try:
        yield how
    finally:
        monkeypatch.setattr(service, "_computed", computed)
        monkeypatch.setattr(service, "_from_parts", from_parts)
        monkeypatch.setattr(parts, "keep_later", keep_later)


async def _fresh_answer(engine: AsyncEngine, database_url: str, scope: Scope) -> Any:
    """The answer with no kept report to serve it (made from a part, or the whole
    statement)."""
    async with connected(database_url) as conn:
        await conn.execute("DELETE FROM cost_live_reports")
    return await _answer(engine, CURRENT, scope)


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


async def _change_rows_of(database_url: str, write: Any) -> list[Any]:
    """The change rows ``write`` records, in a transaction then rolled back (so each
    write meets the same data)."""
    async with connected(database_url) as conn:
        transaction = conn.transaction()
        await transaction.start()
        await write(conn)
        rows = await conn.fetch(
            "SELECT recurring, numbers FROM cost_live_changes WHERE xid = pg_current_xact_id()"
        )
        await transaction.rollback()
    return list(rows)


async def test_the_change_rows_say_which_part_a_write_reaches(
    engine: AsyncEngine, database_url: str
) -> None:
    for name, write in WRITES.items():
        kinds = {row["recurring"] for row in await _change_rows_of(database_url, write)}
        assert kinds == {name not in USAGE_WRITES}, name


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


async def test_a_recurring_change_row_names_the_numbers_it_touched(
    engine: AsyncEngine, database_url: str
) -> None:
    for name, write in WRITES.items():
        rows = await _change_rows_of(database_url, write)
        named = {number for row in rows if row["recurring"] for number in row["numbers"]}
        assert named == ({TOUCHED[name]} if name in RECURRING_WRITES else set()), name
        assert all(row["numbers"] is None for row in rows if not row["recurring"]), name


async def test_a_change_row_over_1000_numbers_names_none(
    engine: AsyncEngine, database_url: str
) -> None:
    """One statement over 1,001 numbers, or a transaction's statements over 1,001 in all,
    or a narrow statement after a wide one: a wide change (NULL: every number)."""
    for statements in ([1001], [600, 401], [1001, 1]):
        async with connected(database_url) as conn:
            transaction = conn.transaction()
            await transaction.start()
            for index, numbers in enumerate(statements):
                await conn.execute(
                    _WIDE_SQL.replace("'49153'", f"'4915{4 + index}'"), _this_month(1), numbers
                )
            rows = await conn.fetch(
                "SELECT numbers FROM cost_live_changes WHERE xid = pg_current_xact_id()"
            )
            await transaction.rollback()
        assert rows and all(row["numbers"] is None for row in rows), statements
    async with connected(database_url) as conn:  # and 1,000 are named
        transaction = conn.transaction()
        await transaction.start()
        await _wide_write(conn, 1000)
        rows = await conn.fetch(
            "SELECT numbers FROM cost_live_changes WHERE xid = pg_current_xact_id()"
        )
        await transaction.rollback()
    assert {len(set(row["numbers"])) for row in rows} == {1000}


@pytest.mark.parametrize("write", RECURRING_WRITES, ids=RECURRING_WRITES)
async def test_a_recurring_write_is_answered_from_the_part_with_its_number_afresh(
    engine: AsyncEngine, database_url: str, write: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The part kept before the write serves every scope after it, the touched number's
    slices computed afresh: byte for byte the whole statement's answer."""
    before = {scope: await _answer(engine, CURRENT, scope) for scope in EVERY_SCOPE}
    kept = {basis: await _valid_parts(engine, basis) for basis in Basis}
    assert all(len(ids) == 1 for ids in kept.values())
    async with connected(database_url) as conn:
        await WRITES[write](conn)
    assert {basis: await _valid_parts(engine, basis) for basis in Basis} == {
        basis: [] for basis in Basis
    }
    touched = {basis: {kept[basis][0]: [TOUCHED[write]]} for basis in Basis}
    assert {basis: await _usable_parts(engine, basis) for basis in Basis} == touched
    spliced: list[list[Any]] = []
    monkeypatch.setattr(splice, "spliced", _noting_splices(spliced))
    changed = False
    lives = {scope: await _live(engine, CURRENT, scope) for scope in EVERY_SCOPE}
    with _how_answered(monkeypatch) as how:
        for scope in EVERY_SCOPE:
            answer = await _fresh_answer(engine, database_url, scope)
            assert _bytes(answer) == _bytes(lives[scope]), scope
            changed |= _bytes(answer) != _bytes(before[scope])
    assert how == [AFRESH] * len(EVERY_SCOPE)
    assert len(spliced) == 2  # account-wide by number, on each basis
    for records in spliced:
        [row] = [record for record in records[:-1] if record["key"] == TOUCHED[write]] or [None]
        if write == "a number removed":  # its kept row goes
            assert row is not None and row["in_part"] and not row["has_row"]
    if write in CURRENT_CHANGES:
        assert changed, "the write should have moved the figures"
    assert {basis: await _usable_parts(engine, basis) for basis in Basis} == touched
    # Then the part is built again, off the answer's path: valid, and the one used.
    await _answer(engine, CURRENT, (Basis.CASH, GroupBy.COUNTRY, None))
    await _answer(engine, CURRENT, (Basis.ACCRUAL, GroupBy.COUNTRY, None))
    again = {basis: await _valid_parts(engine, basis) for basis in Basis}
    assert all(len(again[basis]) == 1 and again[basis] != kept[basis] for basis in Basis)
    assert await _counts(database_url) == (2, 0)
    with _how_answered(monkeypatch) as how:
        for scope in EVERY_SCOPE:
            answer = await _fresh_answer(engine, database_url, scope)
            assert _bytes(answer) == _bytes(lives[scope]), scope
    assert how == [VALID] * len(EVERY_SCOPE)


async def test_a_number_moved_between_tenants_within_the_month(
    engine: AsyncEngine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Released by one tenant on the 10th and allocated to another from that day, in one
    transaction of two statements: both name the number, and each tenant's report has
    its days."""
    for scope in EVERY_SCOPE:
        await _answer(engine, CURRENT, scope)
    number = "4915100000501"
    async with connected(database_url) as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO allocations (id, number, tenant_id, allocated_at) VALUES ($1, $2, $3, $4)",
            uuid.uuid4(),
            number,
            uuid.UUID(TENANT_B),
            _this_month(1),
        )
    for scope in EVERY_SCOPE:  # the part kept again around the first holder
        await _answer(engine, CURRENT, scope)
    await rebuild_touched_parts(engine, CURRENT.start)
    before = {scope: await _fresh_answer(engine, database_url, scope) for scope in EVERY_SCOPE}
    async with connected(database_url) as conn, conn.transaction():
        await conn.execute(
            "UPDATE allocations SET released_at = $2 WHERE number = $1 AND released_at IS NULL",
            number,
            _this_month(10),
        )
        await conn.execute(
            "INSERT INTO allocations (id, number, tenant_id, allocated_at) VALUES ($1, $2, $3, $4)",
            uuid.uuid4(),
            number,
            uuid.UUID(TENANT_A),
            _this_month(10),
        )
    for basis in Basis:
        assert list((await _usable_parts(engine, basis)).values()) == [[number]]
    scopes = [*EVERY_SCOPE, (Basis.ACCRUAL, GroupBy.TENANT, uuid.UUID(TENANT_A))]
    lives = {scope: await _live(engine, CURRENT, scope) for scope in scopes}
    with _how_answered(monkeypatch) as how:
        for scope in scopes:
            answer = await _fresh_answer(engine, database_url, scope)
            assert _bytes(answer) == _bytes(lives[scope]), scope
    assert how == [AFRESH] * len(scopes)
    tenants = (Basis.ACCRUAL, GroupBy.TENANT, None)
    assert _bytes(await _answer(engine, CURRENT, tenants)) != _bytes(before[tenants])


@pytest.mark.parametrize("transactions", [[1001], [600, 401]], ids=["wide", "1,001 in two"])
async def test_a_wide_write_outdates_the_part_whole(
    engine: AsyncEngine, database_url: str, monkeypatch: pytest.MonkeyPatch, transactions: list[int]
) -> None:
    """A wide change, or more numbers touched since the part than it is served with
    (``live.WIDEST``): the whole statement answers, and the part is kept again."""
    for scope in EVERY_SCOPE:
        await _answer(engine, CURRENT, scope)
    for index, numbers in enumerate(transactions):
        async with connected(database_url) as conn:
            await conn.execute(
                _WIDE_SQL.replace("'49153'", f"'4915{6 + index}'"), _this_month(1), numbers
            )
    for basis in Basis:
        assert await _usable_parts(engine, basis) == {}
    lives = {scope: await _live(engine, CURRENT, scope) for scope in EVERY_SCOPE}
    with _how_answered(monkeypatch) as how:
        answers = {scope: await _fresh_answer(engine, database_url, scope) for scope in EVERY_SCOPE}
    for scope in EVERY_SCOPE:
        assert _bytes(answers[scope]) == _bytes(lives[scope]), scope
    assert how == [WHOLE] * len(EVERY_SCOPE)
    for basis in Basis:  # then kept again, off the answer's path
        await _fresh_answer(engine, database_url, (basis, GroupBy.TENANT, None))
    for basis in Basis:
        assert len(await _valid_parts(engine, basis)) == 1
    assert await _counts(database_url) == (2, 0)


async def test_a_rolled_back_write_and_one_in_progress_touch_nothing_until_committed(
    engine: AsyncEngine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    scope: Scope = (Basis.ACCRUAL, GroupBy.NUMBER, None)
    for basis in Basis:
        await _answer(engine, CURRENT, (basis, GroupBy.NUMBER, None))
    kept = {basis: await _valid_parts(engine, basis) for basis in Basis}
    before = await _fresh_answer(engine, database_url, scope)
    async with connected(database_url) as conn:
        transaction = conn.transaction()
        await transaction.start()
        await CURRENT_CHANGES["a fee version from this month"](conn)
        await transaction.rollback()
    assert {basis: await _valid_parts(engine, basis) for basis in Basis} == kept
    async with connected(database_url) as writer:
        transaction = writer.transaction()
        await transaction.start()
        await CURRENT_CHANGES["a fee version from this month"](writer)
        with _how_answered(monkeypatch) as how:
            during = await _fresh_answer(engine, database_url, scope)
        assert how == [VALID]
        assert _bytes(during) == _bytes(before) == _bytes(await _live(engine, CURRENT, scope))
        assert {basis: await _valid_parts(engine, basis) for basis in Basis} == kept
        await transaction.commit()
    assert await _valid_parts(engine, scope[0]) == []  # the reader sees it now
    with _how_answered(monkeypatch) as how:
        after = await _answer(engine, CURRENT, scope)  # the kept report is not served
    assert how == [AFRESH]
    assert _bytes(after) == _bytes(await _live(engine, CURRENT, scope)) != _bytes(before)


async def test_the_first_ask_after_a_wide_write_answers_before_the_part_is_kept(
    engine: AsyncEngine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The answer is the whole statement's, sent without waiting for the part; the part
    is kept afterwards, once per month and basis however many asks find it missing."""
    for scope in SCOPES:
        await _answer(engine, CURRENT, scope)
    async with connected(database_url) as conn:
        await _wide_write(conn)
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
    moment): neither is served after it as it was; the part serves the next report with
    the writer's number afresh."""
    scope: Scope = (Basis.ACCRUAL, GroupBy.NUMBER, None)
    stale = await _live(engine, CURRENT, scope)
    with _committing_after_the_build(monkeypatch, database_url, "a fee version from this month"):
        assert _bytes(await _answer(engine, CURRENT, scope)) == _bytes(stale)  # its snapshot's
    assert await _valid_parts(engine, scope[0]) == []
    assert list((await _usable_parts(engine, scope[0])).values()) == [[NUMBER]]
    live_now = await _live(engine, CURRENT, scope)
    with _how_answered(monkeypatch) as how:
        answer = await _answer(engine, CURRENT, scope)
    assert how == [AFRESH]
    assert _bytes(answer) == _bytes(live_now) != _bytes(stale)


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
        await _wide_write(conn)
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


async def test_a_touched_part_is_kept_by_the_prune_until_the_hourly_job_builds_it_again(
    engine: AsyncEngine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not re-stamped (its touched number's slices are not the prune's snapshot's), so the
    change row naming the number stays; built again by the job (when no answer has built
    it: here they are held back), after which no kept part needs that row."""
    for basis in Basis:
        await _answer(engine, CURRENT, (basis, GroupBy.NUMBER, None))
    kept = {basis: await _valid_parts(engine, basis) for basis in Basis}
    async with connected(database_url) as conn:
        await CURRENT_CHANGES["an allocation this month"](conn)
    await live.prune(engine, CURRENT.start)
    async with connected(database_url) as conn:  # still there: the part needs it
        named = await conn.fetchval(
            "SELECT xid::text FROM cost_live_changes WHERE '4915100000501' = ANY(numbers)"
        )
    assert named is not None
    touched = {basis: {kept[basis][0]: ["4915100000501"]} for basis in Basis}
    assert {basis: await _usable_parts(engine, basis) for basis in Basis} == touched
    for basis in Basis:  # exact after the prune
        scope: Scope = (basis, GroupBy.NUMBER, None)
        live_now = await _live(engine, CURRENT, scope)
        with _how_answered(monkeypatch) as how:
            answer = await _fresh_answer(engine, database_url, scope)
        assert how == [AFRESH] and _bytes(answer) == _bytes(live_now)
    assert await rebuild_touched_parts(engine, CURRENT.start) == 2
    assert await rebuild_touched_parts(engine, CURRENT.start) == 0  # valid ones: none to build
    for basis in Basis:
        assert await _valid_parts(engine, basis) not in ([], kept[basis])
    assert await _counts(database_url) == (2, 0)
    await live.prune(engine, CURRENT.start)
    async with connected(database_url) as conn:  # (whether the prune drops it depends on
        # the transactions running elsewhere on the server: its horizon is theirs too)
        assert await conn.fetchval(
            "SELECT bool_and(pg_visible_in_snapshot(CAST($1 AS xid8), snapshot))"
            " FROM cost_live_parts",
            int(named),
        )
    for scope in EVERY_SCOPE:
        answer = await _fresh_answer(engine, database_url, scope)
        assert _bytes(answer) == _bytes(await _live(engine, CURRENT, scope)), scope


async def _holder(conn: Any, number: str, day: int, which: int) -> None:
    """The number's open holding released on ``day``, and a tenant's from then on; when
    the open holding began after ``day``, both at its start (a number has one open
    holding: an inventory may draw it starting late in the month, or after it)."""
    tenant = uuid.UUID(TENANTS[which])
    await conn.execute(
        "INSERT INTO tenants (id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING", tenant, "t"
    )
    released = await conn.fetchval(
        "UPDATE allocations SET released_at = GREATEST(allocated_at, $2)"
        " WHERE number = $1 AND released_at IS NULL RETURNING released_at",
        number,
        _this_month(day),
    )
    await conn.execute(
        "INSERT INTO allocations (id, number, tenant_id, allocated_at) VALUES ($1, $2, $3, $4)",
        uuid.uuid4(),
        number,
        tenant,
        released or _this_month(day),
    )


async def _pool(conn: Any, number: str, day: int, which: int) -> None:
    pool = uuid.UUID(POOLS[which]) if which < len(POOLS) else None
    if pool is not None:
        await conn.execute(
            "INSERT INTO pools (id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING", pool, "p"
        )
    await conn.execute("UPDATE numbers SET pool_id = $2 WHERE number = $1", number, pool)


# One recurring write to one number: (conn, number, day of the month, which tenant/pool).
_TOUCHES: dict[str, Any] = {
    "a fee version from the day": lambda conn, number, day, which: conn.execute(
        "INSERT INTO number_fee_versions (number, valid_from, payment_interval, fee_setup,"
        " fee_basic_charge, fee_sms_mo, fee_voice_mo)"
        " SELECT number, $2, payment_interval, 1, $3, 0.02, 0 FROM numbers WHERE number = $1",
        number,
        _this_month(day),
        Decimal(7 + which),
    ),
    "its end on the day": lambda conn, number, day, which: conn.execute(
        "UPDATE numbers SET seven_expires_at = $2 WHERE number = $1", number, _this_month(day)
    ),
    "deleted on the day": lambda conn, number, day, which: conn.execute(
        "UPDATE numbers SET state = 'deleted', seven_expires_at = NULL, updated_at = $2"
        " WHERE number = $1",
        number,
        _this_month(day),
    ),
    "a new holder from the day": _holder,
    "another pool": _pool,
}


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
@given(
    inventory=current_inventories,
    basis=st.sampled_from(list(Basis)),
    touch=st.tuples(
        st.integers(0, 5), st.sampled_from(list(_TOUCHES)), st.integers(1, 28), st.integers(0, 2)
    ),
)
async def test_the_report_from_the_parts_equals_the_whole_statement_over_random_inventories(
    engine: AsyncEngine,
    database_url: str,
    inventory: tuple[NumberFacts, ...],
    basis: Basis,
    touch: tuple[int, str, int, int],
) -> None:
    """Usage priced by the fee version holding each day (looked up by index) and put in
    the kept slice holding it: the same as the whole statement's fee ranges and segments.
    Then one number touched by a recurring write (``touch``: which, how, from which day
    of the month, which tenant or pool): its slices afresh beside the part, the same."""
    async with connected(database_url) as conn:
        await conn.execute(
            "TRUNCATE numbers, number_fee_versions, allocations, number_usage_daily,"
            " tenants, pools CASCADE"
        )
        await store(conn, list(inventory))
    spliced: list[list[Any]] = []
    spliced_and_seen = _noting_splices(spliced)
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
    index, kind, day, which = touch
    number = inventory[index % len(inventory)].number
    async with connected(database_url) as conn, conn.transaction():
        await _TOUCHES[kind](conn, number, day, which)
    # The number afresh, unless the write changed nothing of this month (a number created
    # after it, a pool it already had): then the part is still valid.
    [touched] = (await _usable_parts(engine, basis)).values()
    assert touched in ([number], [])
    scopes: list[Scope] = [(basis, g, None) for g in (GroupBy.NUMBER, GroupBy.TENANT, GroupBy.POOL)]
    lives = {scope: await _live(engine, CURRENT, scope) for scope in scopes}
    with pytest.MonkeyPatch.context() as patch, _how_answered(patch) as how:
        patch.setattr(splice, "spliced", spliced_and_seen)
        for scope in scopes:
            answer = await _fresh_answer(engine, database_url, scope)
            assert _bytes(answer) == _bytes(lives[scope]), (touch, scope)
    assert how == [AFRESH if touched else VALID] * len(scopes), "from the part"
    assert len(spliced) == 2


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
    monkeypatch.setattr(splice, "spliced", _noting_splices(spliced))
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
