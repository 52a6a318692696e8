"""Operations benchmark: orders from the 202 to ``succeeded``, against a no-op arq job.

    .venv/bin/python bench/operations.py            (or: make bench-operations)

What it does, in one run:

1. creates a scratch database (``bench_operations``) on the local PostgreSQL, migrates it
   with ``alembic upgrade head`` and starts the sandbox (answering at once, no faults);
2. for 1 and then 2 worker processes (the real worker, with the benchmark's ``noop`` job
   added: ``bench/worker.py``):
   a. submits ``BENCH_OPERATIONS`` orders through the API (in process, 32 at a time) and
      waits until every operation has succeeded; the rate is operations over the time
      from the first operation's creation (its 202) to the last one's ``finished_at``,
      and each operation's latency is ``finished_at - created_at``;
   b. enqueues as many ``noop`` jobs on the same Redis and the same workers and times
      them until the queue is empty: what arq itself costs per job;
   c. for reference, the workers alone ("drain"): the orders are queued first, the
      workers started after, and the rate runs from the first run's start to the last
      success, so neither the API nor worker start-up is in the window;
3. checks the sandbox's ledger (one order per number, no more), prints both rates and
   their ratio, and drops the scratch database.

Environment: ``BENCH_POSTGRES_URL`` (maintenance database, default
``postgresql://postgres@127.0.0.1:5432/postgres``), ``BENCH_REDIS_URL`` (default
``redis://127.0.0.1:6379/14``, flushed), ``BENCH_OPERATIONS`` (default 600).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.asgi import create_app  # noqa: E402
from app.lib.queue import create_queue  # noqa: E402
from app.settings import Settings  # noqa: E402
from bench.common import ADMIN_KEY, POSTGRES_URL, redis_url  # noqa: E402
from tests.support.db import create_database, drop_database  # noqa: E402
from tests.support.sandbox import SandboxProcess  # noqa: E402
from tests.support.worker import WorkerProcess  # noqa: E402

DATABASE = "bench_operations"
REDIS_URL = redis_url(14)
COUNT = int(os.environ.get("BENCH_OPERATIONS", "600"))
CONCURRENCY = 32
COUNTRIES = 12  # the sandbox offers numbers of 12 countries
WORKER = "bench.worker.SETTINGS"


@dataclass(frozen=True)
class Run:
    workers: int
    operations_per_second: float
    p50_ms: float
    p99_ms: float
    noop_per_second: float
    drain_per_second: float

    @property
    def ratio(self) -> float:
        return self.operations_per_second / self.noop_per_second


async def _recreate_database() -> str:
    return await create_database(POSTGRES_URL, DATABASE, migrate=True)


async def _drop_database() -> None:
    await drop_database(POSTGRES_URL, DATABASE)


async def _clean(db: asyncpg.Connection, redis: Redis, sandbox: SandboxProcess) -> None:
    await db.execute("TRUNCATE operations, numbers, sync_runs RESTART IDENTITY CASCADE")
    await redis.flushdb()
    sandbox.reset()


async def _workers_ready(settings: Settings, count: int) -> list[WorkerProcess]:
    """Start the workers and return once each has run a job (imports and pools done)."""
    workers = [WorkerProcess(settings, worker=WORKER).start() for _ in range(count)]
    queue = create_queue(settings.redis_url)
    try:
        for _ in range(20 * count):
            job = await queue.enqueue_job("noop")
            assert job is not None
            await job.result(timeout=60, poll_delay=0.05)
        await asyncio.sleep(1.0)  # let the second process finish starting, too
        await queue.flushdb()
    finally:
        await queue.aclose()
    return workers


async def _submit(client: AsyncTestClient[Litestar], numbers: list[str]) -> None:
    """One order per number through the API, ``CONCURRENCY`` at a time; all must be 202."""
    gate = asyncio.Semaphore(CONCURRENCY)
    headers = {"X-Api-Key": ADMIN_KEY}

    async def submit(number: str) -> None:
        async with gate:
            response = await client.post(
                "/v1/orders",
                json={"number": number, "payment_interval": "monthly"},
                headers=headers,
            )
            assert response.status_code == 202, response.text

    await asyncio.gather(*(submit(n) for n in numbers))


async def _all_succeeded(db: asyncpg.Connection, count: int) -> None:
    while True:
        done = await db.fetchval("SELECT count(*) FROM operations WHERE status = 'succeeded'")
        failed = await db.fetchval("SELECT count(*) FROM operations WHERE status = 'failed'")
        assert failed == 0, f"{failed} operations failed"
        if done == count:
            return
        await asyncio.sleep(0.05)


async def _orders(
    client: AsyncTestClient[Litestar], db: asyncpg.Connection, numbers: list[str]
) -> tuple[float, float, float]:
    """Submit while the workers run; (orders/s, p50 ms, p99 ms) from the 202s to success."""
    await _submit(client, numbers)
    await _all_succeeded(db, len(numbers))
    row = await db.fetchrow(
        "WITH t AS (SELECT created_at, finished_at,"
        " extract(epoch FROM finished_at - created_at) AS latency FROM operations)"
        " SELECT extract(epoch FROM max(finished_at) - min(created_at)) AS seconds,"
        " percentile_cont(0.5) WITHIN GROUP (ORDER BY latency) AS p50,"
        " percentile_cont(0.99) WITHIN GROUP (ORDER BY latency) AS p99 FROM t"
    )
    return len(numbers) / float(row["seconds"]), float(row["p50"]) * 1000, float(row["p99"]) * 1000


async def _drain(
    client: AsyncTestClient[Litestar],
    db: asyncpg.Connection,
    settings: Settings,
    numbers: list[str],
    worker_count: int,
) -> float:
    """The workers alone: orders queued first, then the rate from the first run's start
    to the last success (the API and worker start-up are outside the window)."""
    await _submit(client, numbers)
    workers = [WorkerProcess(settings, worker=WORKER).start() for _ in range(worker_count)]
    try:
        await _all_succeeded(db, len(numbers))
    finally:
        for worker in workers:
            worker.stop()
    seconds = await db.fetchval(
        "SELECT extract(epoch FROM max(finished_at) - min(started_at)) FROM operations"
    )
    return len(numbers) / float(seconds)


async def _noops(settings: Settings, count: int) -> float:
    queue = create_queue(settings.redis_url)
    try:
        started = time.monotonic()
        for _ in range(count):
            await queue.enqueue_job("noop")
        while True:  # arq removes a job from its queue when the job has finished
            if not await queue.zcard("arq:queue"):
                return count / (time.monotonic() - started)
            await asyncio.sleep(0.01)
    finally:
        await queue.aclose()


async def main() -> None:
    database_url = await _recreate_database()
    sandbox = SandboxProcess.start(available=COUNT // COUNTRIES + 20)
    settings = Settings(
        database_url=database_url.replace("postgresql://", "postgresql+asyncpg://", 1),
        redis_url=REDIS_URL,
        seven_api_key=sandbox.api_key,
        seven_base_url=sandbox.base_url,
        admin_api_key=ADMIN_KEY,
        log_level="WARNING",
    )
    numbers = [n["number"] for n in sandbox.available()][:COUNT]
    assert len(numbers) == COUNT, f"the sandbox offers only {len(numbers)} numbers"
    db = await asyncpg.connect(database_url)
    redis = Redis.from_url(REDIS_URL)
    runs: list[Run] = []
    try:
        async with AsyncTestClient(app=create_app(settings)) as client:
            for worker_count in (1, 2):
                await _clean(db, redis, sandbox)
                workers = await _workers_ready(settings, worker_count)
                try:
                    rate, p50, p99 = await _orders(client, db, numbers)
                    orders = sum(len(v) for v in sandbox.ledger().values())
                    assert orders == COUNT, f"seven saw {orders} orders for {COUNT} numbers"
                    noop = await _noops(settings, COUNT)
                finally:
                    for worker in workers:
                        worker.stop()
                await _clean(db, redis, sandbox)
                drain = await _drain(client, db, settings, numbers, worker_count)
                runs.append(Run(worker_count, rate, p50, p99, noop, drain))
    finally:
        await db.close()
        await redis.aclose()
        sandbox.stop()
        await _drop_database()

    print(f"operations benchmark: {COUNT} orders per run, sandbox answering at once")
    print(
        f"{'workers':>7}  {'orders/s':>9}  {'p50 ms':>7}  {'p99 ms':>7}  "
        f"{'noop jobs/s':>11}  {'ratio':>5}  {'drain orders/s':>14}"
    )
    for run in runs:
        print(
            f"{run.workers:>7}  {run.operations_per_second:>9.1f}  {run.p50_ms:>7.0f}  "
            f"{run.p99_ms:>7.0f}  {run.noop_per_second:>11.1f}  {run.ratio:>5.3f}  "
            f"{run.drain_per_second:>14.1f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
