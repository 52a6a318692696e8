"""Reading the mirror: one number, or a filtered page of numbers.

Both reads are single indexed Core queries (no ORM entity loading: the rows go
straight into ``NumberOut``), scoped by :mod:`app.lib.tenancy`, so another tenant's
number is simply not found.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import ColumnElement, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from app.db.models import Number
from app.lib.auth import Principal
from app.lib.errors import NotFound
from app.lib.tenancy import scope_numbers
from app.numbers.params import NumberQuery, encode_cursor
from app.numbers.schemas import NumberOut, NumberPage, number_out

_COLUMNS = tuple(Number.__table__.c)
_FEATURE_COLUMNS = {
    "sms": Number.feature_sms,
    "a2p_sms": Number.feature_a2p_sms,
    "voice": Number.feature_voice,
}
# What people put between the digits of a number; stripped before matching ``number``.
_NUMBER_SEPARATORS = str.maketrans("", "", " +-./()")


# Built once: building a select costs more than running it on the primary key.
_BY_NUMBER = select(*_COLUMNS).where(Number.number == bindparam("number"))


@asynccontextmanager
async def reading(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection for reads: autocommit, so no BEGIN/ROLLBACK round trips and no
    session bookkeeping (each read is one statement, consistent on its own)."""
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        yield connection


async def get_number(
    db: AsyncConnection | AsyncSession, principal: Principal, number: str
) -> NumberOut:
    """The mirrored number (digits, already normalized) or ``NotFound``."""
    row = (await db.execute(scope_numbers(_BY_NUMBER, principal), {"number": number})).first()
    if row is None:
        raise NotFound(f"number {number} is not on the account", code="number_not_found")
    return number_out(row)


async def list_numbers(
    db: AsyncConnection | AsyncSession, principal: Principal, query: NumberQuery
) -> NumberPage:
    """One page in ``number`` order (keyset pagination: stable while rows are inserted)."""
    stmt = scope_numbers(select(*_COLUMNS), principal).where(*_conditions(query))
    if query.after is not None:
        stmt = stmt.where(Number.number > query.after)
    # One row more than asked tells whether another page follows.
    stmt = stmt.order_by(Number.number).limit(query.limit + 1)
    rows = (await db.execute(stmt)).all()
    items = [number_out(row) for row in rows[: query.limit]]
    more = len(rows) > query.limit
    return NumberPage(items=items, next_cursor=encode_cursor(items[-1].number) if more else None)


def _conditions(query: NumberQuery) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if query.country is not None:
        conditions.append(Number.country == query.country)
    # A number must have every requested feature.
    conditions.extend(_FEATURE_COLUMNS[name].is_(True) for name in query.features)
    if query.tenant is not None:
        conditions.append(Number.tenant_id == query.tenant)
    if query.pool is not None:
        conditions.append(Number.pool_id == query.pool)
    if query.state is not None:
        conditions.append(Number.state == query.state)
    if query.q is not None:
        conditions.append(_matches(query.q))
    return conditions


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
