"""Operations benchmark: orders from the 202 to ``succeeded``, and the worker's cost per job
against a bare arq worker's.

    .venv/bin/python bench/operations.py            (or: make bench-operations)

What it does: creates a scratch database (``bench_operations``) on the local PostgreSQL,
migrates it with ``alembic upgrade head``, starts the sandbox (answering at once, no faults),
then ``BENCH_RUNS`` times, side by side:

1. no-op jobs, a fresh worker process each: ``BENCH_NOOPS`` no-op jobs are queued, then the
   worker is started and timed until the last of them has run, start-up included
   ("cold"), and from the first job it takes ("warm"). Once the bare arq worker
   (``bench/bare_worker.py``, one no-op function and no project code, run by ``python -m
   arq``), once the service's worker (``python -m workers`` with the benchmark's ``noop``
   added: ``bench/worker.py``). The service's worker also queues its start-up cron jobs
   when it starts; arq runs them after the no-op jobs queued before them, and the time
   until the queue is empty, theirs included, is printed too ("queue empty");
2. the API as production runs it (``bench/api_process.py``: uvicorn, 2 processes), once
   for all runs; then for 1 and then 2 worker processes:
   a. submits ``BENCH_OPERATIONS`` orders to the API over HTTP (32 at a time) and
      waits until every operation has succeeded; the rate is operations over the time
      from the first operation's creation (its 202) to the last one's ``finished_at``,
      and each operation's latency is ``finished_at - created_at``; the rate of 202s and
      the API's CPU while it takes them are printed too (202s no faster than the orders
      end, the submitting side is what limits the rate);
   b. for reference, the workers alone ("drain"): the orders are queued first, the
      workers started after, and the rate runs from the first run's start to the last
      success, so neither the API nor worker start-up is in the window;
3. checks the sandbox's ledger (one order per number, no more) after each run, prints every
   run's figures and ratios and their spread, and drops the scratch database.

Environment: ``BENCH_POSTGRES_URL`` (maintenance database, default
``postgresql://postgres@127.0.0.1:5432/postgres``), ``BENCH_REDIS_URL`` (default
``redis://127.0.0.1:6379/14``, flushed), ``BENCH_OPERATIONS`` (default 120),
``BENCH_NOOPS`` (default 2000), ``BENCH_RUNS`` (default 5), ``BENCH_SEVEN_LATENCY_MS``
(default 0: the sandbox answers an order at once; seven itself takes its time, and
with it a worker's 20 jobs at a time, not the machine's cores, bound its rate).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
from arq import ArqRedis
from redis.asyncio import ConnectionPool, Redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.lib.queue import create_queue  # noqa: E402
from app.settings import Settings  # noqa: E402
from bench import cpu  # noqa: E402
from bench.api_process import ApiProcess  # noqa: E402
from bench.common import ADMIN_KEY, POSTGRES_URL, redis_url  # noqa: E402
from tests.support.db import create_database, drop_database  # noqa: E402
from tests.support.sandbox import SandboxProcess  # noqa: E402
from tests.support.worker import WorkerProcess  # noqa: E402

DATABASE = "bench_operations"
REDIS_URL = redis_url(14)
COUNT = int(os.environ.get("BENCH_OPERATIONS", "120"))
NOOPS = int(os.environ.get("BENCH_NOOPS", "2000"))
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
SEVEN_LATENCY_MS = int(os.environ.get("BENCH_SEVEN_LATENCY_MS", "0"))
CONCURRENCY = 32
COUNTRIES = 12  # the sandbox offers numbers of 12 countries
WORKER = "bench.worker.SETTINGS"
SERVICE_WORKER = [sys.executable, "-m", "workers", WORKER]
BARE_WORKER = [
    *[sys.executable, "-m", "arq", "bench.bare_worker.WorkerSettings"],
    *["--custom-log-dict", "bench.bare_worker.LOGGING"],
]


@dataclass(frozen=True)
class NoopRate:
    cold: float  # jobs/s from the process's start to the last no-op job done
    warm: float  # jobs/s from the first job taken to the last no-op job done
    startup_s: float  # from the process's start to the first job taken
    queue_empty: float  # jobs/s from the process's start to an empty queue


@dataclass(frozen=True)
class Orders:
    workers: int
    operations_per_second: float
    p50_ms: float
    p99_ms: float
    api_cpu: float  # the API's processes' CPU while it takes the orders (cores)
    submitted_per_second: float  # 202s a second: what the API alone let through
    drain: Drain


@dataclass(frozen=True)
class Run:
    load: float
    bare: NoopRate
    service: NoopRate
    orders: list[Orders]


async def _recreate_database() -> str:
    return await create_database(POSTGRES_URL, DATABASE, migrate=True)


async def _drop_database() -> None:
    await drop_database(POSTGRES_URL, DATABASE)


async def _clean(db: asyncpg.Connection, redis: Redis, sandbox: SandboxProcess) -> None:
    await db.execute("TRUNCATE operations, numbers, sync_runs RESTART IDENTITY CASCADE")
    await redis.flushdb()
    sandbox.reset()
    if SEVEN_LATENCY_MS:
        sandbox.add_fault("latency", "order", times=None, ms=SEVEN_LATENCY_MS)


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


async def _submit(client: httpx.AsyncClient, numbers: list[str]) -> None:
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
    api: ApiProcess, client: httpx.AsyncClient, db: asyncpg.Connection, numbers: list[str]
) -> tuple[float, float, float, float, float]:
    """Submit while the workers run; (orders/s, p50 ms, p99 ms) from the 202s to success,
    the API's CPU while it takes them (cores), and the 202s a second."""
    cpu, wall = api.cpu_seconds(), time.monotonic()
    await _submit(client, numbers)
    api_cpu = (api.cpu_seconds() - cpu) / (time.monotonic() - wall)
    await _all_succeeded(db, len(numbers))
    row = await db.fetchrow(
        "WITH t AS (SELECT created_at, finished_at,"
        " extract(epoch FROM finished_at - created_at) AS latency FROM operations)"
        " SELECT extract(epoch FROM max(finished_at) - min(created_at)) AS seconds,"
        " extract(epoch FROM max(created_at) - min(created_at)) AS submitting,"
        " percentile_cont(0.5) WITHIN GROUP (ORDER BY latency) AS p50,"
        " percentile_cont(0.99) WITHIN GROUP (ORDER BY latency) AS p99 FROM t"
    )
    seconds, p50, p99 = float(row["seconds"]), float(row["p50"]), float(row["p99"])
    submitted = len(numbers) / float(row["submitting"])
    return len(numbers) / seconds, p50 * 1000, p99 * 1000, api_cpu, submitted


