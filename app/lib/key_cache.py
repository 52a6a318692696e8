"""The stored API keys this API process has seen lately, so a request needs no query.

Entries map a key's SHA-256 digest to its principal, and are only ever a committed,
unrevoked row (read by the key check, app.lib.auth). Migration 0017's triggers NOTIFY
``api_keys_changed`` on commit of a change to a key's principal or revocation, or its
deletion (a tenant's deletion cascades to its keys and says so too), naming the digest;
``*`` (TRUNCATE) forgets all. The process's one listener (app.lib.change_listener)
drops what a notice names, with :class:`NoticedCache`'s rules: served only while LISTEN
is in place, a lookup that raced a notice is not stored. Unknown keys are not stored,
so guessing keys fills no memory; the cache is bounded besides.

A notice reaches the other processes a moment after the revocation commits, and the
revoking request must not answer before every one of them has forgotten the key (the
next request may go to any of them): :func:`forget_everywhere` NOTIFYs the digest once
more and waits until every listening backend has acknowledged it (each listener answers
on ``api_keys_changed_heard`` once the notice is applied). A listener that does not
answer within ``FORGET_TIMEOUT`` is cut off (its backend terminated), which switches
its process's caches off.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any

import asyncpg
import structlog

from app.lib.change_listener import ACK_SUFFIX, APPLICATION_NAME, Subscription, asyncpg_dsn
from app.lib.notice_cache import NoticedCache

CHANNEL = "api_keys_changed"
# Long enough for a listener on a busy machine; a revocation waits this long at most.
FORGET_TIMEOUT = 2.0

_LISTENERS = (
    "SELECT pid FROM pg_stat_activity"
    " WHERE datname = current_database() AND application_name = $1 AND pid <> pg_backend_pid()"
)

log = structlog.get_logger(__name__)


def key_subscription(cache: NoticedCache[bytes, Any]) -> Subscription:
    """The ``api_keys_changed`` channel for ``cache`` (app.lib.auth.KeyCache)."""

    def on_notice(payload: str) -> str:
        try:
            digests = [bytes.fromhex(digest) for digest in payload.split(",")]
        except ValueError:  # "*", or a notice nobody here wrote: forget everything
            cache.clear("forget_all")
        else:
            cache.forget(digests)
        return payload

    return Subscription(CHANNEL, cache, on_notice)


async def forget_everywhere(database_url: str, digests: Iterable[bytes]) -> None:
    """Return once every listening API process has dropped these keys (after their change
    committed), or was cut off from its listener for not answering in time."""
    payload = ",".join(digest.hex() for digest in digests)
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        heard: set[int] = set()
        answered = asyncio.Event()
        waiting_for: set[int] | None = None

        def on_ack(_connection: asyncpg.Connection, pid: int, _channel: str, said: str) -> None:
            if said == payload:
                heard.add(pid)
                if waiting_for is not None and waiting_for <= heard:
                    answered.set()

        # Listening before asking: no answer can come before it is awaited.
        await connection.add_listener(CHANNEL + ACK_SUFFIX, on_ack)
        await connection.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)
        # A listener that connects after this asks nothing of it: it starts empty.
        waiting_for = {row["pid"] for row in await connection.fetch(_LISTENERS, APPLICATION_NAME)}
        if waiting_for <= heard:
            answered.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(answered.wait(), FORGET_TIMEOUT)
        silent = sorted(waiting_for - heard)
        if silent:
            log.warning("key_cache_listener_cut_off", pids=silent)
            try:
                await connection.execute(
                    "SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid", silent
                )
            except asyncpg.PostgresError as error:  # e.g. not allowed to signal them
                log.error("key_cache_listener_not_cut_off", pids=silent, error=str(error))
    finally:
        await connection.close()
