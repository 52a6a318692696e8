"""Reading the mirror: one number, or a filtered page of numbers.

Both reads are answered from the process's cache when it can (app.numbers.cache; a page
only while it holds the whole mirror, app.numbers.memory_pages), else by single indexed
Core queries (no ORM entity loading: the rows go straight into ``NumberOut``). A page
read is scoped by :mod:`app.lib.tenancy` in its query; one number is read whole (its row
is cached for every caller of the process) and then checked with the same rule, so
another tenant's number is simply not found either way.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

import msgspec
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    Text,
    any_,
    bindparam,
    literal_column,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncResult, AsyncSession

from app.db.models import Number
from app.db.rows import plain
from app.lib.auth import Principal
from app.lib.errors import NotFound
from app.lib.pagination import Keyset, Page
from app.lib.tags import TagFilter
from app.lib.tenancy import may_see, scope_numbers
from app.numbers import memory_pages
from app.numbers.cache import Document, NumberCache
from app.numbers.query import NumberQuery, q_digits
from app.numbers.schemas import NumberOut, number_out

# The row version (PostgreSQL's xmin, new with every insert and update that commits)
# travels with every read, so a cached body can be matched to the row a page found.
_VERSION = literal_column("numbers.xmin::text::bigint", BigInteger).label("version")
_COLUMNS = (*Number.__table__.c, _VERSION)
_FEATURE_COLUMNS = {
    "sms": Number.feature_sms,
    "a2p_sms": Number.feature_a2p_sms,
    "voice": Number.feature_voice,
}
PAGES = Keyset(Number.number, limit=50, max_limit=500)
# Rows a load encodes between two turns of the requests (~1 ms of work here).
LOAD_BATCH = 20


# Built once: building a select costs more than running it on the primary key.
_BY_NUMBER = select(*_COLUMNS).where(Number.number == bindparam("number"))
# In the columns' order (app.numbers.columns): digits order alike in every collation.
_IN_ORDER = select(*_COLUMNS).order_by(Number.number)
_NUMBER_AND_VERSION = (Number.__table__.c.number, _VERSION)
_VERSIONS = select(*_NUMBER_AND_VERSION)
_SOME = select(*_COLUMNS).where(
    Number.number == any_(bindparam("numbers", type_=postgresql.ARRAY(Text)))
)


@asynccontextmanager
async def reading(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection for reads: autocommit, so no BEGIN/ROLLBACK round trips and no
    session bookkeeping (each read is one statement, consistent on its own)."""
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        yield connection


async def number_document(
    engine: AsyncEngine,
    cache: NumberCache,
    principal: Principal,
    number: str,
    held: Document | None = None,
) -> bytes:
    """The mirrored number (digits, already normalized) as its ``NumberOut`` JSON, or
    ``NotFound`` when it is not there or not ``principal``'s to see.

    From ``cache`` when it holds the number (``held``, when the caller has looked it up
    already), else one primary-key read (kept in the cache when no change was announced
    meanwhile). The row is read whole, whoever asks, and the tenancy rule applied to it
    in memory.
    """
    cached = held or cache.document(number)
    if cached is not None:
        tenant_id, body = cached.tenant_id, cached.body
    else:
        ticket = cache.ticket()
        async with reading(engine) as connection:
            row = (await connection.execute(_BY_NUMBER, {"number": number})).first()
        if row is None:
            raise number_not_found(number)
        [row] = plain([row])
        tenant_id, body = row.tenant_id, _document(row)
        cache.put_row(ticket, row, body)
    if not may_see(principal, tenant_id):
        raise number_not_found(number)
    return body


def number_not_found(number: str) -> NotFound:
    return NotFound(f"number {number} is not on the account", code="number_not_found")


def _document(row: Any) -> bytes:
    """A row of the numbers columns (plain or not) as its ``NumberOut`` JSON."""
    return msgspec.json.encode(number_out(row))


