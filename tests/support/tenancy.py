"""Mirror rows, tenants, keys and pools, made one way by every suite.

Mirror rows go straight into the database, as the sync writes them (``seed_numbers``);
tenants, their keys and pools go through the API, as an operator makes them.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.engine import create_engine, create_session_factory
from app.db.models import Number, Operation
from app.numbers.mirror import parse_seven_time
from app.settings import Settings

Sessions = async_sessionmaker[AsyncSession]

# Made per test process, never written down: the worker and API subprocesses read it from
# their environment, where ADMIN_API_KEY refuses any key the repository holds.
ADMIN_KEY = "sn_admin_" + secrets.token_urlsafe(32)


@asynccontextmanager
async def session_factory(settings: Settings, pool_size: int = 5) -> AsyncIterator[Sessions]:
    engine = create_engine(settings.database_url, pool_size=pool_size)
    try:
        yield create_session_factory(engine)
    finally:
        await engine.dispose()


def german_numbers(count: int, start: int = 0) -> list[str]:
    """Distinct, plausible German mobile numbers as digits."""
    return [f"49151{70000000 + start + i:08d}" for i in range(count)]


# A mirror row as the sync writes it for a monthly German SMS number on the account.
MIRROR_ROW: dict[str, Any] = {
    "country": "DE",
    "payment_interval": "monthly",
    "fee_setup": Decimal("0"),
    "fee_basic_charge": Decimal("2.50"),
    "fee_sms_mo": Decimal("0"),
    "fee_voice_mo": Decimal("0"),
    "feature_sms": True,
    "feature_a2p_sms": False,
    "feature_voice": False,
    "state": "active",
    "created": "2026-11-01 10:00:00",
}


async def seed_numbers(sessions: Sessions, numbers: Iterable[str], **columns: Any) -> list[str]:
    """Mirror rows for ``numbers``: ``MIRROR_ROW`` with ``columns`` (model attributes) over it.

    seven's ``created``/``expires`` come with their instants, parsed as the sync parses
    them, unless ``columns`` gives the instants too."""
    values = {**MIRROR_ROW, **columns}
    values.setdefault("seven_created_at", parse_seven_time(values.get("created")))
    values.setdefault("seven_expires_at", parse_seven_time(values.get("expires")))
    rows = [Number(**{**values, "number": number}) for number in numbers]
    async with sessions() as session:
        session.add_all(rows)
        await session.commit()
    return [row.number for row in rows]


async def create_tenant(
    client: httpx.AsyncClient, admin: dict[str, str], name: str
) -> tuple[str, str]:
    """A tenant and one key for it: ``(tenant_id, plaintext key)``."""
    tenant = await client.post("/v1/tenants", json={"name": name}, headers=admin)
    assert tenant.status_code == 201, tenant.text
    tenant_id = tenant.json()["id"]
    return tenant_id, await issue_tenant_key(client, admin, tenant_id, name)


async def issue_tenant_key(
    client: httpx.AsyncClient, admin: dict[str, str], tenant_id: str, name: str = "test"
) -> str:
    """A new key of the tenant ``tenant_id``, in plain text."""
    key = await client.post(f"/v1/tenants/{tenant_id}/keys", json={"name": name}, headers=admin)
    assert key.status_code == 201, key.text
    return str(key.json()["key"])


async def create_pool(
    client: httpx.AsyncClient, admin: dict[str, str], numbers: Iterable[str] = (), **fields: Any
) -> str:
    """A pool (``fields`` over a default name) holding ``numbers``; its id."""
    response = await client.post("/v1/pools", json={"name": "pool", **fields}, headers=admin)
    assert response.status_code == 201, response.text
    pool_id = str(response.json()["id"])
    await fill_pool(client, admin, pool_id, numbers)
    return pool_id


async def fill_pool(
    client: httpx.AsyncClient, admin: dict[str, str], pool_id: str, numbers: Iterable[str]
) -> None:
    for number in numbers:
        response = await client.post(
            f"/v1/pools/{pool_id}/numbers", json={"number": number}, headers=admin
        )
        assert response.status_code == 200, response.text


async def seed_operation(sessions: Sessions, number: str, **columns: Any) -> uuid.UUID:
    """An operation row on ``number``: a finished update unless ``columns`` say otherwise."""
    values = {"id": uuid.uuid4(), "kind": "update", "status": "succeeded", "params": {}}
    operation = Operation(**{**values, **columns, "number": number})
    async with sessions() as session:
        session.add(operation)
        await session.commit()
    return operation.id


@dataclass(frozen=True)
class Holder:
    """A tenant holding the one number of a pool, allocated to it through the API."""

    tenant: str
    key: str
    key_id: str
    pool: str
    number: str

    @property
    def headers(self) -> dict[str, str]:
        return key_headers(self.key)


async def tenant_holding_a_number(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    sessions: Sessions,
    number_columns: dict[str, Any] | None = None,
    **pool_fields: Any,
) -> Holder:
    """Tenant "acme" holding a mirror row (``number_columns`` over ``MIRROR_ROW``) that it
    was allocated from a new pool (``pool_fields``)."""
    (number,) = await seed_numbers(sessions, german_numbers(1), **(number_columns or {}))
    pool = await create_pool(client, admin, [number], **pool_fields)
    tenant, key = await create_tenant(client, admin, "acme")
    held = await client.post("/v1/allocations", json={"pool": pool}, headers=key_headers(key))
    assert (held.status_code, held.json()["number"]) == (201, number), held.text
    key_id = (await client.get("/v1/whoami", headers=key_headers(key))).json()["key_id"]
    return Holder(tenant, key, key_id, pool, number)


def key_headers(key: str) -> dict[str, str]:
    return {"X-Api-Key": key}
