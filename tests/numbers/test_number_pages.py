"""``GET /v1/numbers`` answers its pages from memory while the cache holds the whole
mirror, and else from the database with the cache's encoded numbers; either way each
page is byte for byte the document the database alone gives (``service.list_numbers``,
encoded by Litestar as the route returned it before): same numbers, order, cursors,
fields and tenancy, for every filter. From memory, a change is in the pages once its
notice has been applied; a cache that may lack a row (a number a notice named not yet
read again, never loaded, an entry evicted or aged out) leaves the page to the database.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any
from urllib.parse import urlencode

import pytest
from litestar import Litestar
from litestar.serialization import encode_json

from app.db.vocabulary import KeyScope
from app.lib.auth import BOOTSTRAP_ADMIN, Principal
from app.lib.tags import parse_tag_filters
from app.numbers import listener, memory_pages, service
from app.numbers.cache import CachedNumber, NumberCache
from app.numbers.query import NumberQuery
from tests.support.api import Client
from tests.support.db import connected
from tests.support.polling import until
from tests.support.tenancy import (
    Sessions,
    create_pool,
    create_tenant,
    german_numbers,
    key_headers,
    seed_numbers,
)

NUMBERS = german_numbers(40)
PAGE_SIZE = 7


class Pages:
    """The API's pages next to the database's, for one admin and one tenant key."""

    def __init__(
        self,
        client: Client,
        app: Litestar,
        sessions: Sessions,
        admin: dict[str, str],
        tenant: str,
        key: str,
        pool: str,
        other: str,
    ) -> None:
        self.client = client
        self.app = app
        self.sessions = sessions
        self.admin = admin
        self.tenant = tenant
        self.key = key
        self.pool = pool
        self.other = other
        self.requests = 0

    @property
    def cache(self) -> NumberCache:
        return self.app.state.number_cache  # type: ignore[no-any-return]

    async def compare(self, filters: dict[str, str], as_tenant: bool = False) -> int:
        """Every page of the list ``filters`` ask for, the API's against the database's;
        how many numbers they held."""
        headers = key_headers(self.key) if as_tenant else self.admin
        principal = (
            Principal(scope=KeyScope.TENANT, key_id=None, tenant_id=uuid.UUID(self.tenant))
            if as_tenant
            else BOOTSTRAP_ADMIN
        )
        cursor: str | None = None
        seen = 0
        while True:
            asked = {**filters, "limit": str(PAGE_SIZE)} | ({"cursor": cursor} if cursor else {})
            response = await self.client.get(f"/v1/numbers?{urlencode(asked)}", headers=headers)
            self.requests += 1
            assert response.status_code == 200, response.text
            expected = await self._from_database(principal, asked)
            assert response.content == expected, (filters, as_tenant, cursor)
            page = response.json()
            seen += len(page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                return seen

    async def compare_all(self) -> None:
        for filters in FILTERS:
            ids = {
                key: value.format(tenant=self.tenant, pool=self.pool, other=self.other)
                for key, value in filters.items()
            }
            await self.compare(ids)
            await self.compare(ids, as_tenant=True)

    async def _from_database(self, principal: Principal, asked: dict[str, str]) -> bytes:
        query = NumberQuery(
            country=asked.get("country"),
            tenant=uuid.UUID(asked["tenant"]) if "tenant" in asked else None,
            pool=uuid.UUID(asked["pool"]) if "pool" in asked else None,
            state=asked.get("state"),
            q=asked.get("q"),
            features={"voice": True} if asked.get("feature") == "voice" else {},
            tags=parse_tag_filters([asked["tag"]] if "tag" in asked else None),
            page=service.PAGES.query(asked["limit"], asked.get("cursor")),
        )
        async with self.sessions() as session:
            return encode_json(await service.list_numbers(session, principal, query))


# "{tenant}" and "{pool}" stand for the test's ids.
FILTERS: list[dict[str, str]] = [
    {},
    {"country": "AT"},
    {"tenant": "{tenant}"},
    {"pool": "{pool}"},
    {"state": "deleting"},
    {"q": "hot"},
    {"q": "7000001"},
    {"feature": "voice"},
    {"country": "DE", "state": "active"},
    {"tenant": "{tenant}", "q": "hot"},
    {"pool": "{pool}", "country": "AT", "state": "active"},
    {"tag": "team"},
    {"tag": "team:ops"},
    {"state": "active", "tag": "team:dev"},
    {"tenant": "{other}"},
]


@pytest.fixture
async def pages(
    client: Client, app: Litestar, admin_headers: dict[str, str], sessions: Sessions
) -> Pages:
    """40 numbers over two countries, three states, two tenants and a pool, with the
    app's cache listening."""
    cache: NumberCache = app.state.number_cache

    async def listening() -> bool:
        return cache.active

    await until(listening, "the listener to start")
    tenant, key = await create_tenant(client, admin_headers, "lists")
    other, _ = await create_tenant(client, admin_headers, "others")
    pool = await create_pool(client, admin_headers)
    for index, number in enumerate(NUMBERS):
        columns: dict[str, Any] = {
            "country": "AT" if index % 3 == 0 else "DE",
            "state": ("active", "active", "deleting", "deleted")[index % 4],
            "friendly_name": ("", "Hotline", "Support")[index % 3],
            "feature_voice": index % 2 == 0,
            "tags": ({}, {"team": "ops"}, {"team": "dev", "cost": "x"})[index % 7 % 3],
        }
        if index % 5 in (1, 2):
            columns["tenant_id"] = uuid.UUID(tenant if index % 5 == 1 else other)
        elif index % 5 == 3:
            columns["pool_id"] = uuid.UUID(pool)
        await seed_numbers(sessions, [number], **columns)

    def whole() -> bool:  # every insert's notice applied
        return cache.complete and all(number in cache for number in NUMBERS)

    await until(whole, "the cache to hold the whole mirror")
    return Pages(client, app, sessions, admin_headers, tenant, key, pool, other)


