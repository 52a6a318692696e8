"""Feeding deliveries to arq: find the due ones in Postgres, enqueue one job per endpoint
that has any.

Postgres holds every delivery; a job carries only the endpoint's id (its job id is made
of it and the endpoint's newest due event, see :func:`delivery_job_id`). The
dispatcher (one per worker) looks when a transaction that wrote deliveries commits (their
NOTIFY) and at least every :data:`INTERVAL` seconds, so retries come due, and a Redis
that lost its jobs is refilled, without anyone asking.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from urllib.parse import urlsplit

import asyncpg
import structlog
from arq import ArqRedis
from redis.exceptions import RedisError
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.models import Delivery, WebhookEndpoint
from app.db.vocabulary import DeliveryStatus
from app.events.outbox import CHANNEL

log = structlog.get_logger(__name__)

JOB = "deliver_events"
#: The longest a due delivery waits for a look without a NOTIFY (a retry, a lost job).
INTERVAL = 1.0
#: Endpoints enqueued per look; the next look takes the rest.
BATCH = 1000
JOB_ID_SECONDS = 5
#: How long a look waits after a NOTIFY for the commits that follow it.
GATHER_SECONDS = 0.01

_DUE = (
    select(Delivery.endpoint_id, func.max(Delivery.event_seq))
    .join(WebhookEndpoint, WebhookEndpoint.id == Delivery.endpoint_id)
    .where(
        Delivery.status == DeliveryStatus.PENDING,
        Delivery.next_attempt_at <= func.now(),
        WebhookEndpoint.enabled,
    )
    .group_by(Delivery.endpoint_id)
    .limit(BATCH)
)


def delivery_job_id(endpoint_id: uuid.UUID | str, newest: int, now: float) -> str:
    """One job per endpoint and newest due event is queued at a time: a look finding that
    job still queued or running adds none. A newer event makes a new id, so its job is
    queued even while the endpoint's last run is ending (that run may have looked for work
    before the event committed: the new job takes the endpoint next, or finds it taken
    and leaves the event to the run holding it, which looks again after letting go). The
    id also changes every :data:`JOB_ID_SECONDS`, because a job whose worker was killed
    keeps its id blocked in arq for as long as the longest job timeout; a second job for
    an endpoint is harmless (the advisory lock lets one run, and the other finds nothing
    to do)."""
    return f"deliver:{endpoint_id}:{newest}:{int(now // JOB_ID_SECONDS)}"


async def dispatch(
    engine: AsyncEngine,
    queue: ArqRedis,
    after: int = 0,
    running_here: Callable[[uuid.UUID], bool] = lambda _: False,
) -> tuple[int, int]:
    """Enqueue a job for every endpoint with a due delivery of an event after ``after``
    (0: every due one), unless ``running_here`` says this process delivers to it now and
    will look again (``Deliverer.look_again``); how many jobs were new, and the newest
    event seen."""
    # One statement, committing on its own: a look runs on every NOTIFY.
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        due = (await connection.execute(_DUE.where(Delivery.event_seq > after))).all()
    now = time.time()
    # Side by side: a look may have a job for each of many endpoints to queue.
    jobs = await asyncio.gather(
        *(
            queue.enqueue_job(JOB, str(endpoint_id), _job_id=delivery_job_id(endpoint_id, seq, now))
            for endpoint_id, seq in due
            if not running_here(endpoint_id)
        )
    )
    newest = max((seq for _, seq in due), default=after)
    return sum(job is not None for job in jobs), newest


class Dispatcher:
    """Runs :func:`dispatch` on every NOTIFY of :data:`CHANNEL` and every INTERVAL."""

    def __init__(
        self,
        database_url: str,
        engine: AsyncEngine,
        queue: ArqRedis,
        running_here: Callable[[uuid.UUID], bool],
    ) -> None:
        self._dsn = urlsplit(database_url)._replace(scheme="postgresql").geturl()
        self._engine = engine
        self._running_here = running_here
        self._queue = queue
        self._wake = asyncio.Event()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Dispatcher]:
        tasks = [
            asyncio.create_task(self._listen(), name="delivery-listener"),
            asyncio.create_task(self._loop(), name="delivery-dispatcher"),
        ]
        try:
            yield self
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _loop(self) -> None:
        """A NOTIFY looks only at deliveries of events newer than the last look saw (the
        keys with older ones have their job already); every INTERVAL a look takes every
        due delivery: retries come due, a job lost with Redis, an event whose transaction
        committed after a newer one's."""
        newest, last_full = 0, 0.0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), INTERVAL)
            # Commits a moment apart are looked at together: one look, not one each.
            await asyncio.sleep(GATHER_SECONDS)
            self._wake.clear()
            full = time.monotonic() - last_full >= INTERVAL
            try:
                _, seen = await dispatch(
                    self._engine, self._queue, 0 if full else newest, self._running_here
                )
            except (RedisError, OSError, SQLAlchemyError) as error:
                # Postgres keeps the deliveries: the next look tries again.
                log.warning("delivery_dispatch_failed", error_type=type(error).__name__)
                continue
            newest = max(newest, seen)
            if full:
                last_full = time.monotonic()

    async def _listen(self) -> None:
        """Wake the loop on every NOTIFY; reconnect when the connection is lost (the loop
        keeps looking every INTERVAL meanwhile)."""
        while True:
            try:
                await self._listen_once()
            except (OSError, asyncpg.PostgresError) as error:
                log.warning("delivery_listener_lost", error_type=type(error).__name__)
            await asyncio.sleep(INTERVAL)

    async def _listen_once(self) -> None:
        connection = await asyncpg.connect(self._dsn, timeout=5)
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _connection: lost.set())
        try:
            await connection.add_listener(CHANNEL, lambda *_: self._wake.set())
            await lost.wait()
        finally:
            connection.terminate()
