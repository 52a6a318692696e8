"""Helpers for the tenancy suites: mirror rows, tenants and keys, straight or over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.engine import create_engine, create_session_factory
from app.db.models import Number
from app.settings import Settings

Client = AsyncTestClient[Litestar]


@asynccontextmanager
async def session_factory(
    settings: Settings, pool_size: int = 5
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(settings.database_url, pool_size=pool_size)
    try:
        yield create_session_factory(engine)
    finally:
        await engine.dispose()


def german_numbers(count: int, start: int = 0) -> list[str]:
    """Distinct, plausible German mobile numbers as digits."""
    return [f"49151{70000000 + start + i:08d}" for i in range(count)]


async def seed_numbers(
    sessions: async_sessionmaker[AsyncSession],
    numbers: Iterable[str],
    *,
    country: str = "DE",
    state: str = "active",
    sms: bool = True,
    voice: bool = False,
    **columns: Any,
) -> list[str]:
    """Mirror rows as a sync would have written them."""
    rows = [
        Number(
            number=number,
            country=country,
            payment_interval="monthly",
            fee_setup=Decimal("0"),
            fee_basic_charge=Decimal("2.50"),
            fee_sms_mo=Decimal("0"),
            fee_voice_mo=Decimal("0"),
            feature_sms=sms,
            feature_a2p_sms=False,
            feature_voice=voice,
            state=state,
            created="2026-11-01 10:00:00",
            **columns,
        )
        for number in numbers
    ]
    async with sessions() as session:
        session.add_all(rows)
        await session.commit()
    return [row.number for row in rows]


async def create_tenant(client: Client, admin: dict[str, str], name: str) -> tuple[str, str]:
    """A tenant and one key for it: ``(tenant_id, plaintext key)``."""
    tenant = await client.post("/v1/tenants", json={"name": name}, headers=admin)
    assert tenant.status_code == 201, tenant.text
    tenant_id = tenant.json()["id"]
    key = await client.post(f"/v1/tenants/{tenant_id}/keys", json={"name": name}, headers=admin)
    assert key.status_code == 201, key.text
    return tenant_id, key.json()["key"]


async def create_pool(client: Client, admin: dict[str, str], **fields: Any) -> str:
    response = await client.post("/v1/pools", json={"name": "pool", **fields}, headers=admin)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def fill_pool(
    client: Client, admin: dict[str, str], pool_id: str, numbers: Iterable[str]
) -> None:
    for number in numbers:
        response = await client.post(
            f"/v1/pools/{pool_id}/numbers", json={"number": number}, headers=admin
        )
        assert response.status_code == 200, response.text


def key_headers(key: str) -> dict[str, str]:
    return {"X-Api-Key": key}
