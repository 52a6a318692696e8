"""What the API process's listener does with notices about the mirror's numbers.

Migration 0006's triggers NOTIFY ``numbers_changed`` on commit of every write to the
mirror; each notice drops the named numbers (or, for ``*``, all of them) from this
process's :class:`~app.numbers.cache.NumberCache`. The connection, and the rules for
when the cache may serve, are :class:`~app.lib.change_listener.ChangeListener`'s, which
also carries the API keys' channel (:mod:`app.lib.key_cache`): one listening backend
per process.

While listening it also loads the mirror into the cache: at once, after every ``*``,
again every half ``max_age`` (so entries are renewed before they age out), and soon
after the rows read since the last load outgrow the cache's front (so that they are
folded into its columns, app.numbers.cache). A
read of a number nobody read lately would otherwise cost a query, and reads spread
evenly over 100,000 numbers would almost never find one cached. And it reads again, at
once and in one statement for all of them, the numbers notices have named since its
last read (the cache's holes), so that the cache is soon whole again and list pages are
answered from memory (app.numbers.memory_pages).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from app.lib.auth import KeyCache
from app.lib.change_listener import ChangeListener, Subscription
from app.lib.key_cache import key_subscription
from app.numbers.cache import NumberCache
from app.numbers.service import load_numbers, reread_numbers
from app.settings import Settings

CHANNEL = "numbers_changed"
FORGET_ALL = "*"
HOLES_RETRY_SECONDS = 1.0
REBUILD_SPACING = 60.0

log = structlog.get_logger(__name__)


class NumberNotices:
    """The ``numbers_changed`` channel: forget what it names, keep the mirror loaded."""

    def __init__(self, cache: NumberCache, engine: AsyncEngine) -> None:
        self.cache = cache
        self._engine = engine
        self._reload = False
        # Set by every notice: there is work (a load, or holes to fill).
        self._wake = asyncio.Event()

    def subscription(self) -> Subscription:
        return Subscription(CHANNEL, self.cache, self._on_notice, self._keep_loaded)

    def _on_notice(self, payload: str) -> None:
        if payload == FORGET_ALL:
            self.cache.clear("forget_all")
            self._reload = True
        else:
            self.cache.forget(payload.split(","))
        self._wake.set()

    async def _keep_loaded(self) -> None:
        self._reload = True
        renewal_at = loaded_at = 0.0
        while True:
            # Rows read since the last build that outgrow the front are folded into new
            # columns soon, not at the next renewal (at most once a REBUILD_SPACING,
            # should the loads fail).
            reload_at = renewal_at
            if self.cache.needs_build or self.cache.needs_fold:
                reload_at = min(reload_at, loaded_at + REBUILD_SPACING)
            if self._reload or time.monotonic() >= reload_at:
                self._reload = False
                loaded_at = time.monotonic()
                renewal_at = loaded_at + self.cache.max_age / 2
                await self._load()
            elif self.cache.holes:
                await self._fill_holes()
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), reload_at - time.monotonic())
                self._wake.clear()

    async def _load(self) -> None:
        started = time.perf_counter()
        try:
            loaded = await load_numbers(self._engine, self.cache)
        except Exception as error:  # the reads fall back to the database meanwhile
            log.warning("number_cache_load_failed", error_type=type(error).__name__)
        else:
            seconds = round(time.perf_counter() - started, 2)
            log.info("number_cache_loaded", numbers=loaded, seconds=seconds)

    async def _fill_holes(self) -> None:
        try:
            await reread_numbers(self._engine, self.cache, list(self.cache.holes))
        except Exception as error:  # lists go to the database meanwhile
            log.warning("number_cache_reread_failed", error_type=type(error).__name__)
            # Not at once again: the database is likely down; a notice or the reload
            # wakes it sooner.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), HOLES_RETRY_SECONDS)
            self._wake.clear()


async def _nothing_to_wait_for() -> None:
    return None


@dataclass(frozen=True)
class ProcessCaches:
    numbers: NumberCache
    keys: KeyCache
    caught_up: Callable[[], Awaitable[None]] = _nothing_to_wait_for
    """Returns once every change committed before the call has reached these caches
    (:meth:`~app.lib.change_listener.ChangeListener.caught_up`)."""


@contextlib.asynccontextmanager
async def open_caches(settings: Settings, engine: AsyncEngine) -> AsyncIterator[ProcessCaches]:
    """The API process's caches, listening for as long as the block runs (the lifespan).

    A cache of size 0 is never switched on; with both at 0 there is no listener. While
    there is one, it listens for the keys' notices even with the key cache off, so that
    a revocation's wait for every listener's acknowledgement is answered.
    """
    numbers = NumberCache(settings.number_cache_size, settings.number_cache_seconds)
    keys = KeyCache(settings.key_cache_size, settings.key_cache_seconds)
    subscriptions = []
    if numbers.max_entries > 0:
        subscriptions.append(NumberNotices(numbers, engine).subscription())
    if keys.max_entries > 0 or subscriptions:
        subscriptions.append(key_subscription(keys))
    if not subscriptions:
        yield ProcessCaches(numbers, keys)
        return
    async with ChangeListener(settings.database_url, subscriptions).running() as listener:
        yield ProcessCaches(numbers, keys, listener.caught_up)
