"""The long-lived things a process needs, opened once and closed once.

The API (lifespan), the worker (startup/shutdown) and the CLI build the same
Resources, so a service gets the same engine, queue and seven client wherever it runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal

from arq import ArqRedis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.db.engine import create_engine, create_session_factory
from app.lib.metrics import observe_upstream_call
from app.lib.queue import create_queue
from app.settings import Settings
from app.seven.client import SevenClient

#: Which process opens them: the worker's statements may run longer (the sync's COPY).
Role = Literal["api", "worker"]


@dataclass(frozen=True, slots=True)
class Resources:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    queue: ArqRedis
    seven: SevenClient

    @classmethod
    @asynccontextmanager
    async def open(cls, settings: Settings, role: Role = "api") -> AsyncIterator[Resources]:
        engine = create_engine(
            settings.database_url,
            statement_timeout=(
                settings.worker_database_statement_timeout_seconds
                if role == "worker"
                else settings.database_statement_timeout_seconds
            ),
            idle_in_transaction_timeout=settings.database_idle_in_transaction_timeout_seconds,
        )
        queue = create_queue(settings.redis_url)
        seven = SevenClient(
            api_key=settings.seven_api_key,
            base_url=settings.seven_base_url,
            signing_secret=settings.seven_signing_secret,
            connect_timeout=settings.seven_connect_timeout,
            read_timeout=settings.seven_read_timeout,
            total_timeout=settings.seven_total_timeout,
            observer=observe_upstream_call,
        )
        try:
            yield cls(
                settings=settings,
                engine=engine,
                sessions=create_session_factory(engine),
                queue=queue,
                seven=seven,
            )
        finally:
            await seven.aclose()
            await queue.aclose()
            await engine.dispose()

    def install(self, state: Any) -> None:
        """Expose each resource on a Litestar ``State`` (or an arq ``ctx`` dict)."""
        for name in self.__slots__:
            state[name] = getattr(self, name)