async def load_numbers(engine: AsyncEngine, cache: NumberCache) -> int:
    """Read the mirror (as many numbers as ``cache`` holds) into ``cache``; how many.

    A fold, when the rows read since the columns were built outgrow the cache's front
    (``NumberCache.fold``: new columns from the served ones and the front, the database
    not read). A build (no columns yet): one statement (one snapshot) in number order,
    streamed into new columns :data:`LOAD_BATCH` rows at a time (encoding and compressing
    them takes ~1 ms), and the process goes on answering requests between batches while
    it loads. A renewal: only the numbers and their row versions are read; a row held at
    its very version is renewed as it is, and only the others are read whole and encoded,
    so a reload of an unchanged mirror costs a scan of its keys instead of encoding every
    number again. One row more than fits is asked for, to learn whether the cache now
    holds the whole mirror (``NumberCache.load_finished``).
    """
    if cache.needs_fold:
        for _ in cache.fold():
            await asyncio.sleep(0)  # requests are answered between batches
        return len(cache)
    start = cache.load_started()
    loaded = 0
    outdated: list[str] = []
    async with engine.connect() as connection:
        if cache.needs_build:
            cache.build_started(start)
            result = await connection.stream(_IN_ORDER.limit(cache.max_entries + 1))
            async for rows in _between_requests(result):
                for row in rows:
                    cache.load_row(start, row, _document(row))
                loaded += len(rows)
        else:
            result = await connection.stream(_VERSIONS.limit(cache.max_entries + 1))
            async for versions in result.partitions(1000):
                for number, version in versions:
                    if not cache.renew(start.ticket, number, version):
                        outdated.append(number)
                loaded += len(versions)
    if outdated:
        # Read after the versions: stored under the load's ticket, so a number a notice
        # named since the load began stays a hole for the listener to read again.
        await _read_into(engine, cache, start.ticket, outdated)
    cache.load_finished(start, whole=loaded <= cache.max_entries)
    return loaded


async def _between_requests(result: AsyncResult[Any]) -> AsyncIterator[list[Any]]:
    """``result``'s rows, :data:`LOAD_BATCH` at a time as plain rows (app.db.rows.plain),
    the requests getting a turn after each batch: a partition taken from the rows already
    fetched does not wait, so without it they would get one only at each fetch, 1,000
    rows apart."""
    async for rows in result.partitions(LOAD_BATCH):
        yield plain(rows)
        await asyncio.sleep(0)


async def reread_numbers(engine: AsyncEngine, cache: NumberCache, numbers: list[str]) -> None:
    """Read ``numbers`` (the cache's holes) again into ``cache``, in one statement; a
    number no longer in the mirror is no longer a hole."""
    await _read_into(engine, cache, cache.ticket(), numbers)


async def _read_into(
    engine: AsyncEngine, cache: NumberCache, ticket: int, numbers: list[str]
) -> None:
    found: set[str] = set()
    async with engine.connect() as connection:
        result = await connection.stream(_SOME, {"numbers": numbers})
        async for rows in _between_requests(result):
            for row in rows:
                cache.put_row(ticket, row, _document(row))
                found.add(row.number)
    cache.absent(ticket, (number for number in numbers if number not in found))


async def list_numbers(
    db: AsyncConnection | AsyncSession, principal: Principal, query: NumberQuery
) -> Page[NumberOut]:
    """One page in ``number`` order (the console's; the API's is :func:`page_document`)."""
    stmt = _page_select(_COLUMNS, principal, _conditions(query), query)
    return PAGES.page(plain((await db.execute(stmt)).all()), query.page).map(number_out)


