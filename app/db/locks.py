"""Session-level advisory locks: "one process does this at a time", kept by PostgreSQL.

A session lock survives commits and dies with its connection, so a killed process frees
it at once. The flip side: a connection returned to the pool still holding one keeps it
for as long as the connection lives (and the lock is re-entrant for that session), so a
lock whose release fails takes its connection with it.
"""

from __future__ import annotations

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

log = structlog.get_logger(__name__)


async def try_lock(connection: AsyncConnection, key: int) -> bool:
    """Take the lock if it is free (never waits); committed, so only the lock remains."""
    locked = bool(await connection.scalar(select(func.pg_try_advisory_lock(key))))
    await connection.commit()
    return locked


async def release_lock(connection: AsyncConnection, key: int) -> None:
    """Release the lock, or discard the connection that may still hold it.

    The work the lock guarded is recorded either way, so a failed release is logged, not
    raised; a cancellation (a worker shutting down) still propagates.
    """
    try:
        released = bool(await connection.scalar(select(func.pg_advisory_unlock(key))))
        await connection.commit()
    except Exception:
        log.warning("advisory_unlock_failed", key=key, exc_info=True)
        await connection.invalidate()
        return
    except BaseException:
        await connection.invalidate()
        raise
    if not released:
        # This session did not hold the lock it took: it is not the session we think.
        log.warning("advisory_unlock_failed", key=key, reason="pg_advisory_unlock returned false")
        await connection.invalidate()
