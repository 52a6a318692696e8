"""An advisory lock never outlives its work in a pooled connection (operations and the sync)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.engine import create_engine
from app.db.locks import release_lock
from app.settings import Settings
from tests.support.db import connected

KEY = 0x5EED


async def _holders(database_url: str) -> int:
    async with connected(database_url) as connection:
        return int(
            await connection.fetchval(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = $1", KEY
            )
        )


async def test_an_unlock_that_fails_discards_the_connection_and_its_lock(
    settings: Settings, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            assert await connection.scalar(select(func.pg_try_advisory_lock(KEY)))
            await connection.commit()

            async def cancelled(*args: Any, **kwargs: Any) -> Any:
                # A worker shutting down cancels the job while it unlocks.
                raise asyncio.CancelledError

            with monkeypatch.context() as patch:
                patch.setattr(AsyncConnection, "scalar", cancelled)
                with pytest.raises(asyncio.CancelledError):
                    await release_lock(connection, KEY)
        # Pooled with the lock, the connection would make the operation look carried out
        # (the reconciler reads the lock) and let any run in this process take it again.
        assert await _holders(database_url) == 0
        async with engine.connect() as connection:
            assert await connection.scalar(select(func.pg_try_advisory_lock(KEY)))
            await release_lock(connection, KEY)
        assert await _holders(database_url) == 0
    finally:
        await engine.dispose()
