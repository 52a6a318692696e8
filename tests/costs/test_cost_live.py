"""The reports of months not rolled up yet (the current month) are kept, and a kept one is
served only while it is what the live statement would answer (``app.costs.live``,
migration 0023): byte for byte the live report, recomputed after every kind of write that
reaches the month, and never stale when a writer commits while a report is computed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal

import msgspec
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.costs import live, parts, rollups
from app.costs.model import Basis, GroupBy, Month, NumberFacts
from app.costs.rendered import Rendered, render
from app.costs.service import berlin_today, cost_answer, live_report
from tests.costs.test_cost_rollups import INVENTORY, LATE_CHANGES, NUMBER, SCOPES, Change, Scope
from tests.support.costs import TENANT_A, TENANT_B, berlin, engine_holding, fee_version
from tests.support.db import connected

TODAY = berlin_today()
CURRENT = Month.of(TODAY)
# Every month not rolled up today: the current one, and on its first day the one before.
LIVE_MONTHS = list(dict.fromkeys([Month.of(TODAY - timedelta(days=1)), CURRENT]))


# The rollup tests' numbers, and one whose inbound SMS are priced, for usage this month.
PRICED_SMS = "4915100000901"
NUMBERS = [
    *INVENTORY,
    NumberFacts(
        PRICED_SMS, "DE", "monthly", date(2026, 6, 5), (fee_version("0", "3", sms="0.07"),)
    ),
]


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    async with engine_holding(database_url, NUMBERS) as engine:
        yield engine


def _bytes(report: Rendered) -> tuple[bytes, bytes, bytes]:
    return bytes(report.rows), bytes(report.totals), report.csv


async def _answer(engine: AsyncEngine, month: Month, scope: Scope) -> Rendered:
    """The answer, and then the recurring part it left to keep afterwards, if any."""
    async with AsyncSession(engine) as session:
        answer = await cost_answer(session, month, *scope)
    await parts.settled()
    return answer


async def _live(engine: AsyncEngine, month: Month, scope: Scope) -> Rendered:
    async with AsyncSession(engine) as session:
        return render(await live_report(session, month, *scope))


async def _kept(engine: AsyncEngine, month: Month, scope: Scope) -> Rendered | None:
    """The kept report as a reader would be served it now, or None."""
    async with AsyncSession(engine) as session:
        return await live.read(session, month, *scope)


async def test_a_live_months_report_is_kept_and_served_equal_to_the_live_report(
    engine: AsyncEngine, database_url: str
) -> None:
    for month in LIVE_MONTHS:
        assert not rollups.rolls_up(month, GroupBy.NUMBER, TODAY)
        for scope in SCOPES:
            assert await _kept(engine, month, scope) is None
            first = await _answer(engine, month, scope)  # computed and kept
            kept = await _kept(engine, month, scope)
            assert kept is not None, (month, scope)
            again = await _answer(engine, month, scope)  # served from what was kept
            fresh = await _live(engine, month, scope)
            assert _bytes(first) == _bytes(kept) == _bytes(again) == _bytes(fresh), (month, scope)
    async with connected(database_url) as conn:
        count = await conn.fetchval("SELECT count(*) FROM cost_live_reports")
    assert count == len(LIVE_MONTHS) * len(SCOPES)
    by_number = await _answer(engine, CURRENT, (Basis.CASH, GroupBy.NUMBER, None))
    assert bytes(by_number.rows) != b"[]"  # figures a stale answer would get wrong


async def test_a_csv_answer_is_kept_and_a_json_one_writes_the_csv_from_its_rows(
    engine: AsyncEngine,
) -> None:
    for group_by in (GroupBy.NUMBER, GroupBy.TENANT):
        scope: Scope = (Basis.ACCRUAL, group_by, None)
        fresh = await _live(engine, CURRENT, scope)
        async with AsyncSession(engine) as session:
            as_csv = await cost_answer(session, CURRENT, *scope, as_csv=True)
        async with AsyncSession(engine) as session:
            read_csv = await live.read(session, CURRENT, *scope, as_csv=True)
            read_json = await live.read(session, CURRENT, *scope)
        assert read_csv is not None and read_json is not None
        assert as_csv.csv == read_csv.csv == read_json.csv == fresh.csv
        assert bytes(read_json.rows) == bytes(fresh.rows)


# Writes that reach the current month and change its figures, besides the late changes of
# the rollup tests (which reach it too: a change reaches every month from its first day).
def _this_month(day: int) -> object:
    return berlin(CURRENT.start + timedelta(days=day - 1))


CURRENT_CHANGES: dict[str, Change] = {
    "a fee version from this month": lambda c: c.execute(
        "INSERT INTO number_fee_versions (number, valid_from, payment_interval, fee_setup,"
        " fee_basic_charge, fee_sms_mo, fee_voice_mo) VALUES ($1, $2, 'monthly', 0, 99, 0.1, 0)",
        NUMBER,
        _this_month(1),
    ),
    "an allocation this month": lambda c: c.execute(
        "INSERT INTO allocations (id, number, tenant_id, allocated_at)"
        " VALUES ($1, '4915100000501', $2, $3)",
        uuid.uuid4(),
        uuid.UUID(TENANT_A),
        _this_month(1),
    ),
    "an allocation released this month": lambda c: c.execute(
        "UPDATE allocations SET released_at = $2 WHERE number = $1 AND tenant_id = $3",
        NUMBER,
        _this_month(1),
        uuid.UUID(TENANT_B),
    ),
    "usage this month": lambda c: c.execute(
        "INSERT INTO number_usage_daily (number, day, sms_mo) VALUES ($1, $2, 40)",
        PRICED_SMS,
        CURRENT.start,
    ),
    "a number's end this month": lambda c: c.execute(
        "UPDATE numbers SET seven_expires_at = $1 WHERE number = '4915100000501'",
        _this_month(1),
    ),
    "a number's pool this month": lambda c: c.execute(
        "UPDATE numbers SET pool_id = NULL WHERE number = '4915100000501'"
    ),
}
WRITES = {**LATE_CHANGES, **CURRENT_CHANGES}
CHECKED: list[Scope] = [
    (Basis.CASH, GroupBy.NUMBER, None),
    (Basis.ACCRUAL, GroupBy.NUMBER, None),
    (Basis.ACCRUAL, GroupBy.TENANT, None),
    (Basis.CASH, GroupBy.POOL, None),
    (Basis.ACCRUAL, GroupBy.NUMBER, uuid.UUID(TENANT_B)),
]


@pytest.mark.parametrize("write", list(WRITES), ids=list(WRITES))
async def test_each_write_that_reaches_the_month_is_answered_at_once(
    engine: AsyncEngine, database_url: str, write: str
) -> None:
    before = {}
    for scope in CHECKED:
        before[scope] = await _answer(engine, CURRENT, scope)
        assert await _kept(engine, CURRENT, scope) is not None
    async with connected(database_url) as conn, conn.transaction():
        await WRITES[write](conn)
    changed = False
    for scope in CHECKED:
        # Not served: whatever the write changed, the kept report was computed before it.
        assert await _kept(engine, CURRENT, scope) is None, (write, scope)
        answer = await _answer(engine, CURRENT, scope)  # recomputed and kept again
        assert _bytes(answer) == _bytes(await _live(engine, CURRENT, scope)), (write, scope)
        assert await _kept(engine, CURRENT, scope) is not None
        changed |= _bytes(answer) != _bytes(before[scope])
    if write in CURRENT_CHANGES:
        assert changed, "the write should have moved the current month's figures"


async def test_a_writer_committing_while_a_report_is_computed_is_never_served_stale(
    engine: AsyncEngine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report's statement reads before the writer commits, the report is stored after
    (the worst moment): the next reader recomputes. A writer still open while a report is
    computed and stored is invisible to it and to readers, and a check once committed."""
    scope: Scope = (Basis.ACCRUAL, GroupBy.NUMBER, None)
    stale = await _live(engine, CURRENT, scope)
    original_store = live.store

    async def store_after_a_commit(*args: object, **kwargs: object) -> None:
        async with connected(database_url) as conn:  # commits between statement and store
            await CURRENT_CHANGES["usage this month"](conn)
        await original_store(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(live, "store", store_after_a_commit)
    computed = await _answer(engine, CURRENT, scope)
    monkeypatch.setattr(live, "store", original_store)
    assert _bytes(computed) == _bytes(stale)  # what its snapshot saw
    assert await _kept(engine, CURRENT, scope) is None
    fresh = await _answer(engine, CURRENT, scope)
    assert _bytes(fresh) == _bytes(await _live(engine, CURRENT, scope)) != _bytes(stale)

    # A writer open across the computation and the store.
    async with connected(database_url) as writer:
        transaction = writer.transaction()
        await transaction.start()
        await CURRENT_CHANGES["a fee version from this month"](writer)
        async with connected(database_url) as conn:  # forget what was kept
            await conn.execute("DELETE FROM cost_live_reports")
        computed = await _answer(engine, CURRENT, scope)
        assert await _kept(engine, CURRENT, scope) is not None  # the writer is not visible
        assert _bytes(computed) == _bytes(fresh)
        await transaction.commit()
    assert await _kept(engine, CURRENT, scope) is None
    after = await _answer(engine, CURRENT, scope)
    assert _bytes(after) == _bytes(await _live(engine, CURRENT, scope)) != _bytes(fresh)


async def _kept_count(database_url: str) -> int:
    async with connected(database_url) as conn:
        return int(await conn.fetchval("SELECT count(*) FROM cost_live_reports"))


async def test_a_transaction_that_has_written_keeps_nothing(
    engine: AsyncEngine, database_url: str
) -> None:
    """It sees its own write, which may yet be rolled back: its report is answered, not
    kept; and a report kept before is not served to it."""
    scope: Scope = (Basis.CASH, GroupBy.NUMBER, None)
    before = await _answer(engine, CURRENT, scope)
    async with AsyncSession(engine) as session:
        await session.execute(text("SELECT 1"))  # begins the transaction the write joins
        connection = await session.connection()
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None
        await CURRENT_CHANGES["usage this month"](driver)
        own = await cost_answer(session, CURRENT, *scope)
        assert _bytes(own) == _bytes(render(await live_report(session, CURRENT, *scope)))
        assert _bytes(own) != _bytes(before)
        await session.rollback()
    assert await _kept_count(database_url) == 1
    assert _bytes(await _answer(engine, CURRENT, scope)) == _bytes(before)


async def test_reports_by_tag_are_not_kept(engine: AsyncEngine, database_url: str) -> None:
    async with AsyncSession(engine) as session:
        await cost_answer(session, CURRENT, Basis.CASH, GroupBy.TAG, tag="team")
    assert await _kept_count(database_url) == 0


async def test_pruning_drops_what_is_not_served_and_keeps_the_answers_exact(
    engine: AsyncEngine, database_url: str
) -> None:
    outdated: Scope = (Basis.CASH, GroupBy.NUMBER, None)
    valid: Scope = (Basis.ACCRUAL, GroupBy.NUMBER, None)
    await _answer(engine, CURRENT, outdated)
    async with connected(database_url) as conn:  # a snapshot from before the write
        old_snapshot = await conn.fetchval("SELECT pg_current_snapshot()::text")
        stale = await _live(engine, CURRENT, valid)
        await CURRENT_CHANGES["usage this month"](conn)
    await _answer(engine, CURRENT, valid)  # kept after the write
    assert await _kept(engine, CURRENT, outdated) is None

    reports, _ = await live.prune(engine, TODAY)
    assert reports == 1  # the outdated one
    # The change rows below the horizon are gone: how far it rises depends on the oldest
    # transaction running anywhere in the cluster (another test's, too), so only that.
    async with connected(database_url) as conn:
        below = await conn.fetchval(
            "SELECT count(*) FROM cost_live_changes"
            " WHERE xid < (SELECT horizon FROM cost_live_horizon)"
        )
        assert below == 0
        assert await conn.fetchval("SELECT count(*) FROM cost_live_horizon") == 1
    kept = await _kept(engine, CURRENT, valid)
    assert kept is not None
    assert _bytes(kept) == _bytes(await _live(engine, CURRENT, valid))

    # A report computed before the write and stored only now: not served, whether the
    # write's row is still there or was pruned (then its snapshot is below the horizon).
    async with connected(database_url) as conn:  # (a later snapshot's report stays)
        await conn.execute("DELETE FROM cost_live_reports")
    await live.store(engine, CURRENT, *valid, old_snapshot, stale, False)
    async with connected(database_url) as conn:
        assert await conn.fetchval("SELECT count(*) FROM cost_live_reports") == 1
    assert await _kept(engine, CURRENT, valid) is None
    fresh = await _answer(engine, CURRENT, valid)
    assert _bytes(fresh) == _bytes(await _live(engine, CURRENT, valid)) != _bytes(stale)
    assert (await live.prune(engine, TODAY))[0] == 0

    # Reports of months rolled up by then are dropped.
    later = CURRENT.next().start + timedelta(days=1)
    assert (await live.prune(engine, later))[0] == 1
    assert await _kept_count(database_url) == 0


async def test_no_stale_answer_while_readers_race_a_committing_writer(
    engine: AsyncEngine, database_url: str
) -> None:
    """Readers compute and keep the report all the time while a writer commits, one usage
    day after another: each answer asked after a commit shows that commit, whichever
    reader's report was kept last (some computed before the commit, stored after it)."""
    scope: Scope = (Basis.CASH, GroupBy.NUMBER, None)
    stop = asyncio.Event()

    async def reader() -> None:
        while not stop.is_set():
            await _answer(engine, CURRENT, scope)

    def usage_of(answer: Rendered) -> str:
        rows = msgspec.json.decode(bytes(answer.rows))
        return next(row["usage"] for row in rows if row["key"] == PRICED_SMS)

    readers = [asyncio.create_task(reader()) for _ in range(3)]
    try:
        async with connected(database_url) as writer:
            for sms in range(1, 16):
                await writer.execute(
                    "INSERT INTO number_usage_daily AS u (number, day, sms_mo) VALUES ($1, $2, $3)"
                    " ON CONFLICT (number, day) DO UPDATE SET sms_mo = excluded.sms_mo",
                    PRICED_SMS,
                    CURRENT.start,
                    sms,
                )
                await asyncio.sleep(0.005 * (sms % 4))  # let readers overlap the commit
                answer = await _answer(engine, CURRENT, scope)
                assert usage_of(answer) == str(Decimal("0.07") * sms), sms
    finally:
        stop.set()
        await asyncio.gather(*readers)
    assert _bytes(await _answer(engine, CURRENT, scope)) == _bytes(
        await _live(engine, CURRENT, scope)
    )
