"""The periodic reload of a process's number cache renews what is current and reads
whole only the rows of another version (a change whose notice it never heard)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.engine import create_engine
from app.numbers import service
from app.numbers.cache import NumberCache
from app.settings import Settings
from tests.support.db import connected
from tests.support.tenancy import Sessions, seed_numbers

NUMBERS = ["4915170264838", "4915170264839", "4915170264840"]


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings.database_url, pool_size=1)
    yield engine
    await engine.dispose()


@pytest.fixture
def encoded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The numbers encoded (read whole) since the test began."""
    numbers: list[str] = []
    encode = service._document

    def counting(row: Any) -> bytes:
        numbers.append(row.number)
        return encode(row)

    monkeypatch.setattr(service, "_document", counting)
    return numbers


async def test_a_reload_encodes_only_the_rows_of_another_version(
    engine: AsyncEngine, sessions: Sessions, database_url: str, encoded: list[str]
) -> None:
    await seed_numbers(sessions, NUMBERS, friendly_name="Support")
    # Switched on but deaf: no listener, so no notice tells it of the change below.
    cache = NumberCache(100, 1800)
    cache.activate()
    assert await service.load_numbers(engine, cache) == 3
    assert sorted(encoded) == NUMBERS
    first = {number: cache.get(number) for number in NUMBERS}

    encoded.clear()
    async with connected(database_url) as connection:
        await connection.execute(
            "UPDATE numbers SET friendly_name = 'Sales' WHERE number = $1", NUMBERS[1]
        )
    assert await service.load_numbers(engine, cache) == 3

    assert encoded == [NUMBERS[1]]
    renamed = cache.get(NUMBERS[1])
    assert renamed is not None and b'"friendly_name":"Sales"' in renamed.body
    assert cache.get(NUMBERS[0]) == first[NUMBERS[0]]  # renewed as it was
    assert cache.complete


async def test_a_first_load_builds_the_columns_and_keeps_nothing_twice(
    engine: AsyncEngine, sessions: Sessions, encoded: list[str]
) -> None:
    await seed_numbers(sessions, NUMBERS)
    cache = NumberCache(100, 1800)
    cache.activate()
    await service.reread_numbers(engine, cache, NUMBERS[:1])  # as a single read would
    assert not cache.complete and len(cache) == 1
    assert cache.needs_build  # no columns yet

    assert await service.load_numbers(engine, cache) == 3
    assert not cache.needs_build
    assert cache.complete and len(cache) == 3  # the front's row went: the columns hold it


async def test_a_reload_reads_the_numbers_it_does_not_hold_and_completes_the_cache(
    engine: AsyncEngine, sessions: Sessions, database_url: str, encoded: list[str]
) -> None:
    await seed_numbers(sessions, NUMBERS[:2])
    cache = NumberCache(100, 1800)
    cache.activate()  # deaf, as above
    assert await service.load_numbers(engine, cache) == 2
    await seed_numbers(sessions, NUMBERS[2:])
    async with connected(database_url) as connection:
        await connection.execute("DELETE FROM numbers WHERE number = $1", NUMBERS[0])

    encoded.clear()
    assert await service.load_numbers(engine, cache) == 2
    assert encoded == NUMBERS[2:]
    assert cache.get(NUMBERS[0]) is None  # gone without a notice: the renewal saw it
    assert cache.complete and len(cache) == 2


async def test_a_build_lets_requests_in_every_few_rows(
    engine: AsyncEngine, sessions: Sessions, encoded: list[str]
) -> None:
    # SQLAlchemy hands a stream's partitions out of the rows it fetched without waiting
    # (up to 1,000 a fetch): unless the build yields itself, other tasks (the requests)
    # wait for a whole fetch's worth of encoding.
    await seed_numbers(sessions, [f"49151702{n:05d}" for n in range(300)])
    cache = NumberCache(1000, 1800)
    cache.activate()
    stretches: list[int] = []

    async def another_task() -> None:
        seen = 0
        while True:
            stretches.append(len(encoded) - seen)
            seen = len(encoded)
            await asyncio.sleep(0)

    watcher = asyncio.create_task(another_task())
    try:
        assert await service.load_numbers(engine, cache) == 300
    finally:
        watcher.cancel()
    assert len(encoded) == 300
    assert max(stretches) <= service.LOAD_BATCH
