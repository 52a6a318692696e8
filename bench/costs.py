"""Cost report benchmark: the service's report against one hand-written SQL aggregate.

    .venv/bin/python bench/costs.py            (or: make bench-costs)

In one run:

1. creates a scratch database (``bench_costs``) on the local PostgreSQL, migrates it with
   ``alembic upgrade head`` and COPYs in 100,000 numbers created over the 12 months up to
   the report month (90 % monthly, 10 % annual, 5 % deleted at period end, fee changes on
   5 %), 10,000 allocation changes over 4,000 of them, 200 tenants, 20 pools and 200,000
   days of inbound usage; fee versions come from the ``numbers`` trigger, back-dated;
2. rolls the report month (closed) up, by tenant and by number on both bases, and times,
   taking turns, what a caller of ``GET /v1/costs`` waits for (the service call and the
   JSON's bytes, as the controller writes them): the report from its rollup
   (``app.costs.service.cost_answer``), the same rollup as it was stored and answered
   before migration 0021 (msgpack decoded into ``Decimal``s, then the API's structs
   encoded), the live computation of the same report (``live_report``, what every report
   ran before the rollups), the current month's report (its live statement, what every
   ask ran before migration 0023; the first ask after a write, which computes and keeps
   it; and asked again, served from what was kept), and one hand-written SQL
   aggregate of the cash report of each month (billing day by date arithmetic, the fee by
   a LATERAL lookup, the holder by a range join);
3. checks that the three answers of the closed month are equal byte for byte, and the
   cash totals the hand-written query's; then rolls up every month of the data and checks
   each against the live computation, byte for byte (``BENCH_EVERY_MONTH=0`` skips this);
   prints the
   medians, the ratios and the targets, and drops the scratch database.

Targets (issue 18): a closed month under 50 ms, the current month under 0.5 s, both
equal to the live computation to the cent.
Environment: ``BENCH_POSTGRES_URL`` (maintenance database, default
``postgresql://postgres@127.0.0.1:5432/postgres``), ``BENCH_DATABASE`` (the scratch
database, default ``bench_costs``), ``BENCH_RUNS`` (default 5), ``BENCH_EVERY_MONTH``
(default 1).
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.costs import live as kept  # noqa: E402
from app.costs import parts  # noqa: E402
from app.costs.model import Basis, GroupBy, Month, Report  # noqa: E402
from app.costs.rendered import Rendered, render  # noqa: E402
from app.costs.rollups import rolls_up  # noqa: E402
from app.costs.schemas import report_json, report_out  # noqa: E402
from app.costs.service import _from_parts as from_parts  # noqa: E402
from app.costs.service import (  # noqa: E402
    _report_values,
    berlin_today,
    cost_answer,
    live_report,
)
from app.costs.sql import name_lookup_sql  # noqa: E402
from app.numbers.mirror import SEVEN_TIME_ZONE, format_seven_time  # noqa: E402
from bench.common import POSTGRES_URL  # noqa: E402
from tests.support.db import create_database, drop_database  # noqa: E402

NUMBERS = 100_000
ALLOCATION_CHANGES = 10_000
ALLOCATED_NUMBERS = 4_000
USAGE_DAYS = 200_000
TENANTS = 200
POOLS = 20
MONTH = Month.parse("2026-10")
HISTORY_START = date(2025, 10, 1)
DATABASE = os.environ.get("BENCH_DATABASE", "bench_costs")
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
# Issue 18: a closed month from its rollup, the current month live.
ROLLUP_TARGET_SECONDS = 0.05
CURRENT_TARGET_SECONDS = 0.5
EVERY_MONTH = os.environ.get("BENCH_EVERY_MONTH", "1") != "0"

# The cash report by tenant, as a person would write it for this one question. Its fee
# lookup (latest version on or before the day, else the latest) differs from the model's
# (else the first) only for days before a number's first version, which this data lacks.
HAND_WRITTEN = """
WITH n AS (
    SELECT number, country, pool_id, payment_interval,
           (seven_created_at AT TIME ZONE 'Europe/Berlin')::date AS c,
           COALESCE((seven_expires_at AT TIME ZONE 'Europe/Berlin')::date, 'infinity') AS e
    FROM numbers WHERE seven_created_at IS NOT NULL
),
billed AS (  -- this month's billing day: the created day, clamped to the month's length
    SELECT n.*, make_date($3::int, $4::int, LEAST(EXTRACT(DAY FROM n.c)::int,
                                       EXTRACT(DAY FROM $2::date - 1)::int)) AS day
    FROM n
    WHERE n.payment_interval = 'monthly' OR EXTRACT(MONTH FROM n.c)::int = $4::int
),
charges AS (
    SELECT number, country, pool_id, day, 'recurring' AS kind FROM billed
    WHERE day >= c AND day < e
    UNION ALL
    SELECT number, country, pool_id, c, 'setup' FROM n WHERE c >= $1 AND c < $2 AND c < e
),
priced AS (
    SELECT ch.number, ch.country, ch.pool_id, ch.day,
           CASE WHEN ch.kind = 'setup' THEN f.fee_setup ELSE f.fee_basic_charge END AS amount
    FROM charges ch
    CROSS JOIN LATERAL (
        SELECT fee_setup, fee_basic_charge FROM number_fee_versions v
        WHERE v.number = ch.number
        ORDER BY (v.valid_from AT TIME ZONE 'Europe/Berlin')::date <= ch.day DESC,
                 v.valid_from DESC
        LIMIT 1
    ) f
    UNION ALL
    SELECT u.number, n.country, n.pool_id, u.day,
           u.sms_mo * f.fee_sms_mo + u.voice_mo_minutes * f.fee_voice_mo
    FROM number_usage_daily u
    JOIN n ON n.number = u.number AND u.day >= n.c AND u.day < n.e
    CROSS JOIN LATERAL (
        SELECT fee_sms_mo, fee_voice_mo FROM number_fee_versions v
        WHERE v.number = u.number
        ORDER BY (v.valid_from AT TIME ZONE 'Europe/Berlin')::date <= u.day DESC,
                 v.valid_from DESC
        LIMIT 1
    ) f
    WHERE u.day >= $1 AND u.day < $2
)
SELECT {key} AS key, COUNT(DISTINCT p.number) AS numbers, SUM(p.amount) AS total
FROM priced p
LEFT JOIN allocations a
  ON a.number = p.number
 AND (a.allocated_at AT TIME ZONE 'Europe/Berlin')::date <= p.day
 AND (a.released_at IS NULL OR (a.released_at AT TIME ZONE 'Europe/Berlin')::date > p.day)
