"""Database helpers shared by the fixtures and the migration tests."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
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


def run_alembic(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the real migrations, as an operator would, against ``database_url``."""
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "alembic", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def create_database(postgres_url: str, name: str, *, migrate: bool = False) -> str:
    """A new database (dropped first if a previous run left it), built by the migrations
    when ``migrate``; its ``postgresql://`` URL. ``postgres_url`` names any database of
    the server (tests and benchmarks use ``postgres``)."""
    connection = await asyncpg.connect(postgres_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    url = _with_database(postgres_url, name)
    if migrate:
        await asyncio.to_thread(run_alembic, url, "upgrade", "head")
    return url


async def drop_database(postgres_url: str, name: str) -> None:
    connection = await asyncpg.connect(postgres_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()
