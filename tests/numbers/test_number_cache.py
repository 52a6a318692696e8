"""The API's cache of single-number reads follows the mirror: PostgreSQL's notices
(migration 0006) drop what another connection changed, a lost listener drops everything,
and the tenancy rule holds for cached rows as for fresh ones.

Changes are made with raw SQL on a connection of their own, as the sync, the worker or
an operator in psql would make them; nothing in the API is told about them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from prometheus_client import REGISTRY

from app.lib.change_listener import APPLICATION_NAME, ChangeListener, loader_name
from app.numbers import cache as cache_module
from app.numbers import listener as listener_module
from app.numbers.cache import NumberCache
from app.numbers.listener import CHANNEL, NumberNotices, open_caches
from app.resources import Resources
from app.settings import Settings
from tests.support.api import Client
from tests.support.db import connected
from tests.support.polling import until
from tests.support.tenancy import Sessions, create_tenant, key_headers, seed_numbers

DE_MOBILE = "4915170264838"
OTHER = "4915170264839"


@dataclass
class Mirror:
    """The API (with its cache listening) and a way to change the mirror behind its back."""

    client: Client
    admin: dict[str, str]
    database_url: str
    """The plain ``postgresql://`` URL asyncpg takes (the ``database_url`` fixture)."""
    sessions: Sessions
    cache: NumberCache

    async def read(self, number: str = DE_MOBILE, headers: dict[str, str] | None = None) -> Any:
        """The number's document, or the status code when it is not a 200."""
        response = await self.client.get(f"/v1/numbers/{number}", headers=headers or self.admin)
        return response.json() if response.status_code == 200 else response.status_code

    async def read_cached(self, number: str = DE_MOBILE) -> Any:
        """Read until the number stays cached: the notice of the write that put the row
        there arrives at its own pace and may drop the entry the first read stored."""
        document: Any = None

        async def held() -> bool:
            nonlocal document
            document = await self.read(number)
            return self.cache.get(number) is not None

        await until(held, f"{number} to be held in the cache")
        return document

    async def sql(self, statement: str, *args: Any) -> str:
        """One statement committed on a connection of its own (not the API's pool)."""
        async with connected(self.database_url) as connection:
            return await connection.execute(statement, *args)


@pytest.fixture
async def mirror(
    client: Client,
    app: Litestar,
    admin_headers: dict[str, str],
    database_url: str,
    sessions: Sessions,
) -> Mirror:
    """Once the app's listener is listening (it connects in the background)."""
    cache: NumberCache = app.state.number_cache

    async def listening() -> bool:
        return cache.active

    await until(listening, "the listener to start")
    return Mirror(client, admin_headers, database_url, sessions, cache)


async def test_a_change_committed_elsewhere_is_read_once_its_notice_arrives(
    mirror: Mirror,
) -> None:
    await seed_numbers(mirror.sessions, [DE_MOBILE], friendly_name="Support")
    # The read filled the cache: without the notice, the next reads would be this row.
    assert (await mirror.read_cached())["friendly_name"] == "Support"

    await mirror.sql("UPDATE numbers SET friendly_name = 'Sales' WHERE number = $1", DE_MOBILE)

    async def renamed() -> bool:
        return (await mirror.read())["friendly_name"] == "Sales"

    await until(renamed, "the renamed number to be read")


async def test_a_deleted_row_is_not_found_once_its_notice_arrives(mirror: Mirror) -> None:
    await seed_numbers(mirror.sessions, [DE_MOBILE, OTHER])
    assert (await mirror.read_cached())["number"] == DE_MOBILE
    assert (await mirror.read_cached(OTHER))["number"] == OTHER

    await mirror.sql("DELETE FROM numbers WHERE number = $1", DE_MOBILE)

    async def gone() -> bool:
        return await mirror.read() == 404

    await until(gone, "the deleted number to be 404")
    # Only the named number was dropped.
    assert mirror.cache.get(OTHER) is not None


