"""One dedicated PostgreSQL connection per API process that LISTENs for changed rows.

Triggers NOTIFY on commit of every write to the tables a process keeps copies of (the
mirror's ``numbers``, migration 0006; ``api_keys``, migration 0017). Each channel has a
:class:`Subscription`: its cache, what a notice does to it, and optionally work to do
while listening (loading the mirror). One connection serves every channel, so a process
holds one listening backend however many caches it keeps.

The caches are switched on only once LISTEN is in place on every channel and switched
off (and emptied) the moment the connection is lost or stops answering the periodic
probe, so no entry outlives a notice it might have missed. The listener then reconnects
on its own; reads go to the database meanwhile.

A subscription may acknowledge a notice: its answer is NOTIFYed on the channel's
``ACK_SUFFIX`` channel once the notice has been applied, from this listener's backend,
so a writer can learn that every listening process has dropped what it changed (see
:func:`app.lib.key_cache.forget_everywhere`).

Within the process, :meth:`ChangeListener.caught_up` is a sync point: it returns once
every notice committed before it was called has been applied, so a request that wrote
answers only after its own process's caches have dropped what it changed (read your
writes). PostgreSQL delivers notices in commit order, so a notice of the listener's own,
sent after the writer's commit, arrives after the writer's notices.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import structlog

from app.lib.notice_cache import NoticedCache

APPLICATION_NAME = "seven-numbers-cache-listener"
ACK_SUFFIX = "_heard"
# A payload no trigger writes (they name numbers, key digests or "*"): a sync point's.
SYNC_POINT_PREFIX = "~sync:"
# A sync point is one round trip on a local connection; one not back by then means the
# listener is in trouble (its probe will tell), and the caches are emptied instead.
SYNC_POINT_TIMEOUT = 1.0

log = structlog.get_logger(__name__)


def loader_name(channel: str) -> str:
    """The name of the task a subscription runs while listening on ``channel``."""
    return f"cache-loader:{channel}"


def asyncpg_dsn(database_url: str) -> str:
    """The plain postgresql:// form asyncpg takes of SQLAlchemy's postgresql+asyncpg://."""
    return urlsplit(database_url)._replace(scheme="postgresql").geturl()


@dataclass(frozen=True)
class Subscription:
    """What one channel's notices do to one cache."""

    channel: str
    cache: NoticedCache[Any, Any]
    """Switched on and off with the connection (its entries are the listener's business)."""
    on_notice: Callable[[str], str | None]
    """Applies a notice's payload to ``cache``; what to acknowledge, or None."""
    while_listening: Callable[[], Coroutine[Any, Any, None]] | None = None
    """Runs from LISTEN until the connection is lost (cancelled then)."""


