"""Engine and session factory, built from Settings by whoever starts (API, worker, CLI)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.settings import (
    DEFAULT_DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS,
    DEFAULT_DATABASE_STATEMENT_TIMEOUT_SECONDS,
)


def create_engine(
    database_url: str,
    *,
    pool_size: int = 20,
    statement_timeout: float = DEFAULT_DATABASE_STATEMENT_TIMEOUT_SECONDS,
    idle_in_transaction_timeout: float = DEFAULT_DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS,
) -> AsyncEngine:
    """``statement_timeout`` and ``idle_in_transaction_timeout`` (seconds, 0 = none) are
    set on every connection at its start, so every session of the engine runs under them."""
    return create_async_engine(
        database_url,
        # Connections kept open. A connection beyond them is closed when it is returned,
        # so a process that often has more requests in flight than this opens and closes
        # a PostgreSQL backend per request, which costs more than the request itself.
        pool_size=pool_size,
        # A worker runs up to 20 jobs at once, each holding a connection, and its cron
        # jobs (sync, reconciler) need room beside them: 35 at most, as before.
        max_overflow=max(0, 35 - pool_size),
        # No pre-ping: the asyncpg dialect's ping is three round trips (BEGIN, ';',
        # ROLLBACK) on every checkout, a large share of a cached read's work. A
        # connection that died anyway fails its statement, SQLAlchemy recognises the
        # disconnect and invalidates the pool, so the next checkout connects afresh;
        # recycling bounds the age of idle connections that a firewall might cut.
        pool_recycle=1800,
        connect_args={
            "server_settings": {
                # Every timestamp the service writes or compares is UTC.
                "timezone": "UTC",
                "application_name": "seven-numbers",
                "statement_timeout": _milliseconds(statement_timeout),
                "idle_in_transaction_session_timeout": _milliseconds(idle_in_transaction_timeout),
            }
        },
    )


def _milliseconds(seconds: float) -> str:
    return str(round(seconds * 1000))


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: services return rows after committing them.
    return async_sessionmaker(engine, expire_on_commit=False)