@dataclass(frozen=True)
class Drain:
    per_second: float
    busy: float  # the machine's cores busy over the drain (all processes, anyone's)
    worker_ms: float  # the worker processes' CPU per order
    sandbox_ms: float  # seven's imitation's CPU per order


async def _drain(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    settings: Settings,
    sandbox: SandboxProcess,
    numbers: list[str],
    worker_count: int,
) -> Drain:
    """The workers alone: orders queued first, then the rate from the first run's start
    to the last success (the API and worker start-up are outside the window), and the CPU
    used meanwhile, from the first run's start (polled) to the last success."""
    await _submit(client, numbers)
    workers = [WorkerProcess(settings, worker=WORKER).start() for _ in range(worker_count)]
    pids = [worker.process.pid for worker in workers if worker.process is not None]

    def sample() -> tuple[float, float, float, float]:
        busy, total = cpu.machine()
        worker = sum(cpu.tree_seconds(pid) for pid in pids)
        return busy, total, worker, cpu.tree_seconds(sandbox.pid)

    try:
        while True:
            if await db.fetchval("SELECT count(*) FROM operations WHERE started_at IS NOT NULL"):
                break
            await asyncio.sleep(0.005)
        before = sample()
        await _all_succeeded(db, len(numbers))
        after = sample()
    finally:
        for worker in workers:
            worker.stop()
    seconds = await db.fetchval(
        "SELECT extract(epoch FROM max(finished_at) - min(started_at)) FROM operations"
    )
    busy, total, worker, seven = (b - a for a, b in zip(before, after, strict=True))
    per_order = 1000 / len(numbers)
    return Drain(len(numbers) / float(seconds), busy / total, worker * per_order, seven * per_order)


async def _noop_rate(settings: Settings, command: list[str], queue: ArqRedis) -> NoopRate:
    """``NOOPS`` no-op jobs queued, then a fresh worker process started and timed until the
    last of them has run (arq removes a job from its queue when the job has finished),
    and until the queue is empty. A job's score in the queue is when it was queued: the
    no-op jobs are those scored up to the last one's, the jobs the worker queues itself
    (its start-up crons) come after them."""
    await queue.flushdb()
    for _ in range(NOOPS):
        await queue.enqueue_job("noop")
    last_noop = max(score for _, score in await queue.zrange("arq:queue", -1, -1, withscores=True))
    env = {**os.environ, **settings.to_env()}
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        *command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    first: float | None = None
    noops_done: float | None = None
    try:
        while await queue.zcard("arq:queue"):
            noops = await queue.zcount("arq:queue", "-inf", last_noop)
            if first is None and noops < NOOPS:
                first = time.monotonic()
            if noops_done is None and noops == 0:
                noops_done = time.monotonic()
            await asyncio.sleep(0.002)
        empty = time.monotonic()
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 20)
    done = empty if noops_done is None else noops_done
    first = done if first is None else first
    return NoopRate(
        NOOPS / (done - started), NOOPS / (done - first), first - started, NOOPS / (empty - started)
    )


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
    service_queue = create_queue(REDIS_URL)
    # The bare worker reads arq's default (pickle) payloads: it carries no project code.
    bare_queue = ArqRedis(ConnectionPool.from_url(REDIS_URL))
    runs: list[Run] = []
    api = ApiProcess(settings)
    try:
        api.wait_ready()
        limits = httpx.Limits(max_connections=CONCURRENCY)
        async with httpx.AsyncClient(base_url=api.url, limits=limits, timeout=60) as client:
            await _warm_up(client)
            for _ in range(RUNS):
                load = os.getloadavg()[0]
                bare = await _noop_rate(settings, BARE_WORKER, bare_queue)
                service = await _noop_rate(settings, SERVICE_WORKER, service_queue)
                orders: list[Orders] = []
                for worker_count in (1, 2):
                    await _clean(db, redis, sandbox)
                    workers = await _workers_ready(settings, worker_count)
                    try:
                        rate, p50, p99, cpu, submitted = await _orders(api, client, db, numbers)
                        _one_order_per_number(sandbox)
                    finally:
                        for worker in workers:
                            worker.stop()
                    await _clean(db, redis, sandbox)
                    drain = await _drain(client, db, settings, sandbox, numbers, worker_count)
                    _one_order_per_number(sandbox)
                    orders.append(Orders(worker_count, rate, p50, p99, cpu, submitted, drain))
                runs.append(Run(load, bare, service, orders))
                _print_run(len(runs), runs[-1])
    finally:
        api.stop()
        await db.close()
        await redis.aclose()
        await service_queue.aclose()
        await bare_queue.aclose()
        sandbox.stop()
        await _drop_database()
    _print_spread(runs)


