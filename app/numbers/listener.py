"""One dedicated PostgreSQL connection per API process that LISTENs for changes to numbers.

Migration 0006's triggers NOTIFY ``numbers_changed`` on commit of every write to the
mirror; each notice drops the named numbers (or, for ``*``, all of them) from this
process's :class:`~app.numbers.cache.NumberCache`. The cache is switched on only once
LISTEN is in place and switched off (and emptied) the moment the connection is lost
or stops answering the periodic probe, so no entry outlives a notice it might have
missed. The listener then reconnects on its own; reads go to the database meanwhile.

While listening it also loads the mirror into the cache: at once, after every ``*``,
and again every half ``max_age`` (so entries are renewed before they age out). A
read of a number nobody read lately would otherwise cost a query, and reads spread
evenly over 100,000 numbers would almost never find one cached.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import asyncpg
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from app.numbers.cache import NumberCache
from app.numbers.service import load_numbers
from app.settings import Settings

CHANNEL = "numbers_changed"
FORGET_ALL = "*"
APPLICATION_NAME = "seven-numbers-cache-listener"

log = structlog.get_logger(__name__)


class ChangeListener:
    """Keeps ``cache`` in step with ``numbers`` for as long as :meth:`run` runs."""

    def __init__(
        self,
        database_url: str,
        cache: NumberCache,
        engine: AsyncEngine,
        *,
        probe_interval: float = 10.0,
        probe_timeout: float = 5.0,
        retry_delay: float = 1.0,
    ) -> None:
        # asyncpg takes the plain postgresql:// form of SQLAlchemy's postgresql+asyncpg://.
        self._dsn = urlsplit(database_url)._replace(scheme="postgresql").geturl()
        self.cache = cache
        self._engine = engine
        self._reload = asyncio.Event()
        self.probe_interval = probe_interval
        self.probe_timeout = probe_timeout
        self.retry_delay = retry_delay

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[ChangeListener]:
        """Run in the background (the app's lifespan); stopped and closed on exit."""
        task = asyncio.create_task(self.run(), name="number-cache-listener")
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
            # cache is off (_listen_once switches it off on every way out, and a refused
            # connection never switched it on) until a new LISTEN is in place: log, wait,
            # connect again.
            except Exception as error:
                log.warning("number_cache_listener_lost", error_type=type(error).__name__)
            await asyncio.sleep(self.retry_delay)

    async def _listen_once(self) -> None:
        """Connect, LISTEN, serve from the cache until the connection is lost."""
        connection = await asyncpg.connect(
            self._dsn,
            timeout=self.probe_timeout,
            server_settings={"application_name": APPLICATION_NAME},
        )
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _connection: lost.set())
        loader = None
        try:
            await connection.add_listener(CHANNEL, self._on_notice)
            # Anything cached before LISTEN took effect may have missed its notice.
            self.cache.activate()
            log.info("number_cache_listening")
            loader = asyncio.create_task(self._keep_loaded(), name="number-cache-loader")
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), self.probe_interval)
                    break
                # A connection cut silently (a firewall, a frozen host) gives no
                # termination event: a probe that fails or hangs counts as lost.
                await connection.fetchval("SELECT 1", timeout=self.probe_timeout)
            log.warning("number_cache_listener_lost", error_type="ConnectionClosed")
        finally:
            self.cache.deactivate()
            if loader is not None:
                loader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await loader
            connection.terminate()

    async def _keep_loaded(self) -> None:
        self._reload.set()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._reload.wait(), self.cache.max_age / 2)
            self._reload.clear()
            started = time.perf_counter()
            try:
                loaded = await load_numbers(self._engine, self.cache)
            except Exception as error:  # the reads fall back to the database meanwhile
                log.warning("number_cache_load_failed", error_type=type(error).__name__)
            else:
                seconds = round(time.perf_counter() - started, 2)
                log.info("number_cache_loaded", numbers=loaded, seconds=seconds)

    def _on_notice(
        self, _connection: asyncpg.Connection, _pid: int, _channel: str, payload: str
    ) -> None:
        if payload == FORGET_ALL:
            self.cache.clear()
            self._reload.set()
        else:
            self.cache.forget(payload.split(","))


@contextlib.asynccontextmanager
async def open_number_cache(settings: Settings, engine: AsyncEngine) -> AsyncIterator[NumberCache]:
    """The API process's cache, listening for as long as the block runs (the lifespan).

    ``NUMBER_CACHE_SIZE=0`` gives a cache that is never switched on, and no listener.
    """
    cache = NumberCache(settings.number_cache_size, settings.number_cache_seconds)
    if cache.max_entries == 0:
        yield cache
        return
    async with ChangeListener(settings.database_url, cache, engine).running():
        yield cache