GROUP BY 1
"""
HAND_KEYS = {
    "tenant": "COALESCE(a.tenant_id::text, 'pool:' || p.pool_id::text, 'unassigned')",
    "number": "p.number",
}


def berlin(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=SEVEN_TIME_ZONE).astimezone(UTC)


def _money(rng: random.Random, low: float, high: float) -> Decimal:
    return Decimal(rng.randint(int(low * 100), int(high * 100))) / 100


async def generate(conn: asyncpg.Connection, rng: random.Random) -> None:
    tenants = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(TENANTS)]
    pools = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(POOLS)]
    await conn.copy_records_to_table(
        "tenants",
        records=[(t, f"tenant {i}") for i, t in enumerate(tenants)],
        columns=["id", "name"],
    )
    await conn.copy_records_to_table(
        "pools", records=[(p, f"pool {i}") for i, p in enumerate(pools)], columns=["id", "name"]
    )
    span = (MONTH.stop - HISTORY_START).days
    numbers, created_on = [], {}
    for i in range(NUMBERS):
        number = f"49151{i:08d}"
        created = HISTORY_START + timedelta(days=rng.randrange(span))
        interval = "annually" if rng.random() < 0.1 else "monthly"
        expires = None
        if rng.random() < 0.05:
            expires = berlin(created + timedelta(days=rng.randint(30, 300)))
        created_at = berlin(created)
        created_on[number] = created
        numbers.append(
            (
                number,
                rng.choice(["DE", "DE", "AT", "FR", "NL", "DK", "GB"]),
                interval,
                _money(rng, 0, 20),
                _money(rng, 1, 30) * (12 if interval == "annually" else 1),
                _money(rng, 0, 0.1),
                _money(rng, 0, 0.05),
                format_seven_time(created_at),
                created_at,
                format_seven_time(expires) if expires else None,
                expires,
                "deleting" if expires else "active",
                rng.choice(pools) if rng.random() < 0.6 else None,
            )
        )
    await conn.copy_records_to_table(
        "numbers",
        records=numbers,
        columns=[
            "number",
            "country",
            "payment_interval",
            "fee_setup",
            "fee_basic_charge",
            "fee_sms_mo",
            "fee_voice_mo",
            "created",
            "seven_created_at",
            "expires",
            "seven_expires_at",
            "state",
            "pool_id",
        ],
    )
    # The trigger wrote each number's first version "now": date it back to creation, and
    # add fee changes the sync saw later on 5 % of the numbers.
    await conn.execute(
        "UPDATE number_fee_versions v SET valid_from = n.seven_created_at"
        " FROM numbers n WHERE n.number = v.number"
    )
    changes = []
    for number, *_ in rng.sample(numbers, NUMBERS // 20):
        seen = created_on[number] + timedelta(days=rng.randint(10, 200))
        changes.append(
            (
                number,
                berlin(seen),
                "monthly",
                Decimal(0),
                _money(rng, 1, 30),
                Decimal(0),
                Decimal(0),
            )
        )
    await conn.copy_records_to_table(
        "number_fee_versions",
        records=changes,
        columns=[
            "number",
            "valid_from",
            "payment_interval",
            "fee_setup",
            "fee_basic_charge",
            "fee_sms_mo",
            "fee_voice_mo",
        ],
    )
    allocations = []
    held = rng.sample(numbers, ALLOCATED_NUMBERS)
    per_number = ALLOCATION_CHANGES // ALLOCATED_NUMBERS
    for index, (number, *_) in enumerate(held):
        count = per_number + (1 if index < ALLOCATION_CHANGES % ALLOCATED_NUMBERS else 0)
        cursor = berlin(created_on[number], 9)
        for k in range(count):
            start = cursor + timedelta(days=rng.randint(0, 30), hours=rng.randint(0, 8))
            end = (
                None
                if k == count - 1 and rng.random() < 0.5
                else start + timedelta(days=rng.randint(1, 120))
            )
            allocations.append((uuid.uuid4(), number, rng.choice(tenants), None, start, end))
            if end is None:
                break
            cursor = end
    await conn.copy_records_to_table(
        "allocations",
        records=allocations,
        columns=["id", "number", "tenant_id", "pool_id", "allocated_at", "released_at"],
    )
    usage = {}
    for _ in range(USAGE_DAYS):
        number = numbers[rng.randrange(NUMBERS)][0]
        day = created_on[number] + timedelta(days=rng.randint(0, 365))
        usage[(number, day)] = (number, day, rng.randint(1, 40), Decimal(rng.randint(0, 30)))
    await conn.copy_records_to_table(
        "number_usage_daily",
        records=list(usage.values()),
        columns=["number", "day", "sms_mo", "voice_mo_minutes"],
    )
    await conn.execute("ANALYZE")
    print(
        f"data: {NUMBERS:,} numbers, {len(changes):,} fee changes, {len(allocations):,}"
        f" allocation changes, {len(usage):,} usage days; report month {MONTH}"
    )


async def medians(
    runs: dict[str, Callable[[], Awaitable[Any]]],
    untimed: dict[str, Callable[[], Awaitable[Any]]] | None = None,
) -> dict[str, tuple[float, Any]]:
    """Median seconds and last result of each run. The runs take turns, round after round,
    so a neighbour's load spike lands on all of them rather than on one. ``untimed``: what
    runs just before a run, outside its time (a write that outdates a kept report)."""
    before = untimed or {}
    for name, run in runs.items():  # warm-up: plans and caches
        if name in before:
            await before[name]()
        await run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    results: dict[str, Any] = {}
    for _ in range(RUNS):
        for name, run in runs.items():
            if name in before:
                await before[name]()
            started = time.perf_counter()
            results[name] = await run()
            times[name].append(time.perf_counter() - started)
            # A recurring part the run left to keep after its answer, untimed (and not
            # overlapping the next run).
            await parts.settled()
    return {name: (statistics.median(times[name]), results[name]) for name in runs}


async def main() -> int:
    url = await create_database(POSTGRES_URL, DATABASE, migrate=True)
    ok = True
    try:
        conn = await asyncpg.connect(url)
        try:
            started = time.perf_counter()
            await generate(conn, random.Random(6))
            print(f"generated in {time.perf_counter() - started:.1f} s")
        finally:
            await conn.close()
        engine = create_async_engine(url.replace("postgresql://", "postgresql+asyncpg://", 1))
        try:
            raw = await asyncpg.connect(url)
            try:
                ok = await compare(engine, raw)
            finally:
                await raw.close()
        finally:
            await engine.dispose()
    finally:
        await drop_database(POSTGRES_URL, DATABASE)
    return 0 if ok else 1


def _hand_total(rows: list[Any]) -> Decimal:
    return sum((row["total"] for row in rows), Decimal(0)).quantize(Decimal("0.01"))


async def compare(engine: AsyncEngine, raw: asyncpg.Connection) -> bool:
    """The report month (closed: from its rollup) and the current month (live), by tenant
    and by number on both bases, against the live computation of the closed month and the
    hand-written query of each month; then every month of the data, rollup against live."""
    today = berlin_today()
    current = Month.of(today)
    if not rolls_up(MONTH, GroupBy.TENANT, today):
        print(f"{MONTH} is not closed yet: no rollup to measure")
        return False
    ok = True
    print(f"{'report':<36}{'median':>10}{'vs live':>10}{'vs hand':>10}   target")
    async with AsyncSession(engine) as session:
        for group_by in (GroupBy.TENANT, GroupBy.NUMBER):
            ok &= await _compare_grouping(session, raw, group_by, current)
    if EVERY_MONTH:
        ok &= await _every_month(engine)
    return ok


class _OldRow(msgspec.Struct, frozen=True, gc=False, array_like=True):
    """A row as the rollups stored it before migration 0021 (msgpack, by position)."""

    key: str
    numbers: int
    recurring: Decimal
    setup: Decimal
    usage: Decimal
    total: Decimal
    name: str | None = None


class _OldStored(msgspec.Struct, array_like=True, gc=False):
    rows: list[_OldRow]
    totals: _OldRow


_old_decoder = msgspec.msgpack.Decoder(_OldStored)
_json = msgspec.json.Encoder()


async def _keep_old_rollup(session: AsyncSession, name: str, report: Report) -> None:
    """``report`` stored as the rollups stored it before (msgpack in a pglz-compressed
    bytea), to time the answer as it was read back, side by side with the one now."""
    old = msgspec.msgpack.Encoder(decimal_format="string").encode(
        _OldStored(
            [_OldRow(*msgspec.structs.astuple(row)) for row in report.rows],
            _OldRow(*msgspec.structs.astuple(report.totals)),
        )
    )
    await session.execute(
        text("CREATE TABLE IF NOT EXISTS bench_old_rollups (name text PRIMARY KEY, report bytea)")
    )
    await session.execute(
        text("INSERT INTO bench_old_rollups VALUES (:name, :report)"),
        {"name": name, "report": old},
    )
    await session.commit()


async def _compare_grouping(
    session: AsyncSession, raw: asyncpg.Connection, group_by: GroupBy, current: Month
) -> bool:
    sql = HAND_WRITTEN.replace("{key}", HAND_KEYS[group_by])

    def hand(month: Month) -> Callable[[], Awaitable[Any]]:
        values = (month.start, month.stop, month.start.year, month.start.month)
        return lambda: raw.fetch(sql, *values)

    # Each run times what a caller of GET /v1/costs waits for, the JSON's bytes (the
    # CSV's are the same fetch, one attribute): the service call and the encoding.
    def answer(month: Month, basis: Basis) -> Callable[[], Awaitable[bytes]]:
        async def run() -> bytes:
            found = await cost_answer(session, month, basis, group_by)
            return report_json(str(month), basis, group_by, found)

        return run

    def live(basis: Basis, month: Month = MONTH) -> Callable[[], Awaitable[bytes]]:
        async def run() -> bytes:
            found = render(await live_report(session, month, basis, group_by))
            return report_json(str(month), basis, group_by, found)

        return run

    writes = _writes(raw, current)

    def before(basis: Basis) -> Callable[[], Awaitable[bytes]]:
        """The rollup as it was answered before: the msgpack fetched and decoded into
        Decimals (names looked up, by tenant), the API's structs built and encoded."""

        async def run() -> bytes:
            stored = _old_decoder.decode(
                await session.scalar(
                    text("SELECT report FROM bench_old_rollups WHERE name = :name"),
                    {"name": f"{basis} {group_by}"},
                )
            )
            rows: list[Any] = stored.rows
            names_sql = name_lookup_sql(group_by)
            if names_sql is not None and rows:
                found = await session.execute(text(names_sql), {"keys": [r.key for r in rows]})
                names = {key: name for key, name in found}
                rows = [msgspec.structs.replace(r, name=names.get(r.key)) for r in rows]
            report = Report(rows, stored.totals)  # type: ignore[arg-type]
            return _json.encode(report_out(str(MONTH), basis, group_by, report))

        return run

    # The closed month's first answer computes its rollup and stores it.
    firsts = {}
    for basis in Basis:
        started = time.perf_counter()
        await cost_answer(session, MONTH, basis, group_by)
        firsts[basis] = time.perf_counter() - started
        await _keep_old_rollup(
            session, f"{basis} {group_by}", await live_report(session, MONTH, basis, group_by)
        )
    # The current month's first asks after each kind of write come first in each round,
    # so that every other run of the round (the hand-written query too) reads the same
    # data. One write outdates both bases' kept reports: a second one before the
    # accrual's first ask would outdate the cash report again before it is asked again.
    runs: dict[str, Callable[[], Awaitable[Any]]] = {
        f"current cold {kind} {basis}": answer(current, basis) for kind in writes for basis in Basis
    }
    untimed = {f"current cold {kind} {Basis.CASH}": write for kind, write in writes.items()}
    runs |= {"hand, closed": hand(MONTH), "hand, current": hand(current)}
    for basis in Basis:
        runs[f"live {basis}"] = live(basis)
        runs[f"before {basis}"] = before(basis)
        runs[f"rollup {basis}"] = answer(MONTH, basis)
        runs[f"current live {basis}"] = live(basis, current)
        runs[f"current {basis}"] = answer(current, basis)
    found = await medians(runs, untimed)
    parts = {
        (kind, basis): await _first_ask_parts(session, write, current, basis, group_by)
        for kind, write in writes.items()
        for basis in Basis
    }
    ok = all(same for _, same in parts.values())

    def line(label: str, seconds: float, live: float | None, hand: float, target: str) -> None:
        versus_live = f"{seconds / live:.3f}x" if live else ""
        print(
            f"{label:<44}{seconds * 1000:>8.1f}ms{versus_live:>10}{seconds / hand:>9.2f}x"
            f"   {target}"
        )

    closed_hand, closed_rows = found["hand, closed"]
    current_hand, current_rows = found["hand, current"]
    line(f"hand-written SQL, cash, {MONTH}", closed_hand, None, closed_hand, "")
    line(f"hand-written SQL, cash, {current}", current_hand, None, current_hand, "")
    for basis in Basis:
        live_seconds, live_body = found[f"live {basis}"]
        before_seconds, before_body = found[f"before {basis}"]
        rollup_seconds, rollup_body = found[f"rollup {basis}"]
        current_seconds, now_body = found[f"current {basis}"]
        current_live_seconds, current_live_body = found[f"current live {basis}"]
        colds = {kind: found[f"current cold {kind} {basis}"][0] for kind in writes}
        met = rollup_seconds < ROLLUP_TARGET_SECONDS
        met_now = current_seconds < CURRENT_TARGET_SECONDS
        ok &= met and met_now
        line(f"live, {basis}, by {group_by}, {MONTH}", live_seconds, live_seconds, closed_hand, "")
        print(f"  first answer, computing and storing the rollup: {firsts[basis] * 1000:.0f}ms")
        line(
            f"rollup before (msgpack), {basis}, by {group_by}",
            before_seconds,
            live_seconds,
            closed_hand,
            "",
        )
        line(
            f"rollup now (bytes), {basis}, by {group_by}",
            rollup_seconds,
            live_seconds,
            closed_hand,
            f"< {ROLLUP_TARGET_SECONDS * 1000:.0f} ms {'met' if met else 'MISSED'}"
            f", {rollup_seconds / before_seconds:.3f}x before",
        )
        line(
            f"live statement, {basis}, by {group_by}, {current}",
            current_live_seconds,
            current_live_seconds,
            current_hand,
            "(every ask, before)",
        )
        for kind, cold_seconds in colds.items():
            met_cold = cold_seconds < CURRENT_TARGET_SECONDS
            line(
                f"  first ask after {kind} (computed, kept)",
                cold_seconds,
                current_live_seconds,
                current_hand,
                f"< {CURRENT_TARGET_SECONDS * 1000:.0f} ms {'met' if met_cold else 'MISSED'}",
            )
            times, same = parts[kind, basis]
            print(
                "    its parts (medians): "
                + ", ".join(f"{name} {seconds * 1000:.0f} ms" for name, seconds in times.items())
                + f"; each answer {'equal to' if same else 'DIFFERENT from'} the live"
                " statement's, byte for byte"
            )
        line(
            "  asked again (kept, checked)",
            current_seconds,
            current_live_seconds,
            current_hand,
            f"< {CURRENT_TARGET_SECONDS * 1000:.0f} ms {'met' if met_now else 'MISSED'}",
        )
        same_now = now_body == current_live_body
        ok &= same_now
        print(
            f"  {current}: kept answer {'equal to' if same_now else 'DIFFERENT from'}"
            " the live statement's, byte for byte"
        )
        agree = rollup_body == live_body == before_body
        ok &= agree
        rollup = msgspec.json.decode(rollup_body)
        print(
            f"  {len(rollup['rows']):,} rows, total {rollup['totals']['total']} EUR, "
            f"{len(rollup_body) / 1e6:.1f} MB: rollup {'equal to' if agree else 'DIFFERENT from'}"
            " the live report and the one before, byte for byte"
        )
        if basis == Basis.CASH:
            now = msgspec.json.decode(now_body)
            for month, total, rows in (
                (MONTH, rollup["totals"]["total"], closed_rows),
                (current, now["totals"]["total"], current_rows),
            ):
                hand_total = _hand_total(rows)
                same = Decimal(total) == hand_total
                ok &= same
                print(
                    f"  {month} cash total {total}"
                    f" ({'equal to' if same else 'DIFFERENT from'} the hand-written {hand_total})"
                )
    return ok


