"""Stored keys held in each API process (app.lib.key_cache): a request with a held key
needs no query, and a revoked key is refused at once by every process.

Two app instances on one database stand for two uvicorn workers: each has its own key
cache and its own listener. Changes made behind the API's back use raw SQL on a
connection of their own, as an operator in psql would.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.asgi import create_app
from app.lib import key_cache
from app.lib.auth import KeyCache, hash_key
from app.lib.change_listener import APPLICATION_NAME
from app.settings import Settings
from tests.support.api import Client
from tests.support.db import connected
from tests.support.polling import until
from tests.support.tenancy import create_tenant, key_headers


@dataclass
class Process:
    """One API process: its client and its key cache."""

    client: Client
    keys: KeyCache

    async def whoami(self, key: str) -> int:
        return (await self.client.get("/v1/whoami", headers=key_headers(key))).status_code

    async def hold(self, key: str) -> None:
        """Ask with ``key`` until this process holds it (the issue's own notice, if any,
        may drop what the first request stored)."""

        async def held() -> bool:
            assert await self.whoami(key) == 200
            return self.keys.get(hash_key(key)) is not None

        await until(held, "the key to be held")


@pytest.fixture
async def two(settings: Settings) -> AsyncIterator[tuple[Process, Process]]:
    """Two API processes, both listening."""
    apps: list[Litestar] = [create_app(settings), create_app(settings)]
    async with AsyncTestClient(app=apps[0]) as first, AsyncTestClient(app=apps[1]) as second:
        processes = [
            Process(client, app.state.key_cache)
            for client, app in zip([first, second], apps, strict=True)
        ]
        for process in processes:
            await until(lambda p=process: p.keys.active, "the listener to start")
        yield processes[0], processes[1]


async def _listeners(database_url: str) -> set[int]:
    async with connected(database_url) as connection:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity"
            " WHERE application_name = $1 AND datname = current_database()",
            APPLICATION_NAME,
        )
    return {row["pid"] for row in rows}


# How late the keys' notices reach the listeners in the test below (a busy process).
NOTICE_DELAY = 0.3


async def test_a_key_revoked_in_one_process_is_refused_by_the_other_on_the_next_request(
    two: tuple[Process, Process],
    admin_headers: dict[str, str],
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, second = two
    # Every process hears of the revocation late: the revocation must wait for them all,
    # not answer as soon as it has committed.
    deliver = asyncpg.connection.Connection._process_notification

    def late(connection: asyncpg.Connection, pid: int, channel: str, payload: str) -> None:
        if channel == key_cache.CHANNEL:
            connection._loop.call_later(NOTICE_DELAY, deliver, connection, pid, channel, payload)
        else:
            deliver(connection, pid, channel, payload)

    monkeypatch.setattr(asyncpg.connection.Connection, "_process_notification", late)
    _, key = await create_tenant(first.client, admin_headers, "acme")
    await second.hold(key)
    await first.hold(key)
    key_id = (await second.client.get("/v1/whoami", headers=key_headers(key))).json()["key_id"]
    listening = await _listeners(database_url)
    assert len(listening) == 2

    started = time.monotonic()
    revoked = await first.client.delete(f"/v1/keys/{key_id}", headers=admin_headers)
    answered_in = time.monotonic() - started
    assert revoked.status_code == 200

    # The very next request, in the process that did not revoke it.
    assert await second.whoami(key) == 401
    assert await first.whoami(key) == 401
    # Both processes heard the notice and answered: neither listener was cut off.
    assert await _listeners(database_url) == listening
    assert NOTICE_DELAY < answered_in < key_cache.FORGET_TIMEOUT


async def test_a_held_key_is_answered_from_memory(
    two: tuple[Process, Process], admin_headers: dict[str, str], db: asyncpg.Connection
) -> None:
    # With the notice switched off, a revocation in psql reaches no process: a process
    # still answering 200 is answering from memory, without looking the key up.
    first, _ = two
    _, key = await create_tenant(first.client, admin_headers, "acme")
    await first.hold(key)
    await db.execute("ALTER TABLE api_keys DISABLE TRIGGER api_keys_notify_update")
    try:
        await db.execute("UPDATE api_keys SET revoked_at = now()")
        assert await first.whoami(key) == 200
    finally:
        await db.execute("ALTER TABLE api_keys ENABLE TRIGGER api_keys_notify_update")


@pytest.mark.parametrize(
    "change",
    [
        "UPDATE api_keys SET revoked_at = now()",
        "DELETE FROM api_keys",
        # A tenant's deletion takes its keys with it (ON DELETE CASCADE).
        "DELETE FROM tenants",
    ],
)
async def test_a_key_changed_behind_the_apis_back_is_dropped_by_its_notice(
    two: tuple[Process, Process],
    admin_headers: dict[str, str],
    db: asyncpg.Connection,
    database_url: str,
    change: str,
) -> None:
    first, second = two
    _, key = await create_tenant(first.client, admin_headers, "acme")
    await second.hold(key)
    listening = await _listeners(database_url)

    await db.execute(change)

    async def dropped() -> bool:
        return second.keys.get(hash_key(key)) is None

    await until(dropped, "the changed key to be dropped")
    assert await second.whoami(key) == 401
    # Dropped by the notice, not by a lost listener.
    assert second.keys.active
    assert await _listeners(database_url) == listening


async def test_the_triggers_name_a_changed_key_and_stay_quiet_on_its_use(
    client: Client, admin_headers: dict[str, str], db: asyncpg.Connection, database_url: str
) -> None:
    _, key = await create_tenant(client, admin_headers, "acme")
    digest = hash_key(key).hex()
    heard: asyncio.Queue[str] = asyncio.Queue()
    await db.add_listener(key_cache.CHANNEL, lambda *args: heard.put_nowait(args[-1]))

    async def notices_after(statement: str) -> list[str]:
        async with connected(database_url) as other:
            await other.execute(statement)
            await other.execute(f"NOTIFY {key_cache.CHANNEL}, 'end'")
        said = []
        while (payload := await asyncio.wait_for(heard.get(), 10)) != "end":
            said.append(payload)
        return said

    # The throttled last_used_at write and a new name change nothing a process holds.
    assert await notices_after("UPDATE api_keys SET last_used_at = now(), name = 'x'") == []
    assert await notices_after("UPDATE api_keys SET revoked_at = now()") == [digest]
    assert await notices_after("DELETE FROM api_keys") == [digest]
    assert await notices_after("TRUNCATE api_keys CASCADE") == ["*"]


async def test_unknown_keys_are_not_held(
    client: Client, app: Litestar, admin_headers: dict[str, str]
) -> None:
    keys: KeyCache = app.state.key_cache
    await until(lambda: keys.active, "the listener to start")
    for _ in range(50):
        guess = "sn_tenant_" + secrets.token_urlsafe(32)
        assert (await client.get("/v1/whoami", headers=key_headers(guess))).status_code == 401
    assert len(keys) == 0


async def test_a_lost_listener_empties_the_key_cache_until_it_is_back(
    two: tuple[Process, Process],
    admin_headers: dict[str, str],
    db: asyncpg.Connection,
    database_url: str,
) -> None:
    first, second = two
    _, key = await create_tenant(first.client, admin_headers, "acme")
    await second.hold(key)
    await db.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE application_name = $1 AND datname = current_database()",
        APPLICATION_NAME,
    )
    await until(lambda: not second.keys.active, "the key cache to be switched off")
    assert len(second.keys) == 0
    # While nobody listens, the database answers: a revocation no process hears of
    # (no LISTEN now, and no notice either) is refused at once.
    await db.execute("ALTER TABLE api_keys DISABLE TRIGGER api_keys_notify_update")
    try:
        await db.execute("UPDATE api_keys SET revoked_at = now()")
        assert await second.whoami(key) == 401
    finally:
        await db.execute("ALTER TABLE api_keys ENABLE TRIGGER api_keys_notify_update")
    await until(lambda: second.keys.active, "the listener to reconnect")
    assert await second.whoami(key) == 401


async def test_a_listener_that_does_not_answer_is_cut_off(
    settings: Settings, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A process whose listener does not acknowledge (frozen, or an older version) must
    # not keep serving a revoked key: its listening backend is terminated, which switches
    # its caches off.
    monkeypatch.setattr(key_cache, "FORGET_TIMEOUT", 0.3)
    silent = await asyncpg.connect(
        database_url, server_settings={"application_name": APPLICATION_NAME}
    )
    lost = asyncio.Event()
    silent.add_termination_listener(lambda _connection: lost.set())
    await silent.add_listener(key_cache.CHANNEL, lambda *_args: None)
    try:
        await key_cache.forget_everywhere(settings.database_url, [hash_key("sn_tenant_x")])
        await asyncio.wait_for(lost.wait(), 5)
    finally:
        silent.terminate()
