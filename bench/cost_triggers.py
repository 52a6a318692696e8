"""What one write to the costs' inputs pays for the cost triggers: at migration 0024 (the
closed months' versions and the live reports' change row) against the head (0025: the
change row says which part of a live report the write reaches; usage calls its own
function), side by side.

    .venv/bin/python bench/cost_triggers.py

Two scratch databases (``BENCH_DATABASE`` with ``_before`` and ``_after``), one migrated
to ``BENCH_BEFORE`` (default ``0024_deferred_index_builds``), one to the head, each given
the same numbers (``BENCH_NUMBERS``, default 10,000: monthly, created over the last 12 months,
their first fee versions from the ``numbers`` trigger), a tenant and a usage day each.
Then, taking turns (before, after, before, ...; ``BENCH_RUNS`` rounds after a warm-up,
default 200), each kind of write in a transaction of its own that is rolled back, timed
from BEGIN to the end of the write (the triggers run in the statement):

- one allocation: a number handed to the tenant today;
- one usage day: a number's count for today upserted;
- one fee version: a number's fee changed today;
- 1,000 numbers' expiry set in one statement (a row trigger each: the sync's expiries).

Prints the medians of each and after / before. Drops the databases at the end.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import POSTGRES_URL  # noqa: E402
from tests.support.db import alembic, create_database, drop_database  # noqa: E402

DATABASE = os.environ.get("BENCH_DATABASE", "bench_cost_triggers")
BEFORE = os.environ.get("BENCH_BEFORE", "0024_deferred_index_builds")
NUMBERS = int(os.environ.get("BENCH_NUMBERS", "10000"))
RUNS = int(os.environ.get("BENCH_RUNS", "200"))
TENANT = uuid.UUID("00000000-0000-4000-8000-00000000000a")


async def prepare(name: str, revision: str) -> str:
    url = await create_database(POSTGRES_URL, name)
    await alembic(url, "upgrade", revision)
    conn = await asyncpg.connect(url)
    try:
        now = datetime.now(UTC)
        await conn.execute("INSERT INTO tenants (id, name) VALUES ($1, 'bench')", TENANT)
        await conn.execute(
            "INSERT INTO numbers (number, country, payment_interval, state, created,"
            " seven_created_at, fee_setup, fee_basic_charge, fee_sms_mo, fee_voice_mo)"
            " SELECT '49151' || lpad(i::text, 8, '0'), 'DE', 'monthly', 'active', c, c,"
            " 1, 2, 0.05, 0"
            " FROM generate_series(1, $1) i,"
            " LATERAL (SELECT CAST($2 AS timestamptz) - i * interval '50 minutes' AS c) t",
            NUMBERS,
            now,
        )
        await conn.execute(
            "INSERT INTO number_usage_daily (number, day, sms_mo)"
            " SELECT number, (now() AT TIME ZONE 'Europe/Berlin')::date, 1 FROM numbers"
        )
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return url


Write = Callable[[asyncpg.Connection, int], Awaitable[object]]


def _number(i: int) -> str:
    return "49151" + str(1 + i % NUMBERS).zfill(8)


WRITES: dict[str, Write] = {
    "one allocation": lambda c, i: c.execute(
        "INSERT INTO allocations (id, number, tenant_id, allocated_at)"
        " VALUES (gen_random_uuid(), $1, $2, now())",
        _number(i),
        TENANT,
    ),
    "one usage day": lambda c, i: c.execute(
        "INSERT INTO number_usage_daily AS u (number, day, sms_mo)"
        " VALUES ($1, (now() AT TIME ZONE 'Europe/Berlin')::date, 1)"
        " ON CONFLICT (number, day) DO UPDATE SET sms_mo = u.sms_mo + 1",
        _number(i),
    ),
    "one fee version": lambda c, i: c.execute(
        "INSERT INTO number_fee_versions (number, valid_from, payment_interval, fee_setup,"
        " fee_basic_charge, fee_sms_mo, fee_voice_mo) VALUES ($1, now(), 'monthly', 0, 3, 0, 0)",
        _number(i),
    ),
    "1,000 numbers' expiry (one statement)": lambda c, i: c.execute(
        "UPDATE numbers SET seven_expires_at = now() + interval '20 days'"
        " WHERE number IN (SELECT number FROM numbers ORDER BY number OFFSET $1 LIMIT 1000)",
        (i * 1000) % max(1, NUMBERS - 1000),
    ),
}


async def timed(conn: asyncpg.Connection, write: Write, i: int) -> float:
    transaction = conn.transaction()
    started = time.perf_counter()
    await transaction.start()
    try:
        await write(conn, i)
        return time.perf_counter() - started
    finally:
        await transaction.rollback()


async def main() -> int:
    names = {"before": f"{DATABASE}_before", "after": f"{DATABASE}_after"}
    urls = {
        "before": await prepare(names["before"], BEFORE),
        "after": await prepare(names["after"], "head"),
    }
    conns = {side: await asyncpg.connect(url) for side, url in urls.items()}
    try:
        print(f"{NUMBERS:,} numbers; {RUNS} rounds; before = {BEFORE}, after = head")
        print(f"{'write':<40}{'before':>10}{'after':>10}{'after/before':>14}")
        for label, write in WRITES.items():
            times: dict[str, list[float]] = {side: [] for side in conns}
            for i in range(RUNS + 5):
                for side, conn in conns.items():
                    seconds = await timed(conn, write, i)
                    if i >= 5:  # the first rounds warm plans and caches
                        times[side].append(seconds)
            before, after = (statistics.median(times[side]) for side in ("before", "after"))
            print(
                f"{label:<40}{before * 1000:>8.3f}ms{after * 1000:>8.3f}ms{after / before:>13.2f}x"
            )
    finally:
        for conn in conns.values():
            await conn.close()
        for name in names.values():
            await drop_database(POSTGRES_URL, name)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