def _writes(raw: asyncpg.Connection, current: Month) -> dict[str, Callable[[], Awaitable[None]]]:
    """One write of each kind that reaches the current month, each committed on its own
    connection: a usage day upserted (what an inbound SMS writes), an allocation
    made before the 20th released on it or open again (taking turns), a fee version
    seen today."""
    number = "4915100000000"  # the first number of ``generate``
    released = berlin(current.start + timedelta(days=19))
    fee = iter(range(1, 1_000_000))

    async def usage_day() -> None:
        await raw.execute(
            "INSERT INTO number_usage_daily AS u (number, day, sms_mo) VALUES ($1, $2, 1)"
            " ON CONFLICT (number, day) DO UPDATE SET sms_mo = u.sms_mo + 1",
            number,
            current.start,
        )

    async def allocation() -> None:
        await raw.execute(
            "UPDATE allocations SET released_at = CASE WHEN released_at IS NULL THEN $1 END"
            " WHERE id = (SELECT id FROM allocations WHERE released_at IS NULL"
            " AND allocated_at < $1 OR released_at = $1 ORDER BY id LIMIT 1)",
            released,
        )

    async def fee_version() -> None:
        await raw.execute(
            "INSERT INTO number_fee_versions (number, valid_from, payment_interval, fee_setup,"
            " fee_basic_charge, fee_sms_mo, fee_voice_mo)"
            " VALUES ($1, now(), 'monthly', 0, $2, 0.01, 0)",
            number,
            Decimal(next(fee)) / 100,
        )

    return {"a usage day": usage_day, "an allocation": allocation, "a fee version": fee_version}