async def _warm_up(client: httpx.AsyncClient) -> None:
    """A read through each of the API's processes and their pools before the first run."""
    headers = {"X-Api-Key": ADMIN_KEY}
    for _ in range(4):
        answers = await asyncio.gather(
            *(client.get("/v1/operations", headers=headers) for _ in range(CONCURRENCY))
        )
        assert all(answer.status_code == 200 for answer in answers), answers[0].text


def _one_order_per_number(sandbox: SandboxProcess) -> None:
    orders = sum(len(v) for v in sandbox.ledger().values())
    assert orders == COUNT, f"seven saw {orders} orders for {COUNT} numbers"


def _print_run(index: int, run: Run) -> None:
    bare, service = run.bare, run.service
    latency = f", seven answers an order in {SEVEN_LATENCY_MS} ms" if SEVEN_LATENCY_MS else ""
    print(
        f"run {index} (load average {run.load:.1f}), {NOOPS} no-op jobs, {COUNT} orders{latency}:"
    )
    for name, rate in (("bare arq", bare), ("service", service)):
        print(
            f"  no-op, {name:>8} worker: {rate.cold:6.0f} jobs/s cold (start-up"
            f" {rate.startup_s:.2f} s), {rate.warm:6.0f} jobs/s warm,"
            f" {rate.queue_empty:6.0f} jobs/s to an empty queue"
        )
    print(
        f"  service / bare: {service.cold / bare.cold:.2f} cold,"
        f" {service.warm / bare.warm:.2f} warm,"
        f" {service.queue_empty / bare.queue_empty:.2f} to an empty queue"
    )
    for o in run.orders:
        print(
            f"  orders, {o.workers} worker(s): {o.operations_per_second:5.1f}/s"
            f" (p50 {o.p50_ms:.0f} ms, p99 {o.p99_ms:.0f} ms, API CPU"
            f" {o.api_cpu:.0%}, submitted {o.submitted_per_second:.1f}/s),"
            f" drain {o.drain.per_second:5.1f}/s (cores busy {o.drain.busy:.0%}, per order:"
            f" worker {o.drain.worker_ms:.1f} ms, sandbox {o.drain.sandbox_ms:.1f} ms CPU);"
            f" {o.operations_per_second / bare.cold:.2f} of the bare no-op rate"
        )
    one, two = run.orders
    print(
        f"  2 workers / 1: {two.operations_per_second / one.operations_per_second:.2f}"
        f" end to end, {two.drain.per_second / one.drain.per_second:.2f} drain",
        flush=True,
    )


def _print_spread(runs: list[Run]) -> None:
    def spread(name: str, values: list[float]) -> None:
        print(f"  {name:<38} {min(values):6.2f} to {max(values):6.2f}")

    print(f"spread over {len(runs)} runs (min to max):")
    spread("service/bare no-op, cold", [r.service.cold / r.bare.cold for r in runs])
    spread("service/bare no-op, warm", [r.service.warm / r.bare.warm for r in runs])
    spread(
        "service/bare no-op, to an empty queue",
        [r.service.queue_empty / r.bare.queue_empty for r in runs],
    )
    for i, workers in enumerate((1, 2)):
        spread(
            f"orders/bare no-op, {workers} worker(s)",
            [r.orders[i].operations_per_second / r.bare.cold for r in runs],
        )
    spread(
        "2 workers / 1, end to end",
        [r.orders[1].operations_per_second / r.orders[0].operations_per_second for r in runs],
    )
    spread(
        "2 workers / 1, drain",
        [r.orders[1].drain.per_second / r.orders[0].drain.per_second for r in runs],
    )


if __name__ == "__main__":
    asyncio.run(main())
