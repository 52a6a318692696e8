"""Litestar dependencies: thin accessors over the process's Resources."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable
from typing import Any

from arq import ArqRedis
from litestar import Request
from litestar.datastructures import State
from litestar.di import Provide
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.writes import wrote
from app.lib.auth import Principal
from app.settings import Settings
from app.seven.client import SevenClient


async def provide_db_session(state: State) -> AsyncIterator[AsyncSession]:
    """The request's session: what the handler wrote commits once when it returns, and
    rolls back when it raises (an error answer), so services only flush.

    A request that wrote answers only once this process's caches have heard of its
    changes, so the caller's next read through this process sees them."""
    async with state.sessions() as session:
        try:
            yield session
        except Exception:
            await session.rollback()
            raise
        await session.commit()
        if wrote(session):
            await state.caches_caught_up()


def provide_principal(request: Request[Principal, Any, Any]) -> Principal:
    return request.user


def provide_settings(state: State) -> Settings:
    return state.settings


def provide_seven(state: State) -> SevenClient:
    return state.seven


def provide_queue(state: State) -> ArqRedis:
    return state.queue


DEPENDENCIES: dict[str, Callable[..., Any]] = {
    "db_session": provide_db_session,
    "principal": provide_principal,
    "settings": provide_settings,
    "seven": provide_seven,
    "queue": provide_queue,
}


def provide_all() -> dict[str, Provide]:
    # The plain accessors only read attributes: no thread is needed to call them.
    return {
        name: Provide(fn, sync_to_thread=False)
        if not inspect.isasyncgenfunction(fn) and not inspect.iscoroutinefunction(fn)
        else Provide(fn)
        for name, fn in DEPENDENCIES.items()
    }