async def _first_ask_parts(
    session: AsyncSession,
    write: Callable[[], Awaitable[None]],
    month: Month,
    basis: Basis,
    group_by: GroupBy,
) -> tuple[dict[str, float], bool]:
    """Where the first ask after a write goes, each part timed alone (``RUNS`` times,
    medians): the check that finds the kept report outdated, the report from the kept
    recurring part and the usage (the part computed and kept first when the write
    outdated it), encoding the JSON, and storing it; and whether each answer was the
    live statement's, byte for byte (computed after it, untimed)."""
    engine = session.bind
    assert isinstance(engine, AsyncEngine)
    times: dict[str, list[float]] = {
        "check": [],
        "from parts": [],
        "encode": [],
        "store": [],
        "part kept after": [],
    }
    same = True
    for _ in range(RUNS):
        await write()
        started = time.perf_counter()
        assert await kept.read(session, month, basis, group_by, None) is None
        checked = time.perf_counter()
        rendered, _, from_valid_part = await from_parts(session, month, basis, group_by, None)
        computed = time.perf_counter()
        body = report_json(str(month), basis, group_by, rendered)
        encoded = time.perf_counter()
        # For timing only: a snapshot read right after the statement, nothing written
        # between (the next round's write outdates it anyway).
        snapshot = await session.scalar(text("SELECT pg_current_snapshot()::text"))
        stored_at = time.perf_counter()
        await kept.store(engine, month, basis, group_by, None, snapshot, rendered, False)
        done = time.perf_counter()
        # Off the answer's path: the part kept (anew) after a recurring write.
        if not from_valid_part:
            await parts.build(engine, month, basis, _report_values(month, basis, None, None))
        times["part kept after"].append(time.perf_counter() - done)
        live = render(await live_report(session, month, basis, group_by))
        same &= (bytes(live.rows), bytes(live.totals)) == (
            bytes(rendered.rows),
            bytes(rendered.totals),
        )
        assert body
        times["check"].append(checked - started)
        times["from parts"].append(computed - checked)
        times["encode"].append(encoded - computed)
        times["store"].append(done - stored_at)
    return {name: statistics.median(values) for name, values in times.items()}, same