async def test_a_statement_changing_thousands_of_rows_is_followed(mirror: Mirror) -> None:
    # More rows than the notices name (5,000): one "*" stands for them, as for the sync's
    # biggest writes; the cache is emptied and loaded again.
    await mirror.sql(INSERT_NUMBERS, 1, 5001)
    await seed_numbers(mirror.sessions, [DE_MOBILE], friendly_name="Support")
    assert (await mirror.read_cached())["friendly_name"] == "Support"

    await mirror.sql("UPDATE numbers SET friendly_name = 'Bulk'")

    async def renamed() -> bool:
        return (await mirror.read())["friendly_name"] == "Bulk"

    await until(renamed, "the bulk rename to be read")

    async def loaded_again() -> bool:
        return len(mirror.cache) == 5002

    await until(loaded_again, "the mirror to be loaded again")


async def test_a_forget_all_notice_drops_rows_the_reload_no_longer_finds(mirror: Mirror) -> None:
    # TRUNCATE says "*". Loading the mirror again renews only the rows still there: an
    # entry the notice left in place would go on being served for a row that is gone.
    await seed_numbers(mirror.sessions, [DE_MOBILE])
    assert (await mirror.read_cached())["number"] == DE_MOBILE

    await mirror.sql("TRUNCATE numbers CASCADE")

    async def gone() -> bool:
        return await mirror.read() == 404

    await until(gone, "the truncated number to be 404")
    assert len(mirror.cache) == 0


async def test_caches_of_size_zero_run_no_listener(
    settings: Settings, resources: Resources
) -> None:
    # NUMBER_CACHE_SIZE=0 and KEY_CACHE_SIZE=0 switch the caches off: no connection held
    # for notices.
    off = dataclasses.replace(settings, number_cache_size=0, key_cache_size=0)
    async with open_caches(off, resources.engine) as caches:
        running = {task.get_name() for task in asyncio.all_tasks()}
        assert "cache-listener" not in running
        assert not caches.numbers.active
        assert not caches.keys.active


async def test_a_lost_connection_stops_its_loader(
    settings: Settings, database_url: str, resources: Resources
) -> None:
    cache = NumberCache(100, 60)
    notices = NumberNotices(cache, resources.engine)
    listener = ChangeListener(settings.database_url, [notices.subscription()], retry_delay=0.05)

    def loaders() -> int:
        return sum(task.get_name() == loader_name(CHANNEL) for task in asyncio.all_tasks())

    async def listening() -> bool:
        return cache.active

    async with listener.running():
        await until(listening, "the listener to start")
        async with connected(database_url) as connection:
            await connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = $1 AND datname = current_database()",
                APPLICATION_NAME,
            )

        async def switched_off() -> bool:
            return not cache.active

        await until(switched_off, "the cache to be switched off")
        await until(listening, "the listener to reconnect")
        # The lost connection's loader ended with it: one loader, the new connection's.
        assert loaders() == 1
    assert loaders() == 0


