"""Database helpers shared by the fixtures and the migration tests."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Servers:
    postgres_url: str
    """A ``postgresql://`` URL of a maintenance database (for CREATE DATABASE)."""
    redis_url: str


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


async def alembic(database_url: str, *args: str) -> None:
    """Run the real migrations, as an operator would, against ``database_url``."""
    env = {**os.environ, "DATABASE_URL": database_url}
    await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "alembic", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )


@asynccontextmanager
async def connected(url: str) -> AsyncIterator[asyncpg.Connection]:
    """A plain asyncpg connection to ``url`` (``postgresql://``), closed after."""
    connection = await asyncpg.connect(url)
    try:
        yield connection
    finally:
        await connection.close()


async def create_database(postgres_url: str, name: str, *, migrate: bool = False) -> str:
    """A new database (dropped first if a previous run left it), built by the migrations
    when ``migrate``; its ``postgresql://`` URL. ``postgres_url`` names any database of
    the server (tests and benchmarks use ``postgres``)."""
    async with connected(postgres_url) as connection:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    url = _with_database(postgres_url, name)
    if migrate:
        await alembic(url, "upgrade", "head")
    return url


async def drop_database(postgres_url: str, name: str) -> None:
    async with connected(postgres_url) as connection:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