def refuse_database_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every page must come from memory from now on."""

    async def refused(*args: Any) -> Any:
        raise AssertionError("a page was read from the database")

    monkeypatch.setattr(service, "_page_from_database", refused)


def count_database_pages(monkeypatch: pytest.MonkeyPatch) -> list[None]:
    """One item per page the database answers from now on."""
    answered: list[None] = []
    read = service._page_from_database

    async def counted(*args: Any) -> Any:
        answered.append(None)
        return await read(*args)

    monkeypatch.setattr(service, "_page_from_database", counted)
    return answered


async def applied(cache: NumberCache, number: str, before: CachedNumber | None) -> None:
    """Wait for the notice of a change to ``number`` (whose entry was ``before``) to be
    applied, and the number read again."""

    def done() -> bool:
        return cache.complete and cache.get(number) != before

    await until(done, f"the notice about {number} to be applied")


async def test_every_filter_gives_the_database_page_from_memory(
    pages: Pages, monkeypatch: pytest.MonkeyPatch
) -> None:
    refuse_database_pages(monkeypatch)
    await pages.compare_all()
    assert await pages.compare({}) == len(NUMBERS)


async def test_changes_are_in_the_pages_from_memory_once_their_notices_are_applied(
    pages: Pages, sessions: Sessions, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    refuse_database_pages(monkeypatch)
    changes = [
        ("UPDATE numbers SET friendly_name = 'Hotline 2' WHERE number = $1", NUMBERS[0]),
        ("UPDATE numbers SET state = 'deleting' WHERE number = $1", NUMBERS[1]),
        (
            "UPDATE numbers SET tenant_id = $2 WHERE number = $1",
            NUMBERS[4],
            uuid.UUID(pages.tenant),
        ),
        ("UPDATE numbers SET tenant_id = NULL WHERE number = $1", NUMBERS[6]),
        ("UPDATE numbers SET pool_id = $2 WHERE number = $1", NUMBERS[5], uuid.UUID(pages.pool)),
        ("""UPDATE numbers SET tags = '{"team": "ops"}' WHERE number = $1""", NUMBERS[2]),
        (
            "UPDATE numbers SET country = 'AT', feature_voice = NOT feature_voice"
            " WHERE number = $1",
            NUMBERS[8],
        ),
        ("DELETE FROM numbers WHERE number = $1", NUMBERS[11]),
    ]
    async with connected(database_url) as connection:
        for statement, number, *args in changes:
            before = pages.cache.get(number)
            await connection.execute(statement, number, *args)
            await applied(pages.cache, number, before)
            await pages.compare_all()
    added = await seed_numbers(sessions, german_numbers(3, start=100), friendly_name="Hot")
    for number in added:
        await applied(pages.cache, number, None)
    await pages.compare_all()
    assert await pages.compare({}) == len(NUMBERS) - 1 + len(added)


async def test_a_number_named_by_a_notice_and_not_read_again_leaves_pages_to_the_database(
    pages: Pages, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def reads_nothing(*args: Any) -> None:
        await asyncio.sleep(0.05)

    monkeypatch.setattr(listener, "reread_numbers", reads_nothing)
    async with connected(database_url) as connection:
        await connection.execute(
            "UPDATE numbers SET state = 'deleting' WHERE number = $1", NUMBERS[0]
        )
    await until(lambda: NUMBERS[0] in pages.cache.holes, "the notice")
    answered = count_database_pages(monkeypatch)
    await pages.compare({})  # from memory, the first page would lack the number
    assert answered
    await pages.compare_all()


async def test_a_cache_never_loaded_leaves_pages_to_the_database(
    pages: Pages, monkeypatch: pytest.MonkeyPatch
) -> None:
    pages.cache.clear("forget_all")  # empty, and nothing will load it again
    answered = count_database_pages(monkeypatch)
    await pages.compare_all()
    assert len(answered) == pages.requests


async def test_a_cache_that_evicted_a_number_leaves_pages_to_the_database(
    pages: Pages, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pages.cache, "max_entries", len(NUMBERS) - 1)
    async with connected(database_url) as connection:  # its re-read makes room
        await connection.execute(
            "UPDATE numbers SET friendly_name = 'Moved' WHERE number = $1", NUMBERS[0]
        )

    def evicted() -> bool:
        return len(pages.cache) == len(NUMBERS) - 1 and not pages.cache.holes

    await until(evicted, "a number to be evicted")
    answered = count_database_pages(monkeypatch)
    await pages.compare_all()
    assert len(answered) == pages.requests


async def test_a_cache_older_than_its_max_age_leaves_pages_to_the_database(
    pages: Pages, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pages.cache, "max_age", 0.2)
    await asyncio.sleep(0.3)
    answered = count_database_pages(monkeypatch)
    await pages.compare_all()
    assert len(answered) == pages.requests


async def test_a_name_postgresql_lowers_by_its_locale_leaves_q_to_the_database(
    pages: Pages, sessions: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    added = await seed_numbers(sessions, german_numbers(1, start=100), friendly_name="STÖRUNG")
    await applied(pages.cache, added[0], None)
    answered = count_database_pages(monkeypatch)
    # The last page of "hot" walks past the number (the last), whose name memory cannot
    # test; a q that is not ASCII is PostgreSQL's alone.
    await pages.compare({"q": "hot"})
    assert len(answered) == 1
    await pages.compare({"q": "störung"})
    assert len(answered) == 2
    refuse_database_pages(monkeypatch)  # nothing but q needs the database
    await pages.compare({"country": "DE"})
    await pages.compare({"state": "deleting", "tag": "team"})


async def test_a_change_is_in_the_database_page_even_before_its_notice(
    pages: Pages, sessions: Sessions, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(memory_pages, "page_numbers", lambda *args: None)
    # Notices are not heard from here on: the cache keeps its bodies of the old rows,
    # and only their row versions tell a page that they are no longer the rows it found.
    monkeypatch.setattr(pages.cache, "forget", lambda numbers: None)
    monkeypatch.setattr(pages.cache, "clear", lambda: None)
    changes = [
        ("UPDATE numbers SET friendly_name = 'Hotline 2' WHERE number = $1", NUMBERS[0]),
        ("UPDATE numbers SET state = 'deleting' WHERE number = $1", NUMBERS[1]),
        ("UPDATE numbers SET tenant_id = NULL WHERE number = $1", NUMBERS[6]),
        ("DELETE FROM numbers WHERE number = $1", NUMBERS[11]),
    ]
    async with connected(database_url) as connection:
        for statement, *args in changes:
            await connection.execute(statement, *args)
            await pages.compare_all()
    await seed_numbers(sessions, german_numbers(3, start=100), friendly_name="Hot")
    await pages.compare_all()


async def test_a_cursor_pages_on_from_memory_to_the_database_and_back(
    pages: Pages, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = (await pages.client.get("/v1/numbers?limit=3", headers=pages.admin)).json()
    with monkeypatch.context() as database_only:
        database_only.setattr(memory_pages, "page_numbers", lambda *args: None)
        second = await pages.client.get(
            f"/v1/numbers?limit=3&cursor={first['next_cursor']}", headers=pages.admin
        )
    refuse_database_pages(monkeypatch)
    rest = await pages.compare({"cursor": second.json()["next_cursor"]})
    assert len(second.json()["items"]) + rest == len(NUMBERS) - 3


async def test_a_page_too_sparse_to_walk_to_is_left_to_the_database(
    pages: Pages, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(memory_pages, "MAX_WALK", 10)
    answered = count_database_pages(monkeypatch)
    await pages.compare({"tag": "team:dev"})  # 7 a page, two numbers in seven: past 10
    assert len(answered) == pages.requests
    refuse_database_pages(monkeypatch)
    await pages.compare({"tenant": pages.tenant})  # its own order: 10 is enough


async def test_q_tests_only_the_numbers_whose_name_or_digits_hold_it(
    pages: Pages, monkeypatch: pytest.MonkeyPatch
) -> None:
    """However sparse its numbers: a walk of 10 would not reach a page of 7 "hot"s."""
    monkeypatch.setattr(memory_pages, "MAX_WALK", 10)
    refuse_database_pages(monkeypatch)
    assert await pages.compare({"q": "hot"}) > 10


# What q may be: part of a name or of a number, in any case, a number written with
# separators, LIKE's wildcards and escape taken literally, nothing held, only the last.
Q_SEARCHES = [
    "hot",
    "HOTLINE",
    "hOtLiNe 2",
    "line",
    "e",
    "port",
    "Office 2",
    "sales+support",
    "+",
    "a_b",
    "%",
    "\\",
    "_",
    "151",
    "7000001",
    "+49 151 7000 0012",
    "0049 (151) 700-000",
    "+4915170000039",
    "0",
    "nothing like it",
    "hotlines",
    "last one",
    "+49 151 700 999 99",
]


async def test_every_q_gives_the_database_page_from_memory(
    pages: Pages, sessions: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = ["Berlin Office 2", "sales+support", "A_B%C\\D", "Hotline 2", "the last one"]
    starts = [50, 60, 70, 80, 99_999]  # the last: 4915170099999
    added = [
        (await seed_numbers(sessions, german_numbers(1, start=start), friendly_name=name))[0]
        for start, name in zip(starts, names, strict=True)
    ]
    for number in added:
        await applied(pages.cache, number, None)
    refuse_database_pages(monkeypatch)
    found = 0
    for q in Q_SEARCHES:
        found += await pages.compare({"q": q})
        found += await pages.compare({"q": q}, as_tenant=True)
        found += await pages.compare({"q": q, "country": "DE"})
    assert found > 200
    assert await pages.compare({"q": "last one"}) == 1
    assert await pages.compare({"q": "nothing like it"}) == 0
