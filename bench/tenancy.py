"""Tenancy benchmark: allocation under contention, and what the key check costs.

    .venv/bin/python bench/tenancy.py

1. Scratch database ``bench_tenancy`` (migrated with ``alembic upgrade head``), a pool of
   ``COUNT`` free numbers and five tenants.
2. Allocations through ``app.pools.service.allocate`` (each in its own session and
   transaction, as the API runs them): one at a time; ``CONCURRENCY`` at once with
   ``FOR UPDATE SKIP LOCKED`` (the service as written); the same crowd with the lock
   waiting instead of skipping (``skip_locked`` switched off for the run), to show what
   skipping buys. Each run prints allocations/s and checks every number went out once.
3. ``GET /v1/whoami`` in-process (Litestar's test client, no network): with the
   bootstrap ``ADMIN_API_KEY`` (no database) and with a stored tenant key (one indexed
   read per request, ``last_used_at`` written at most once a minute), as requests/s and
   the ratio of the two.

Environment: ``BENCH_POSTGRES_URL`` (maintenance database, default
``postgresql://postgres@127.0.0.1:5432/postgres``), ``BENCH_REDIS_URL`` (default
``redis://127.0.0.1:6379/15``).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

from litestar.testing import AsyncTestClient
from sqlalchemy import delete, update
from sqlalchemy.sql import Select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.asgi import create_app  # noqa: E402
from app.db.engine import create_engine, create_session_factory  # noqa: E402
from app.db.models import Allocation, Number, Pool, Tenant  # noqa: E402
from app.lib.auth import BOOTSTRAP_ADMIN, Actor  # noqa: E402
from app.lib.errors import Conflict  # noqa: E402
from app.pools import service  # noqa: E402
from app.settings import Settings  # noqa: E402
from bench.common import ADMIN_KEY, POSTGRES_URL, redis_url  # noqa: E402
from tests.support.db import create_database, drop_database  # noqa: E402

COUNT = 600
CONCURRENCY = 20
REQUESTS = 1000
DATABASE = "bench_tenancy"
REDIS_URL = redis_url(15)
ADMIN = Actor(BOOTSTRAP_ADMIN, request_id="bench")


async def _scratch_database() -> str:
    url = await create_database(POSTGRES_URL, DATABASE, migrate=True)
    return url.replace("postgresql://", "postgresql+asyncpg://", 1)


async def _drop_database() -> None:
    await drop_database(POSTGRES_URL, DATABASE)


@contextmanager
def _waiting_locks() -> Iterator[None]:
    """``FOR UPDATE`` without ``SKIP LOCKED`` for the duration (the comparison run)."""
    original = Select.with_for_update

    def waiting(self: Select, **kwargs: object) -> Select:
        kwargs.pop("skip_locked", None)
        return original(self, **kwargs)  # type: ignore[arg-type]

    Select.with_for_update = waiting  # type: ignore[assignment,method-assign]
    try:
        yield
    finally:
        Select.with_for_update = original  # type: ignore[method-assign]


async def _allocations(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=CONCURRENCY)
    sessions = create_session_factory(engine)
    async with sessions() as session:
        tenants = [Tenant(id=uuid.uuid4(), name=f"tenant {i}") for i in range(5)]
        pool = Pool(id=uuid.uuid4(), name="bench")
        session.add_all([*tenants, pool])
        await session.flush()
        session.add_all(
            Number(
                number=f"49151{70000000 + i:08d}",
                country="DE",
                payment_interval="monthly",
                fee_basic_charge=Decimal("2.50"),
                feature_sms=True,
                state="active",
                pool_id=pool.id,
            )
            for i in range(COUNT)
        )
        await session.commit()

    async def one(i: int) -> str | None:
        async with sessions() as session:
            try:
                number = await service.allocate(session, ADMIN, pool.id, tenants[i % 5].id)
            except Conflict:
                return None
            await session.commit()  # as a request's handler does when it returns
            return number.number

    async def run(label: str, concurrency: int) -> float:
        async with sessions() as session:  # every number free again
            await session.execute(delete(Allocation))
            await session.execute(update(Number).values(tenant_id=None))
            await session.commit()
        gate = asyncio.Semaphore(concurrency)

        async def gated(i: int) -> str | None:
            async with gate:
                return await one(i)

        started = time.perf_counter()
        got = await asyncio.gather(*(gated(i) for i in range(COUNT)))
        elapsed = time.perf_counter() - started
        handed = [n for n in got if n is not None]
        assert len(handed) == len(set(handed)) == COUNT, (label, len(handed), len(set(handed)))
        rate = COUNT / elapsed
        print(f"  {label:<44} {rate:8.0f} allocations/s  ({elapsed:.2f} s for {COUNT})")
        return rate

    print(f"allocations: {COUNT} free numbers, each allocated once, own transaction each")
    sequential = await run("one at a time", 1)
    skipping = await run(f"{CONCURRENCY} at once, FOR UPDATE SKIP LOCKED", CONCURRENCY)
    with _waiting_locks():
        waiting = await run(f"{CONCURRENCY} at once, FOR UPDATE (waiting)", CONCURRENCY)
    print(
        f"  ratio SKIP LOCKED / waiting: {skipping / waiting:.2f}x;"
        f" SKIP LOCKED / one at a time: {skipping / sequential:.2f}x"
    )
    await engine.dispose()


async def _key_check(database_url: str) -> None:
    settings = Settings(
        database_url=database_url,
        redis_url=REDIS_URL,
        seven_api_key="bench",
        seven_base_url="http://127.0.0.1:9/api",
        admin_api_key=ADMIN_KEY,
        log_level="WARNING",
    )
    app = create_app(settings)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    async with AsyncTestClient(app=app) as client:
        admin = {"X-Api-Key": ADMIN_KEY}
        tenant = (await client.post("/v1/tenants", json={"name": "keys"}, headers=admin)).json()
        issued = await client.post(f"/v1/tenants/{tenant['id']}/keys", json={}, headers=admin)
        stored = {"X-Api-Key": issued.json()["key"]}

        async def rate(headers: dict[str, str]) -> float:
            for _ in range(50):  # warm-up
                await client.get("/v1/whoami", headers=headers)
            started = time.perf_counter()
            for _ in range(REQUESTS):
                response = await client.get("/v1/whoami", headers=headers)
                assert response.status_code == 200
            return REQUESTS / (time.perf_counter() - started)

        bootstrap, db_key = await rate(admin), await rate(stored)
    print(f"key check: GET /v1/whoami, {REQUESTS} sequential requests in-process")
    print(f"  bootstrap ADMIN_API_KEY (no database)        {bootstrap:8.0f} requests/s")
    print(f"  stored tenant key (SHA-256 + indexed read)   {db_key:8.0f} requests/s")
    print(f"  ratio stored / bootstrap: {db_key / bootstrap:.2f}")


async def main() -> None:
    database_url = await _scratch_database()
    try:
        await _allocations(database_url)
        await _key_check(database_url)
    finally:
        await _drop_database()


if __name__ == "__main__":
    asyncio.run(main())
