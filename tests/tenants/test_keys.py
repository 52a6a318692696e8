"""API keys: format, storage as a digest only, shown once, revocation, last use, scopes."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import subprocess
import sys

from sqlalchemy import select, text

from app.db.models import ApiKey
from app.settings import Settings
from tests.support.api import Client
from tests.support.cli import cli_output, run_cli
from tests.support.db import ROOT
from tests.support.tenancy import Sessions, create_tenant, key_headers

# Prefix plus 43 URL-safe characters: 256 bits from ``secrets``.
TENANT_KEY = re.compile(r"^sn_tenant_[A-Za-z0-9_-]{43}$")
ADMIN_KEY = re.compile(r"^sn_admin_[A-Za-z0-9_-]{43}$")


async def test_a_tenant_key_is_shown_once_and_stored_only_as_its_digest(
    client: Client, admin_headers: dict[str, str], sessions: Sessions
) -> None:
    tenant_id, key = await create_tenant(client, admin_headers, "acme")
    assert TENANT_KEY.match(key)

    listed = await client.get("/v1/keys", params={"tenant": tenant_id}, headers=admin_headers)
    assert listed.status_code == 200
    assert len(listed.json()) == 1
    assert key not in listed.text
    assert key.startswith(listed.json()[0]["prefix"])

    async with sessions() as session:
        row = (await session.scalars(select(ApiKey))).one()
        assert row.key_hash == hashlib.sha256(key.encode()).digest()
        # No column of any table holds the plaintext.
        dump = await session.scalar(text("SELECT string_agg(k::text, '') FROM api_keys k"))
        assert key not in (dump or "")

    me = await client.get("/v1/whoami", headers=key_headers(key))
    assert me.json() == {"scope": "tenant", "key_id": str(row.id), "tenant_id": tenant_id}


async def test_a_revoked_key_answers_401_on_its_next_request(
    client: Client, admin_headers: dict[str, str]
) -> None:
    _, key = await create_tenant(client, admin_headers, "acme")
    me = await client.get("/v1/whoami", headers=key_headers(key))
    assert me.status_code == 200

    revoked = await client.delete(f"/v1/keys/{me.json()['key_id']}", headers=admin_headers)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None

    after = await client.get("/v1/whoami", headers=key_headers(key))
    assert after.status_code == 401
    assert after.json()["code"] == "unauthorized"
    assert key not in after.text
    # Revoking again changes nothing; an unknown key id is a 404.
    again = await client.delete(f"/v1/keys/{me.json()['key_id']}", headers=admin_headers)
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]
    unknown = await client.delete(
        "/v1/keys/00000000-0000-4000-8000-000000000000", headers=admin_headers
    )
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "key_not_found"


async def test_last_used_is_recorded_without_a_write_per_request(
    client: Client, admin_headers: dict[str, str], sessions: Sessions
) -> None:
    _, key = await create_tenant(client, admin_headers, "acme")

    async def last_used() -> object:
        async with sessions() as session:
            return await session.scalar(select(ApiKey.last_used_at))

    assert await last_used() is None
    await client.get("/v1/whoami", headers=key_headers(key))
    first = await last_used()
    assert first is not None
    for _ in range(3):
        assert (await client.get("/v1/whoami", headers=key_headers(key))).status_code == 200
    assert await last_used() == first


async def test_admin_keys_issued_by_an_admin_work_and_tenant_keys_cannot_reach_admin_routes(
    client: Client, admin_headers: dict[str, str]
) -> None:
    issued = await client.post("/v1/keys", json={"name": "ops person"}, headers=admin_headers)
    assert issued.status_code == 201
    admin_key = issued.json()["key"]
    assert ADMIN_KEY.match(admin_key)
    assert issued.json()["scope"] == "admin"
    assert (await client.get("/v1/tenants", headers=key_headers(admin_key))).status_code == 200

    _, tenant_key = await create_tenant(client, key_headers(admin_key), "acme")
    for method, path in [
        ("GET", "/v1/tenants"),
        ("POST", "/v1/tenants"),
        ("GET", "/v1/keys"),
        ("POST", "/v1/keys"),
        ("GET", "/v1/pools"),
        ("GET", "/v1/audit"),
    ]:
        response = await client.request(
            method, path, json={"name": "x"}, headers=key_headers(tenant_key)
        )
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["code"] == "not_found"


async def test_bad_input_is_a_422_with_a_code(
    client: Client, admin_headers: dict[str, str]
) -> None:
    empty = await client.post("/v1/tenants", json={"name": "  "}, headers=admin_headers)
    assert (empty.status_code, empty.json()["code"]) == (422, "invalid_name")
    await client.post("/v1/tenants", json={"name": "acme"}, headers=admin_headers)
    taken = await client.post("/v1/tenants", json={"name": "acme"}, headers=admin_headers)
    assert (taken.status_code, taken.json()["code"]) == (409, "tenant_name_taken")
    unknown = await client.post(
        "/v1/tenants/00000000-0000-4000-8000-000000000000/keys", json={}, headers=admin_headers
    )
    assert (unknown.status_code, unknown.json()["code"]) == (404, "tenant_not_found")
    extra = await client.post(
        "/v1/tenants", json={"name": "x", "admin": True}, headers=admin_headers
    )
    assert extra.status_code in (400, 422)
    for query, code in [("tenant=acme", "invalid_tenant"), ("revoked=maybe", "invalid_revoked")]:
        listed = await client.get(f"/v1/keys?{query}", headers=admin_headers)
        assert (listed.status_code, listed.json()["code"]) == (422, code), query


def _cli_process(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m app.cli ...`` exactly as an operator runs it."""
    env = {**os.environ, "DATABASE_URL": settings.database_url}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_the_cli_creates_admin_keys_tenants_and_keys_and_revokes_them(
    client: Client, settings: Settings
) -> None:
    made = await asyncio.to_thread(_cli_process, settings, "create-admin-key", "--name", "alice")
    assert made.returncode == 0, made.stderr
    admin_key = made.stdout.strip()
    assert ADMIN_KEY.match(admin_key)
    assert admin_key not in made.stderr
    me = await client.get("/v1/whoami", headers=key_headers(admin_key))
    assert me.json()["scope"] == "admin"

    tenant = await cli_output(settings, "create-tenant", "acme")
    tenant_key = await cli_output(settings, "issue-key", tenant, "--name", "ci")
    assert TENANT_KEY.match(tenant_key)
    who = (await client.get("/v1/whoami", headers=key_headers(tenant_key))).json()
    assert who["tenant_id"] == tenant

    revoked = await run_cli(settings, "revoke-key", who["key_id"])
    assert revoked.exit_code == 0, revoked.output
    assert (await client.get("/v1/whoami", headers=key_headers(tenant_key))).status_code == 401

    refused = await run_cli(settings, "create-tenant", "acme")
    assert refused.exit_code == 1
    assert "tenant_name_taken" in refused.output


async def test_a_key_needs_no_body_its_name_is_optional(
    client: Client, admin_headers: dict[str, str]
) -> None:
    # The contract's POST /v1/tenants/{id}/keys names no body: a bare POST issues a key.
    tenant = await client.post("/v1/tenants", json={"name": "acme"}, headers=admin_headers)
    for path in (f"/v1/tenants/{tenant.json()['id']}/keys", "/v1/keys"):
        issued = await client.post(path, headers=admin_headers)
        assert issued.status_code == 201, issued.text
        assert (TENANT_KEY if "tenants" in path else ADMIN_KEY).match(issued.json()["key"])