class ChangeListener:
    """Keeps each subscription's cache in step with its table for as long as :meth:`run`."""

    def __init__(
        self,
        database_url: str,
        subscriptions: Sequence[Subscription],
        *,
        probe_interval: float = 10.0,
        probe_timeout: float = 5.0,
        retry_delay: float = 1.0,
    ) -> None:
        self._dsn = asyncpg_dsn(database_url)
        self.subscriptions = list(subscriptions)
        self.probe_interval = probe_interval
        self.probe_timeout = probe_timeout
        self.retry_delay = retry_delay
        self._acknowledging: set[asyncio.Task[None]] = set()
        # While listening: the connection and the lock its users take turns with.
        self._listening: tuple[asyncpg.Connection, asyncio.Lock] | None = None
        self._sync_points: dict[str, asyncio.Future[None]] = {}

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[ChangeListener]:
        """Run in the background (the app's lifespan); stopped and closed on exit."""
        task = asyncio.create_task(self.run(), name="cache-listener")
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def run(self) -> None:
        while True:
            try:
                await self._listen_once()
            # Whatever ended it (a refused connection, a dropped one, a failed probe), the
            # caches are off (_listen_once switches them off on every way out, and a
            # refused connection never switched them on) until a new LISTEN is in place:
            # log, wait, connect again.
            except Exception as error:
                log.warning("cache_listener_lost", error_type=type(error).__name__)
            await asyncio.sleep(self.retry_delay)

    async def _listen_once(self) -> None:
        """Connect, LISTEN, serve from the caches until the connection is lost."""
        connection = await asyncpg.connect(
            self._dsn,
            timeout=self.probe_timeout,
            server_settings={"application_name": APPLICATION_NAME},
        )
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _connection: lost.set())
        # The probe and the acknowledgements take turns on the one connection.
        talking = asyncio.Lock()
        background: list[asyncio.Task[None]] = []
        try:
            for subscription in self.subscriptions:
                await connection.add_listener(
                    subscription.channel, self._handler(subscription, connection, talking)
                )
            # Anything cached before LISTEN took effect may have missed its notice.
            for subscription in self.subscriptions:
                subscription.cache.activate()
            self._listening = (connection, talking)
            log.info("cache_listening", channels=[s.channel for s in self.subscriptions])
            for subscription in self.subscriptions:
                if subscription.while_listening is not None:
                    background.append(
                        asyncio.create_task(
                            subscription.while_listening(), name=loader_name(subscription.channel)
                        )
                    )
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), self.probe_interval)
                    break
                # A connection cut silently (a firewall, a frozen host) gives no
                # termination event: a probe that fails or hangs counts as lost.
                async with talking:
                    await connection.fetchval("SELECT 1", timeout=self.probe_timeout)
            log.warning("cache_listener_lost", error_type="ConnectionClosed")
        finally:
            self._listening = None
            current = asyncio.current_task()
            stopping = current is not None and current.cancelling()
            reason = None if stopping else "listener_lost"
            for subscription in self.subscriptions:
                subscription.cache.deactivate(reason)
            for task in background:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            connection.terminate()

    async def caught_up(self) -> None:
        """Return once every notice committed before this call has been applied.

        Not listening, the caches are off and there is nothing to wait for. A sync point
        that fails or does not come back in time empties the caches: whatever they held
        is read again from the database.
        """
        if self._listening is None:
            return
        connection, talking = self._listening
        token = SYNC_POINT_PREFIX + secrets.token_hex(8)
        reached = asyncio.get_running_loop().create_future()
        self._sync_points[token] = reached
        try:
            async with asyncio.timeout(SYNC_POINT_TIMEOUT):
                async with talking:
                    channel = self.subscriptions[0].channel
                    await connection.execute("SELECT pg_notify($1, $2)", channel, token)
                await reached
        except (TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as error:
            log.warning("cache_sync_point_missed", error_type=type(error).__name__)
            for subscription in self.subscriptions:
                subscription.cache.clear("sync_point_missed")
        finally:
            del self._sync_points[token]

    def _handler(
        self, subscription: Subscription, connection: asyncpg.Connection, talking: asyncio.Lock
    ) -> Callable[[asyncpg.Connection, int, str, str], None]:
        def on_notice(
            _connection: asyncpg.Connection, _pid: int, _channel: str, payload: str
        ) -> None:
            if payload.startswith(SYNC_POINT_PREFIX):
                # Ours, or another process's (which is no business of this one).
                reached = self._sync_points.get(payload)
                if reached is not None and not reached.done():
                    reached.set_result(None)
                return
            ack = subscription.on_notice(payload)
            if ack is not None:
                task = asyncio.get_running_loop().create_task(
                    _acknowledge(connection, talking, subscription.channel + ACK_SUFFIX, ack)
                )
                # Held until done: the loop keeps only a weak reference to a task.
                self._acknowledging.add(task)
                task.add_done_callback(self._acknowledging.discard)

        return on_notice


async def _acknowledge(
    connection: asyncpg.Connection, talking: asyncio.Lock, channel: str, payload: str
) -> None:
    # A failure here is the connection's: its loss switches the caches off, and a writer
    # waiting for this acknowledgement cuts the listener off (forget_everywhere).
    with contextlib.suppress(Exception):
        async with talking:
            await connection.execute("SELECT pg_notify($1, $2)", channel, payload)
