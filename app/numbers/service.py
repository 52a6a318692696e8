"""Reading the mirror: one number, or a filtered page of numbers.

Both reads are single indexed Core queries (no ORM entity loading: the rows go
straight into ``NumberOut``). A page is scoped by :mod:`app.lib.tenancy` in its query;
one number is read whole (its row is cached for every caller of the process, see
app.numbers.cache) and then checked with the same rule, so another tenant's number is
simply not found either way.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import msgspec
from sqlalchemy import ColumnElement, Row, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from app.db.models import Number
from app.lib.auth import Principal
from app.lib.errors import NotFound
from app.lib.pagination import Keyset, PageQuery
from app.lib.tags import TagFilter
from app.lib.tenancy import may_see, scope_numbers
from app.numbers.cache import NumberCache
from app.numbers.schemas import NumberPage, number_out

_COLUMNS = tuple(Number.__table__.c)
_FEATURE_COLUMNS = {
    "sms": Number.feature_sms,
    "a2p_sms": Number.feature_a2p_sms,
    "voice": Number.feature_voice,
}
# What people put between the digits of a number; stripped before matching ``number``.
_NUMBER_SEPARATORS = str.maketrans("", "", " +-./()")
MAX_Q_LENGTH = 200
PAGES = Keyset(Number.number, limit=50, max_limit=500)


@dataclass(frozen=True, slots=True)
class NumberQuery:
    """A validated ``GET /v1/numbers`` request."""

    page: PageQuery
    country: str | None = None
    features: Mapping[str, bool] = field(default_factory=dict)
    """By feature: True, the number must have it; False, must not."""
    tenant: uuid.UUID | None = None
    pool: uuid.UUID | None = None
    state: str | None = None
    q: str | None = None
    tags: tuple[TagFilter, ...] = ()
    """Each must hold: the number has the tag (with the value, when one is given)."""


# Built once: building a select costs more than running it on the primary key.
_BY_NUMBER = select(*_COLUMNS).where(Number.number == bindparam("number"))
_ALL = select(*_COLUMNS)


@asynccontextmanager
async def reading(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection for reads: autocommit, so no BEGIN/ROLLBACK round trips and no
    session bookkeeping (each read is one statement, consistent on its own)."""
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        yield connection


async def number_document(
    engine: AsyncEngine, cache: NumberCache, principal: Principal, number: str
) -> bytes:
    """The mirrored number (digits, already normalized) as its ``NumberOut`` JSON, or
    ``NotFound`` when it is not there or not ``principal``'s to see.

    From ``cache`` when it holds the number, else one primary-key read (kept in the
    cache when no change was announced meanwhile). The row is read whole, whoever
    asks, and the tenancy rule applied to it in memory.
    """
    cached = cache.get(number)
    if cached is not None:
        tenant_id, body = cached.tenant_id, cached.body
    else:
        ticket = cache.ticket()
        async with reading(engine) as connection:
            row = (await connection.execute(_BY_NUMBER, {"number": number})).first()
        if row is None:
            raise number_not_found(number)
        tenant_id, body = row.tenant_id, _document(row)
        cache.put_number(ticket, number, tenant_id, body)
    if not may_see(principal, tenant_id):
        raise number_not_found(number)
    return body


def number_not_found(number: str) -> NotFound:
    return NotFound(f"number {number} is not on the account", code="number_not_found")


def _document(row: Row[Any]) -> bytes:
    return msgspec.json.encode(number_out(row))


async def load_numbers(engine: AsyncEngine, cache: NumberCache) -> int:
    """Read the mirror (as many numbers as ``cache`` holds) into ``cache``; how many.

    Streamed in small batches: encoding one takes ~3 ms, and the process goes on
    answering requests between them while it loads.
    """
    ticket = cache.ticket()
    loaded = 0
    async with engine.connect() as connection:
        result = await connection.stream(_ALL.limit(cache.max_entries))
        async for rows in result.partitions(100):
            for row in rows:
                cache.put_number(ticket, row.number, row.tenant_id, _document(row))
            loaded += len(rows)
    return loaded


async def list_numbers(
    db: AsyncConnection | AsyncSession, principal: Principal, query: NumberQuery
) -> NumberPage:
    """One page in ``number`` order."""
    stmt = scope_numbers(select(*_COLUMNS), principal).where(*_conditions(query))
    rows = (await db.execute(PAGES.select(stmt, query.page))).all()
    return PAGES.page(rows, query.page).map(number_out)


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
    digits = q.translate(_NUMBER_SEPARATORS)
    if digits.isdigit():
        options.append(Number.number.like(_substring(digits), escape="\\"))
    return or_(*options)


def _substring(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