async def _every_month(engine: AsyncEngine) -> bool:
    """Each month of the data rolled up (by tenant and by number, both bases) and read
    back, against the live computation to the byte (JSON rows and totals, CSV)."""
    started = time.perf_counter()
    checked, different = 0, []
    month = Month.of(HISTORY_START)
    while month.start <= MONTH.start:
        for basis in Basis:
            for group_by in (GroupBy.TENANT, GroupBy.NUMBER):
                async with AsyncSession(engine) as session:
                    await cost_answer(session, month, basis, group_by)  # rolls it up
                async with AsyncSession(engine) as session:
                    served = await cost_answer(session, month, basis, group_by)
                    live = render(await live_report(session, month, basis, group_by))
                checked += 1
                if _bytes(served) != _bytes(live):
                    different.append(f"{month} {basis} by {group_by}")
        month = month.next()
    print(
        f"every month {Month.of(HISTORY_START)}..{MONTH}: {checked} rollups"
        f" {'equal to' if not different else 'DIFFERENT from'} the live reports"
        f" ({time.perf_counter() - started:.0f} s)"
    )
    for name in different:
        print(f"  DIFFERENT: {name}")
    return not different


def _bytes(report: Rendered) -> tuple[bytes, bytes, bytes]:
    return bytes(report.rows), bytes(report.totals), report.csv


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
