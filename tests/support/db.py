"""Database helpers shared by the fixtures and the migration tests."""

from __future__ import annotations

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


async def create_database(servers: Servers, name: str) -> str:
    """A new, empty database (dropped first if a previous run left it); its URL."""
    connection = await asyncpg.connect(servers.postgres_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return _with_database(servers.postgres_url, name)


async def drop_database(servers: Servers, name: str) -> None:
    connection = await asyncpg.connect(servers.postgres_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()
