"""Events benchmark: from an event's commit to a 2xx at a webhook receiver, one worker.

    .venv/bin/python bench/events.py

What it does, in one run:

1. creates a scratch database (``bench_events``), migrates it, and starts a local receiver
   (an HTTP server answering 200 at once) registered as an admin endpoint for every event;
2. starts one worker (the real one, with the benchmark's ``noop`` job: ``bench/worker.py``);
3. paced: commits ``BENCH_EVENTS`` events at ``BENCH_EVENTS_RATE`` per second (each in its
   own transaction, as a service writes one, up to 16 side by side, spread over 50
   numbers) and measures, per event, the time from its commit to its arrival at the
   receiver: p50 and p99;
4. burst: commits as many events at once and measures how many per second reach the
   receiver, from the first commit to the last arrival;
5. on the same Redis and worker, the rate of ``noop`` jobs (what arq itself costs per job),
   and the ratio of the two rates.

Environment: ``BENCH_POSTGRES_URL``, ``BENCH_REDIS_URL`` (default
``redis://127.0.0.1:6379/13``, flushed), ``BENCH_EVENTS`` (default 2000),
``BENCH_EVENTS_RATE`` (default 200).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

from litestar.testing import AsyncTestClient
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.asgi import create_app  # noqa: E402
from app.db.engine import create_engine, create_session_factory  # noqa: E402
from app.db.vocabulary import EventType  # noqa: E402
from app.events.outbox import emit  # noqa: E402
from app.lib.queue import create_queue  # noqa: E402
from app.settings import Settings  # noqa: E402
from bench.common import ADMIN_KEY, POSTGRES_URL, redis_url  # noqa: E402
from bench.operations import _workers_ready  # noqa: E402
from tests.support.db import create_database, drop_database  # noqa: E402

DATABASE = "bench_events"
REDIS_URL = redis_url(13)
COUNT = int(os.environ.get("BENCH_EVENTS", "2000"))
RATE = float(os.environ.get("BENCH_EVENTS_RATE", "200"))
NUMBERS = 50
#: Transactions writing events side by side, as several API processes and workers would.
WRITERS = 16


class Receiver:
    """A minimal HTTP/1.1 server (keep-alive) answering every POST 200 at once and noting
    when each ``webhook-id`` first arrived."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.port = 0

    async def start(self) -> asyncio.Server:
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        return server

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                headers = dict(
                    line.split(": ", 1)
                    for line in head.decode("latin-1").split("\r\n")[1:]
                    if ": " in line
                )
                lowered = {name.lower(): value for name, value in headers.items()}
                await reader.readexactly(int(lowered.get("content-length", "0")))
                self.arrived.setdefault(lowered["webhook-id"], time.time())
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()


async def _commit_events(
    sessions: async_sessionmaker[AsyncSession], count: int, rate: float | None
) -> dict[str, float]:
    """Commit ``count`` events, one per transaction, one started every 1/``rate`` s (None:
    all at once), up to ``WRITERS`` side by side; when each committed, by event id."""
    committed: dict[str, float] = {}
    gate = asyncio.Semaphore(WRITERS)

    async def one(index: int) -> None:
        async with gate, sessions() as session:
            number = f"4915170{index % NUMBERS:06d}"
            event_id = await emit(
                session, EventType.SYNC_DRIFT, tenant=None, number=number, data={"i": index}
            )
            await session.commit()
            committed[str(event_id)] = time.time()

    start = time.monotonic()
    tasks = []
    for index in range(count):
        if rate is not None and (delay := start + index / rate - time.monotonic()) > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(index)))
    await asyncio.gather(*tasks)
    return committed


async def _all_arrived(receiver: Receiver, ids: set[str], within: float = 300) -> None:
    deadline = time.monotonic() + within
    while not ids <= receiver.arrived.keys():
        assert time.monotonic() < deadline, "not every event arrived"
        await asyncio.sleep(0.01)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def _noops(settings: Settings, count: int) -> float:
    """``count`` no-op jobs through the running worker: jobs/s from the first enqueued to
    an empty queue (what arq itself costs per job, on the same Redis and worker)."""
    queue = create_queue(settings.redis_url)
    try:
        started = time.monotonic()
        for _ in range(count):
            await queue.enqueue_job("noop")
        while True:  # arq removes a job from its queue once it has finished
            if not await queue.zcard("arq:queue"):
                return count / (time.monotonic() - started)
            await asyncio.sleep(0.01)
    finally:
        await queue.aclose()


async def main() -> None:
    database_url = await create_database(POSTGRES_URL, DATABASE, migrate=True)
    receiver = Receiver()
    server = await receiver.start()
    settings = Settings(
        database_url=database_url.replace("postgresql://", "postgresql+asyncpg://", 1),
        redis_url=REDIS_URL,
        seven_api_key="unused",
        admin_api_key=ADMIN_KEY,
        log_level="WARNING",
        webhook_allowed_hosts="127.0.0.1",
    )
    redis = Redis.from_url(REDIS_URL)
    await redis.flushdb()
    engine = create_engine(settings.database_url, pool_size=WRITERS + 2)
    sessions = create_session_factory(engine)
    workers = []
    try:
        async with AsyncTestClient(app=create_app(settings)) as client:
            registered = await client.post(
                "/v1/webhook-endpoints",
                json={"url": f"http://127.0.0.1:{receiver.port}/hooks", "events": ["*"]},
                headers={"X-Api-Key": ADMIN_KEY},
            )
            assert registered.status_code == 201, registered.text
        workers = await _workers_ready(settings, 1)

        committed = await _commit_events(sessions, COUNT, RATE)
        await _all_arrived(receiver, set(committed))
        latencies = [(receiver.arrived[i] - t) * 1000 for i, t in committed.items()]

        receiver.arrived.clear()
        first = time.time()
        burst = await _commit_events(sessions, COUNT, None)
        await _all_arrived(receiver, set(burst))
        burst_rate = COUNT / (max(receiver.arrived.values()) - first)

        noop_rate = await _noops(settings, COUNT)
    finally:
        for worker in workers:
            worker.stop()
        await engine.dispose()
        await redis.aclose()
        server.close()
        await drop_database(POSTGRES_URL, DATABASE)

    print(f"events benchmark: {COUNT} events per phase, one worker, a receiver answering at once")
    print(
        f"paced at {RATE:.0f}/s: commit to 2xx p50 {statistics.median(latencies):.0f} ms, "
        f"p99 {_percentile(latencies, 0.99):.0f} ms (target: p99 < 250 ms)"
    )
    print(
        f"burst: {burst_rate:.1f} events/s delivered; noop arq jobs {noop_rate:.1f}/s; "
        f"ratio {burst_rate / noop_rate:.2f} (target >= 0.30)"
    )


if __name__ == "__main__":
    asyncio.run(main())
