"""The audit trail: a row per change (and per refusal), by key id, never the key; admin-only."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.settings import Settings
from tests.support import tenancy
from tests.support.api import Client
from tests.support.cli import cli_output
from tests.support.sandbox import SandboxProcess


async def test_changes_and_refusals_are_on_record_with_key_id_tenant_and_request_id(
    client: Client, admin_headers: dict[str, str], sessions: tenancy.Sessions
) -> None:
    (number,) = await tenancy.seed_numbers(sessions, tenancy.german_numbers(1))
    pool = await tenancy.create_pool(client, admin_headers, [number])
    tenant, key = await tenancy.create_tenant(client, admin_headers, "acme")
    key_id = (await client.get("/v1/whoami", headers=tenancy.key_headers(key))).json()["key_id"]

    headers = {**tenancy.key_headers(key), "X-Request-Id": "req-allocate-1"}
    assert (await client.post("/v1/allocations", json={"pool": pool}, headers=headers)).is_success
    refused = await client.post(
        "/v1/allocations", json={"pool": pool}, headers={**headers, "X-Request-Id": "req-2"}
    )
    assert refused.json()["code"] == "pool_exhausted"

    trail = await client.get("/v1/audit", params={"key": key_id}, headers=admin_headers)
    assert trail.status_code == 200
    rows = trail.json()["items"]
    assert [(r["action"], r["outcome"], r["request_id"]) for r in rows] == [
        ("allocation.create", "pool_exhausted", "req-2"),
        ("allocation.create", "ok", "req-allocate-1"),
    ]
    assert rows[1]["target"] == f"number:{number}"
    assert {(r["key"], r["tenant"], r["scope"]) for r in rows} == {(key_id, tenant, "tenant")}
    # The names beside the ids: the tenant's, and the pool's (from the entry's details).
    assert {(r["tenant_name"], r["pool_name"]) for r in rows} == {("acme", "pool")}
    created = await client.get("/v1/audit", params={"action": "pool.create"}, headers=admin_headers)
    [pool_created] = created.json()["items"]
    assert (pool_created["target"], pool_created["pool_name"]) == (f"pool:{pool}", "pool")
    assert pool_created["tenant_name"] is None

    everything = await client.get("/v1/audit", headers=admin_headers)
    actions = [r["action"] for r in everything.json()["items"]]
    assert actions[-4:] == ["key.issue_tenant", "tenant.create", "pool.add_number", "pool.create"]
    assert key not in everything.text  # the key's id, never the key

    by_tenant = await client.get(
        "/v1/audit", params={"tenant": tenant, "action": "key.issue_tenant"}, headers=admin_headers
    )
    assert [r["action"] for r in by_tenant.json()["items"]] == ["key.issue_tenant"]
    paged = await client.get("/v1/audit", params={"limit": 2}, headers=admin_headers)
    rest = await client.get(
        "/v1/audit", params={"cursor": paged.json()["next_cursor"]}, headers=admin_headers
    )
    assert len(paged.json()["items"]) + len(rest.json()["items"]) == len(actions)
    assert rest.json()["next_cursor"] is None
    # Exactly a page: nothing follows, so no cursor either.
    exact = await client.get("/v1/audit", params={"limit": len(actions)}, headers=admin_headers)
    assert [r["action"] for r in exact.json()["items"]] == actions
    assert exact.json()["next_cursor"] is None
    future = await client.get(
        "/v1/audit", params={"since": "2999-01-01T00:00:00Z"}, headers=admin_headers
    )
    assert future.json()["items"] == []
    past = await client.get(
        "/v1/audit", params={"until": "2999-01-01T00:00:00Z", "limit": 1000}, headers=admin_headers
    )
    assert len(past.json()["items"]) == len(actions)
    bad_cursor = await client.get("/v1/audit", params={"cursor": "x"}, headers=admin_headers)
    assert (bad_cursor.status_code, bad_cursor.json()["code"]) == (422, "invalid_cursor")


async def test_a_refused_change_leaves_no_change_and_an_audit_row_saying_so(
    client: Client, admin_headers: dict[str, str], settings: Settings
) -> None:
    await client.post("/v1/tenants", json={"name": "acme"}, headers=admin_headers)
    twice = await client.post("/v1/tenants", json={"name": "acme"}, headers=admin_headers)
    assert twice.status_code == 409
    trail = await client.get("/v1/audit", params={"action": "tenant.create"}, headers=admin_headers)
    assert [r["outcome"] for r in trail.json()["items"]] == ["tenant_name_taken", "ok"]
    assert len((await client.get("/v1/tenants", headers=admin_headers)).json()) == 1


async def test_a_refused_create_names_no_id_of_a_row_that_was_never_made(
    client: Client, admin_headers: dict[str, str]
) -> None:
    tenant, _ = await tenancy.create_tenant(client, admin_headers, "acme")
    pool = await tenancy.create_pool(client, admin_headers, name="support")
    for path, body in (("/v1/tenants", {"name": "acme"}), ("/v1/pools", {"name": "support"})):
        taken = await client.post(path, json=body, headers=admin_headers)
        assert taken.status_code == 409, taken.text
    for action, made, tenant_id in (
        ("tenant.create", f"tenant:{tenant}", tenant),
        ("pool.create", f"pool:{pool}", None),
    ):
        trail = await client.get("/v1/audit", params={"action": action}, headers=admin_headers)
        refused, ok = trail.json()["items"]
        assert (ok["outcome"], ok["target"], ok["tenant"]) == ("ok", made, tenant_id)
        assert refused["outcome"].endswith("_name_taken")
        assert (refused["target"], refused["tenant"]) == (None, None), refused
        assert refused["details"]["name"] in ("acme", "support")


async def test_the_audit_log_is_append_only_and_admin_only(
    client: Client, admin_headers: dict[str, str], sessions: tenancy.Sessions
) -> None:
    _, key = await tenancy.create_tenant(client, admin_headers, "acme")
    assert (await client.get("/v1/audit", headers=tenancy.key_headers(key))).status_code == 404
    for statement in ("UPDATE audit_log SET outcome = 'ok'", "DELETE FROM audit_log"):
        async with sessions() as session:
            with pytest.raises(DBAPIError, match="append-only"):
                await session.execute(text(statement))


async def test_operations_are_audited_in_their_own_transaction(
    client: Client, admin_headers: dict[str, str], fresh_sandbox: SandboxProcess
) -> None:
    """Orders, updates, deletes and syncs are audited by app.audit.capture, whichever
    service creates them; a refused request leaves no ``ok`` row behind."""
    tenant, key = await tenancy.create_tenant(client, admin_headers, "acme")
    key_id = (await client.get("/v1/whoami", headers=tenancy.key_headers(key))).json()["key_id"]
    number = fresh_sandbox.available(country="DE")[0]["number"]
    headers = {**tenancy.key_headers(key), "X-Request-Id": "order-1"}

    accepted = await client.post(
        "/v1/orders", json={"number": number, "payment_interval": "monthly"}, headers=headers
    )
    assert accepted.status_code == 202, accepted.text
    twice = await client.post(
        "/v1/orders", json={"number": number, "payment_interval": "monthly"}, headers=headers
    )
    assert twice.status_code == 409

    trail = await client.get(
        "/v1/audit", params={"action": "operation.order"}, headers=admin_headers
    )
    assert [
        (r["key"], r["tenant"], r["target"], r["request_id"], r["details"]["operation"])
        for r in trail.json()["items"]
    ] == [(key_id, tenant, f"number:{number}", "order-1", accepted.json()["id"])]


async def test_the_bootstrap_key_and_the_cli_are_actors_of_their_own(
    client: Client, admin_headers: dict[str, str], settings: Settings
) -> None:
    bootstrap = await client.post("/v1/tenants", json={"name": "acme"}, headers=admin_headers)
    assert bootstrap.status_code == 201
    stored_key = (await cli_output(settings, "create-admin-key", "--name", "ops")).splitlines()[0]
    by_key = await client.post(
        "/v1/tenants", json={"name": "globex"}, headers=tenancy.key_headers(stored_key)
    )
    assert by_key.status_code == 201
    key_id = (await client.get("/v1/whoami", headers=tenancy.key_headers(stored_key))).json()[
        "key_id"
    ]
    await cli_output(settings, "create-tenant", "initech")
    sync = await cli_output(settings, "sync", "--no-wait")  # an operation, audited like the API's

    trail = (await client.get("/v1/audit", headers=admin_headers)).json()["items"]
    assert [(r["action"], r["actor"], r["key"]) for r in trail] == [
        ("operation.sync", "cli", None),
        ("tenant.create", "cli", None),
        ("tenant.create", "key", key_id),
        ("key.issue_admin", "cli", None),
        ("tenant.create", "bootstrap", None),
    ]
    assert [r["request_id"] for r in trail if r["actor"] == "cli"] == [
        "cli:sync",
        "cli:create-tenant",
        "cli:create-admin-key",
    ]
    assert trail[0]["details"]["operation"] == sync
    only_cli = await client.get("/v1/audit", params={"actor": "cli"}, headers=admin_headers)
    assert [r["action"] for r in only_cli.json()["items"]] == [
        "operation.sync",
        "tenant.create",
        "key.issue_admin",
    ]
    only_bootstrap = await client.get(
        "/v1/audit", params={"actor": "bootstrap"}, headers=admin_headers
    )
    assert [r["actor"] for r in only_bootstrap.json()["items"]] == ["bootstrap"]