async def test_rows_read_again_past_the_front_s_limit_are_built_into_new_columns(
    settings: Settings,
    database_url: str,
    resources: Resources,
    sessions: Sessions,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The numbers notices named are read again into the front; past REBUILD_AT of
    them the listener builds the columns anew soon, not at the next renewal."""
    monkeypatch.setattr(cache_module, "REBUILD_AT", 1)
    monkeypatch.setattr(listener_module, "REBUILD_SPACING", 0.1)
    numbers = [DE_MOBILE, OTHER, "4915170264840"]
    await seed_numbers(sessions, numbers)
    cache = NumberCache(100, 1800)
    notices = NumberNotices(cache, resources.engine)
    async with ChangeListener(settings.database_url, [notices.subscription()]).running():
        await until(lambda: cache.complete and len(cache) == 3, "the first build")
        async with connected(database_url) as connection:
            await connection.execute(
                "UPDATE numbers SET friendly_name = 'Renamed' WHERE number = ANY($1)", numbers[:2]
            )

        def built_anew() -> bool:
            held = [cache.document(number) for number in numbers[:2]]
            renamed = all(d is not None and b'"Renamed"' in d.body for d in held)
            return renamed and cache.complete and not cache._entries

        await until(built_anew, "the renamed rows in new columns and none in the front")
        assert len(cache) == 3


# Bare mirror rows 4915100000001... for i from $1 to $2, inserted by one statement.
INSERT_NUMBERS = (
    "INSERT INTO numbers (number, country, payment_interval, state)"
    " SELECT '4915100' || lpad(i::text, 6, '0'), 'DE', 'monthly', 'active'"
    " FROM generate_series($1::int, $2::int) AS i"
)


async def test_the_triggers_name_the_changed_numbers_or_say_forget_all(mirror: Mirror) -> None:
    heard: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(mirror.database_url)
    await listener.add_listener(CHANNEL, lambda *args: heard.put_nowait(args[-1]))

    async def notices_after(statement: str, *args: Any) -> list[str]:
        await mirror.sql(statement, *args)
        # A statement that wrote nothing says nothing: a marker notice shows the end.
        await mirror.sql(f"NOTIFY {CHANNEL}, 'end'")
        said = []
        while (payload := await asyncio.wait_for(heard.get(), 10)) != "end":
            said.append(payload)
        return said

    try:
        both = await notices_after(INSERT_NUMBERS, 1, 2)
        assert both == ["4915100000001,4915100000002"]
        assert await notices_after("UPDATE numbers SET friendly_name = 'x' WHERE false") == []
        assert await notices_after("DELETE FROM numbers WHERE number = $1", "4915100000002") == [
            "4915100000002"
        ]
        # 1,000 numbers in notices of at most 400 ...
        thousand = await notices_after(INSERT_NUMBERS, 3, 1002)
        named = [payload.split(",") for payload in thousand]
        assert sorted(map(len, named)) == [200, 400, 400]
        assert {number for names in named for number in names} == {
            f"4915100{i:06d}" for i in range(3, 1003)
        }
        # ... more than 5,000 in one "*", as for a first sync ...
        assert await notices_after(INSERT_NUMBERS, 1003, 6003) == ["*"]
        # ... and so for TRUNCATE.
        assert await notices_after("TRUNCATE numbers CASCADE") == ["*"]
    finally:
        await listener.close()


async def test_cached_rows_keep_the_tenancy_rule_and_follow_reallocation(mirror: Mirror) -> None:
    (acme, acme_key), (globex, globex_key) = [
        await create_tenant(mirror.client, mirror.admin, name) for name in ("acme", "globex")
    ]
    await seed_numbers(mirror.sessions, [DE_MOBILE], tenant_id=uuid.UUID(acme))

    # The admin's read caches the row; each tenant key is judged against it.
    assert (await mirror.read_cached())["tenant"] == acme
    assert (await mirror.read(headers=key_headers(acme_key)))["tenant"] == acme
    forbidden = await mirror.client.get(f"/v1/numbers/{DE_MOBILE}", headers=key_headers(globex_key))
    assert forbidden.status_code == 404
    assert forbidden.json()["code"] == "number_not_found"

    await mirror.sql(
        "UPDATE numbers SET tenant_id = $1 WHERE number = $2", uuid.UUID(globex), DE_MOBILE
    )

    async def moved() -> bool:
        return await mirror.read(headers=key_headers(acme_key)) == 404

    await until(moved, "the old holder to lose the number")
    assert (await mirror.read(headers=key_headers(globex_key)))["tenant"] == globex


async def test_losing_the_listener_connection_empties_the_cache_until_it_is_back(
    mirror: Mirror,
) -> None:
    await seed_numbers(mirror.sessions, [DE_MOBILE], friendly_name="Support")
    assert (await mirror.read_cached())["friendly_name"] == "Support"
    lost = {"cache": "numbers", "reason": "listener_lost"}
    lost_before = REGISTRY.get_sample_value("seven_numbers_cache_emptied_total", lost) or 0

    terminated = await mirror.sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE application_name = $1 AND datname = current_database()",
        APPLICATION_NAME,
    )
    assert terminated == "SELECT 1"

    async def switched_off() -> bool:
        return not mirror.cache.active

    await until(switched_off, "the cache to be switched off")
    assert len(mirror.cache) == 0
    # Counted, for an operator to see why the process read the mirror again.
    assert REGISTRY.get_sample_value("seven_numbers_cache_emptied_total", lost) == lost_before + 1
    # A change nobody in this process hears of (no LISTEN now) ...
    await mirror.sql("UPDATE numbers SET friendly_name = 'Sales' WHERE number = $1", DE_MOBILE)
    # ... is read at once: the database answers while the listener is away ...
    assert (await mirror.read())["friendly_name"] == "Sales"

    async def back() -> bool:
        return mirror.cache.active

    await until(back, "the listener to reconnect")
    # ... and after it is back, from the row read afresh.
    assert (await mirror.read())["friendly_name"] == "Sales"
    assert mirror.cache.get(DE_MOBILE) is not None


async def test_a_write_through_this_process_is_read_at_once(mirror: Mirror) -> None:
    """A request that wrote answers only once this process's cache has heard of it, so
    the caller's next read never gets the cached row it replaced (read your writes)."""
    await seed_numbers(mirror.sessions, [DE_MOBILE])
    lock = f"/v1/numbers/{DE_MOBILE}/deletion-lock"
    for round_ in range(20):
        assert (await mirror.read_cached())["deletion_lock"] is None
        locked = await mirror.client.put(lock, json={"reason": f"r{round_}"}, headers=mirror.admin)
        assert locked.status_code == 200, locked.text
        assert (await mirror.read())["deletion_lock"]["reason"] == f"r{round_}"
        lifted = await mirror.client.delete(lock, headers=mirror.admin)
        assert lifted.status_code == 200, lifted.text
        assert (await mirror.read())["deletion_lock"] is None


async def test_a_sync_point_returns_after_the_notices_committed_before_it(
    settings: Settings, database_url: str, resources: Resources, sessions: Sessions
) -> None:
    await seed_numbers(sessions, [DE_MOBILE], friendly_name="n0")
    async with open_caches(settings, resources.engine) as caches:
        for round_ in range(1, 11):

            async def renewed(name: str = f"n{round_ - 1}") -> bool:
                entry = caches.numbers.get(DE_MOBILE)
                return entry is not None and f'"{name}"'.encode() in entry.body

            await until(renewed, f"the cache to hold n{round_ - 1}")
            async with connected(database_url) as connection:
                await connection.execute(
                    "UPDATE numbers SET friendly_name = $1 WHERE number = $2",
                    f"n{round_}",
                    DE_MOBILE,
                )
            await caches.caught_up()
            # Dropped, or already read again (the listener re-reads what notices name).
            entry = caches.numbers.get(DE_MOBILE)
            assert entry is None or f'"n{round_}"'.encode() in entry.body


async def test_a_sync_point_missed_empties_the_caches(
    settings: Settings, resources: Resources, sessions: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed_numbers(sessions, [DE_MOBILE])
    async with open_caches(settings, resources.engine) as caches:

        async def loaded() -> bool:
            return caches.numbers.get(DE_MOBILE) is not None

        await until(loaded, "the cache to load the number")
        monkeypatch.setattr("app.lib.change_listener.SYNC_POINT_TIMEOUT", 0.0)
        await caches.caught_up()
        assert len(caches.numbers) == 0
        assert caches.numbers.active  # still listening: reads fill it again