async def page_document(
    engine: AsyncEngine, cache: NumberCache, principal: Principal, query: NumberQuery
) -> bytes:
    """:func:`list_numbers`'s page as its ``Page[NumberOut]`` JSON, the same bytes.

    From memory when ``cache`` holds the whole mirror (app.numbers.memory_pages), else
    from the database (:func:`_page_from_database`); either way each body is the
    cache's encoded number, written into the page as the bytes it is (``msgspec.Raw``),
    never decoded and encoded again. The cursor is the same either way, so a page from
    one pages on in the other.
    """
    found = memory_pages.page_numbers(cache, principal, query)
    if found is None:
        async with reading(engine) as connection:
            found = await _page_from_database(connection, cache, principal, query)
    numbers, bodies = found
    cursor = PAGES.page(numbers, query.page, key=_itself).next_cursor
    return msgspec.json.encode(Page(items=list(map(msgspec.Raw, bodies)), next_cursor=cursor))


def _itself(number: str) -> str:
    return number


async def _page_from_database(
    db: AsyncConnection, cache: NumberCache, principal: Principal, query: NumberQuery
) -> tuple[list[str], list[bytes]]:
    """The page's numbers (one more when another page follows) and bodies, read.

    The numbers and their row versions are read first (the same keyset query, filters
    and tenancy scope as for whole rows); each body comes from ``cache`` when it holds
    that very version. Should any be missing or of another version, the page is read
    again whole, in one statement, and its rows encoded (and cached): a page is never
    assembled from rows of two moments.
    """
    conditions = _conditions(query)
    limit = query.page.limit
    versions = await db.execute(_page_select(_NUMBER_AND_VERSION, principal, conditions, query))
    found = versions.all()
    held = [_cached_body(cache, row.number, row.version) for row in found[:limit]]
    bodies = [body for body in held if body is not None]
    if len(bodies) == len(held):
        return [row.number for row in found], bodies
    ticket = cache.ticket()
    rows = plain((await db.execute(_page_select(_COLUMNS, principal, conditions, query))).all())
    bodies = [_document(row) for row in rows[:limit]]
    for row, body in zip(rows, bodies, strict=False):
        cache.put_row(ticket, row, body)
    return [row.number for row in rows], bodies


def _page_select(
    columns: Iterable[ColumnElement[Any]],
    principal: Principal,
    conditions: list[ColumnElement[bool]],
    query: NumberQuery,
) -> Select[Any]:
    return PAGES.select(scope_numbers(select(*columns), principal).where(*conditions), query.page)


def _cached_body(cache: NumberCache, number: str, version: int) -> bytes | None:
    held = cache.document(number)
    return held.body if held is not None and held.version == version else None


def _conditions(query: NumberQuery) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if query.country is not None:
        conditions.append(Number.country == query.country)
    conditions.extend(_FEATURE_COLUMNS[name].is_(flag) for name, flag in query.features.items())
    if query.tenant is not None:
        conditions.append(Number.tenant_id == query.tenant)
    if query.pool is not None:
        conditions.append(Number.pool_id == query.pool)
    if query.state is not None:
        conditions.append(Number.state == query.state)
    if query.q is not None:
        conditions.append(_matches(query.q))
    conditions += tag_conditions(query.tags)
    return conditions


def tag_conditions(tags: Iterable[TagFilter]) -> list[ColumnElement[bool]]:
    """A number's own tags as ``tags`` ask (all of them): containment and key existence,
    both served by the GIN index on ``tags``."""
    return [
        Number.tags.has_key(tag.key)
        if tag.value is None
        else Number.tags.contains({tag.key: tag.value})
        for tag in tags
    ]


def _matches(q: str) -> ColumnElement[bool]:
    """``q`` as a case-insensitive substring of the friendly name or of the number.

    Plain ``ILIKE '%...%'`` on the bare columns, so the trigram GIN indexes serve it
    (SQLAlchemy's ``icontains`` wraps the column in ``lower()``, which they cannot).
    """
    options = [Number.friendly_name.ilike(_substring(q), escape="\\")]
    digits = q_digits(q)
    if digits is not None:
        options.append(Number.number.like(_substring(digits), escape="\\"))
    return or_(*options)


def _substring(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
