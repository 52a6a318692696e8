"""The migrations build the schema the models describe, and take it down again."""

from __future__ import annotations

import asyncio
import os

import asyncpg
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from app.db import models  # noqa: F401  (registers the tables)
from app.db.base import Base
from tests.support.db import Servers, create_database, drop_database, run_alembic


async def _tables(url: str) -> set[str]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    finally:
        await connection.close()
    return {row["tablename"] for row in rows}


async def _differences(url: str) -> list[object]:
    engine = create_async_engine(url.replace("postgresql://", "postgresql+asyncpg://", 1))
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata
                )
            )
    finally:
        await engine.dispose()


async def test_upgrade_downgrade_and_agreement_with_the_models(servers: Servers) -> None:
    name = f"sn_test_migrations_{os.getpid()}"
    url = await create_database(servers.postgres_url, name)

    await asyncio.to_thread(run_alembic, url, "upgrade", "head")
    assert set(Base.metadata.tables) <= await _tables(url)
    assert await _differences(url) == []

    await asyncio.to_thread(run_alembic, url, "downgrade", "base")
    assert await _tables(url) == {"alembic_version"}

    await asyncio.to_thread(run_alembic, url, "upgrade", "head")
    assert await _differences(url) == []
    await drop_database(servers.postgres_url, name)
