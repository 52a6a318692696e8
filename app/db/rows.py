"""One row read by its key or added, with the caller's error when it is missing or one
of its unique values is taken."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import Base

M = TypeVar("M", bound=Base)


async def get_or_raise(
    session: AsyncSession,
    model: type[M],
    key: Any,
    missing: Exception,
    *,
    lock: bool = False,
) -> M:
    """The ``model`` row ``key`` (``FOR UPDATE`` with ``lock``); ``missing`` is raised
    without one."""
    row = await session.get(model, key, with_for_update=lock)
    if row is None:
        raise missing
    return row


async def add_or_raise(session: AsyncSession, row: Base, taken: Exception) -> None:
    """Add ``row`` and flush it; ``taken`` is raised when a unique value is in use."""
    session.add(row)
    try:
        await session.flush()
    except IntegrityError:
        raise taken from None
