"""Each signed webhook request is taken once: its nonce, remembered in Redis.

Redis, not PostgreSQL: every API process shares it, ``SET NX EX`` claims a nonce
atomically and forgets it by itself (bounded without a purge job or a migration), and
nothing rests on it: an event is counted once by its id in PostgreSQL whether or not a
replay is caught here. So when Redis cannot be reached the request goes on unchecked
(logged), rather than being refused and losing the SMS from usage.

A request that fails (a bad event, our database down) hands its nonce back, so seven's
retry is not taken for a replay should it carry the same signature.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.webhooks.service import CLOCK_WINDOW

log = structlog.get_logger(__name__)

_KEY_PREFIX = "webhooks:nonce:"
# A timestamp passes while it is within the window of our clock either way, so a nonce
# accepted now (its timestamp at most one window ahead) can pass again for two windows.
_REMEMBER_SECONDS = int(2 * CLOCK_WINDOW.total_seconds())


class ReplayedNonce(Exception):
    """This nonce was taken by an earlier request."""


@asynccontextmanager
async def nonce_taken(redis: Redis, nonce: str) -> AsyncIterator[None]:
    """Claim ``nonce`` for the block; :class:`ReplayedNonce` when it was claimed before."""
    key = _KEY_PREFIX + nonce
    try:
        # SET NX answers None when the key exists.
        claimed = bool(await redis.set(key, b"1", nx=True, ex=_REMEMBER_SECONDS))
        reachable = True
    except RedisError as error:
        _log_unavailable(error)
        claimed, reachable = True, False
    if not claimed:
        raise ReplayedNonce(nonce)
    try:
        yield
    except Exception:
        if reachable:
            try:
                await redis.delete(key)
            except RedisError as error:
                _log_unavailable(error)
        raise


def _log_unavailable(error: RedisError) -> None:
    log.warning("webhook_nonce_store_unavailable", error_type=type(error).__name__)
