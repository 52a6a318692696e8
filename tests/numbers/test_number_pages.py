"""``GET /v1/numbers`` assembles its pages from the cache's encoded numbers, and each
page is byte for byte the document the database alone gives (``service.list_numbers``,
encoded by Litestar as the route returned it before): same numbers, order, cursors,
fields and tenancy, for every filter, and at once after a change made behind the API's
back, before (or without) its notice.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

import pytest
from litestar import Litestar
from litestar.serialization import encode_json

from app.db.vocabulary import KeyScope
from app.lib.auth import BOOTSTRAP_ADMIN, Principal
from app.numbers import service
from app.numbers.cache import NumberCache
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
    ) -> None:
        self.client = client
        self.app = app
        self.sessions = sessions
        self.admin = admin
        self.tenant = tenant
        self.key = key
        self.pool = pool

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
                key: value.format(tenant=self.tenant, pool=self.pool)
                for key, value in filters.items()
            }
            await self.compare(ids)
            await self.compare(ids, as_tenant=True)

    async def _from_database(self, principal: Principal, asked: dict[str, str]) -> bytes:
        query = service.NumberQuery(
            country=asked.get("country"),
            tenant=uuid.UUID(asked["tenant"]) if "tenant" in asked else None,
            pool=uuid.UUID(asked["pool"]) if "pool" in asked else None,
            state=asked.get("state"),
            q=asked.get("q"),
            features={"voice": True} if asked.get("feature") == "voice" else {},
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
        }
        if index % 5 in (1, 2):
            columns["tenant_id"] = uuid.UUID(tenant if index % 5 == 1 else other)
        elif index % 5 == 3:
            columns["pool_id"] = uuid.UUID(pool)
        await seed_numbers(sessions, [number], **columns)
    return Pages(client, app, sessions, admin_headers, tenant, key, pool)


async def test_every_filter_gives_the_database_page_from_the_cache(
    pages: Pages, monkeypatch: pytest.MonkeyPatch
) -> None:
    await pages.compare_all()  # the first reads miss and store what they encoded

    async def all_cached() -> bool:
        await pages.compare({})
        return all(pages.cache.get(number) is not None for number in NUMBERS)

    await until(all_cached, "every number to be cached")

    # Nothing encoded from now on: every page is assembled from the cache.
    def not_encoded(row: Any) -> bytes:
        raise AssertionError(f"{row.number} was encoded, not taken from the cache")

    monkeypatch.setattr(service, "_document", not_encoded)
    await pages.compare_all()
    assert await pages.compare({}) == len(NUMBERS)


async def test_a_change_is_in_the_next_page_even_before_its_notice(
    pages: Pages, sessions: Sessions, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await pages.compare_all()
    # Notices are not heard from here on: the cache keeps its bodies of the old rows,
    # and only their row versions tell a page that they are no longer the rows it found.
    monkeypatch.setattr(pages.cache, "forget", lambda numbers: None)
    monkeypatch.setattr(pages.cache, "clear", lambda: None)
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
        ("DELETE FROM numbers WHERE number = $1", NUMBERS[11]),
    ]
    async with connected(database_url) as connection:
        for statement, *args in changes:
            await connection.execute(statement, *args)
            await pages.compare_all()
    await seed_numbers(sessions, german_numbers(3, start=100), friendly_name="Hot")
    await pages.compare_all()


async def test_a_cursor_from_the_cache_pages_on_in_the_database(pages: Pages) -> None:
    first = (await pages.client.get("/v1/numbers?limit=3", headers=pages.admin)).json()
    cursor = first["next_cursor"]
    pages.cache.deactivate()  # a lost listener: the next page comes from the database
    try:
        rest = await pages.compare({"cursor": cursor})
    finally:
        pages.cache.activate()
    assert rest == len(NUMBERS) - 3
