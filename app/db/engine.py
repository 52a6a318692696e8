"""Engine and session factory, built from Settings by whoever starts (API, worker, CLI)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def create_engine(database_url: str, *, pool_size: int = 20) -> AsyncEngine:
    return create_async_engine(
        database_url,
        # Connections kept open. A connection beyond them is closed when it is returned,
        # so a process that often has more requests in flight than this opens and closes
        # a PostgreSQL backend per request: with 10, 16 concurrent reads per API process
        # opened ~30 connections a second and ran at less than half the rate.
        pool_size=pool_size,
        # A worker runs up to 20 jobs at once, each holding a connection, and its cron
        # jobs (sync, reconciler) need room beside them: 35 at most, as before.
        max_overflow=max(0, 35 - pool_size),
        # No pre-ping: the asyncpg dialect's ping is three round trips (BEGIN, ';',
        # ROLLBACK) on every checkout, about 15 % of a single-number read's CPU. A
        # connection that died anyway fails its statement, SQLAlchemy recognises the
        # disconnect and invalidates the pool, so the next checkout connects afresh;
        # recycling bounds the age of idle connections that a firewall might cut.
        pool_recycle=1800,
        # Every timestamp the service writes or compares is UTC.
        connect_args={"server_settings": {"timezone": "UTC", "application_name": "seven-numbers"}},
    )


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: services return rows after committing them.
    return async_sessionmaker(engine, expire_on_commit=False)
