"""Shared fixtures: real PostgreSQL and Redis, the schema built by the real migrations.

Servers: ``TEST_DATABASE_URL``/``TEST_REDIS_URL`` when set, else the local servers on
127.0.0.1:5432 and :6379 when they answer, else embedded ones (dev.embedded) with
their data under ``.data/test-*``. Each pytest process (xdist worker) gets its own
database, migrated once with ``alembic upgrade head``, and its own Redis database
index; every test that asks for them starts from empty tables and an empty Redis.
"""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import redis.asyncio as redis
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.asgi import create_app
from app.resources import Resources
from app.settings import Settings
from tests.support.db import ROOT, Servers, connected, create_database, drop_database
from tests.support.sandbox import SIGNING_SECRET, SandboxProcess
from tests.support.tenancy import ADMIN_KEY, Sessions, session_factory


def _port_open(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 1
        ):
            return True
    except OSError:
        return False


# Redis database indexes handed to test processes; 0 holds the claims themselves.
_REDIS_DB_INDEXES = range(1, 16)


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    started = []
    postgres_url = os.environ.get(
        "TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    redis_url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    if not _port_open(postgres_url, 5432):
        from dev.embedded import start_postgres

        service = start_postgres(ROOT / ".data" / "test-postgres")
        started.append(service)
        postgres_url = service.url
    if not _port_open(redis_url, 6379):
        from dev.embedded import start_redis

        service = start_redis(ROOT / ".data" / "test-redis")
        started.append(service)
        redis_url = service.url
    yield Servers(postgres_url=postgres_url, redis_url=redis_url)
    for service in started:
        service.stop()


@pytest.fixture(scope="session")
async def migrated_database(servers: Servers) -> AsyncIterator[str]:
    """This process's own test database, built by ``alembic upgrade head``, dropped after.

    Named by process id, so test runs side by side (xdist workers, two checkouts) never
    share one.
    """
    name = f"sn_test_{os.getpid()}"
    url = await create_database(servers.postgres_url, name, migrate=True)
    yield url
    await drop_database(servers.postgres_url, name)


@pytest.fixture
async def database_url(migrated_database: str) -> str:
    """The migrated database with every table emptied: each test starts clean."""
    async with connected(migrated_database) as connection:
        tables = await connection.fetch(
            "SELECT tablename FROM pg_tables"
            " WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        )
        names = ", ".join(f'"{row["tablename"]}"' for row in tables)
        await connection.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    return migrated_database


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A plain asyncpg connection to the test's database, for SQL as psql would send it."""
    async with connected(database_url) as connection:
        yield connection


@pytest.fixture
async def redis_url(redis_db_index: str) -> AsyncIterator[str]:
    """This process's own Redis database, flushed before each test."""
    client = redis.from_url(redis_db_index)
    await client.flushdb()
    await client.aclose()
    yield redis_db_index


@pytest.fixture(scope="session")
async def redis_db_index(servers: Servers) -> AsyncIterator[str]:
    """Claim a Redis database index no other test process uses; its URL.

    Claims are keys in database 0 that expire, so a crashed run frees its index.
    """
    claims = redis.from_url(servers.redis_url)
    claim = None
    for index in _REDIS_DB_INDEXES:
        if await claims.set(f"sn_test_claim:{index}", os.getpid(), nx=True, ex=3600):
            claim = index
            break
    if claim is None:
        await claims.aclose()
        pytest.fail("every Redis test database is claimed by another test run")
    yield urlunsplit(urlsplit(servers.redis_url)._replace(path=f"/{claim}"))
    await claims.delete(f"sn_test_claim:{claim}")
    await claims.aclose()


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxProcess]:
    process = SandboxProcess.start()
    yield process
    process.stop()


@pytest.fixture
def fresh_sandbox(sandbox: SandboxProcess) -> SandboxProcess:
    """The sandbox with its inventory reset and no faults switched on."""
    sandbox.reset()
    sandbox.clear_faults()
    return sandbox


@pytest.fixture(scope="session")
def _signature_checking_process() -> Iterator[SandboxProcess]:
    process = SandboxProcess.start(signing_secret=SIGNING_SECRET)
    yield process
    process.stop()


@pytest.fixture
def signature_checking_sandbox(_signature_checking_process: SandboxProcess) -> SandboxProcess:
    """A second sandbox, one that demands seven's request signature; reset for each test."""
    _signature_checking_process.reset()
    return _signature_checking_process


@pytest.fixture
def settings(database_url: str, redis_url: str, fresh_sandbox: SandboxProcess) -> Settings:
    return Settings(
        database_url=database_url.replace("postgresql://", "postgresql+asyncpg://", 1),
        redis_url=redis_url,
        seven_api_key=fresh_sandbox.api_key,
        seven_base_url=fresh_sandbox.base_url,
        admin_api_key=ADMIN_KEY,
        seven_connect_timeout=2.0,
        seven_read_timeout=5.0,
        seven_total_timeout=8.0,
        # The sandbox carries out a write before it answers (unless a test scripts
        # otherwise), so waiting out seven's processing time can be short here.
        seven_settle_seconds=1.0,
        # Test workers run side by side; none of them needs its own metrics port.
        worker_metrics_port=0,
        # No cron sync during a test: it would mark numbers seeded straight into the
        # mirror (not at the sandbox) as deleted. Sync tests start syncs themselves.
        sync_interval_seconds=86400,
    )


@pytest.fixture
async def sessions(settings: Settings) -> AsyncIterator[Sessions]:
    """Sessions on the test's database, for writing rows as the service's code does."""
    async with session_factory(settings) as factory:
        yield factory


@pytest.fixture
async def resources(settings: Settings) -> AsyncIterator[Resources]:
    """The engine, queue and seven client, opened as the API and the worker open them."""
    async with Resources.open(settings) as opened:
        yield opened


@pytest.fixture
def app(settings: Settings) -> Litestar:
    return create_app(settings)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return {"X-Api-Key": ADMIN_KEY}
