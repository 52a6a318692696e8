"""``GET /v1/sync/runs`` and ``GET /v1/sync/runs/{id}``: order, counts, drift, pages, errors."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from app.db.models import SyncDrift
from app.resources import Resources
from app.sync import runs as runs_module
from app.sync.service import run_sync
from tests.support.api import Client
from tests.support.sandbox import SandboxProcess
from tests.support.tenancy import Sessions, create_tenant, key_headers


async def sync(resources: Resources) -> str:
    outcome = await run_sync(resources.engine, resources.seven)
    assert outcome.outcome == "ran"
    return str(outcome.run_id)


async def runs(client: Client, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = await client.get("/v1/sync/runs", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_runs_are_listed_newest_first_with_counts_and_drift(
    client: Client,
    admin_headers: dict[str, str],
    resources: Resources,
    fresh_sandbox: SandboxProcess,
) -> None:
    offered = [n["number"] for n in fresh_sandbox.available()][:3]
    fresh_sandbox.put_active(offered[0])
    fresh_sandbox.put_active(offered[1], friendly_name="Support")
    baseline = await sync(resources)
    fresh_sandbox.put_active(offered[1], friendly_name="Sales")
    fresh_sandbox.remove_active(offered[0])
    fresh_sandbox.put_active(offered[2])
    latest = await sync(resources)

    body = await runs(client, admin_headers)

    assert [r["id"] for r in body["items"]] == [latest, baseline]
    assert body["next_cursor"] is None
    newest, oldest = body["items"]
    assert newest["status"] == "succeeded" and newest["finished_at"] >= newest["started_at"]
    assert newest["counts"] == {
        "fetched": 2,
        "added": 1,
        "changed": 1,
        "removed": 1,
        "unchanged": 0,
        "skipped": 0,
    }
    assert (newest["baseline"], oldest["baseline"]) == (False, True)
    drift = {d["kind"]: d for d in newest["drift"]}
    # offered[0]: left out of the list (missing), then found gone by a read (removed).
    assert set(drift) == {"added", "changed", "missing", "removed"}
    assert newest["drift_total"] == 4
    assert drift["changed"] == {
        "number": offered[1],
        "kind": "changed",
        "before": {"friendly_name": "Support"},
        "after": {"friendly_name": "Sales"},
    }
    assert drift["added"]["number"] == offered[2] and drift["added"]["before"] is None
    assert drift["removed"]["number"] == offered[0] and drift["removed"]["after"] is None
    assert drift["missing"]["number"] == offered[0] and drift["missing"]["after"] is None
    assert oldest["counts"]["added"] == 2 and oldest["drift"] == []


async def test_drift_names_fields_as_a_read_of_the_number_does(
    client: Client,
    admin_headers: dict[str, str],
    resources: Resources,
    fresh_sandbox: SandboxProcess,
    sessions: Sessions,
) -> None:
    """The names a caller reads on the number (dotted for nested ones), not the mirror's
    columns; rows stored under the column names before are shown under the same names."""
    offered = [n["number"] for n in fresh_sandbox.available()][:1]
    await sync(resources)
    fresh_sandbox.put_active(offered[0])
    latest = await sync(resources)
    async with sessions() as session:
        session.add(
            SyncDrift(
                run_id=uuid.UUID(latest),
                number="4915170264838",
                kind="changed",
                before={"fee_basic_charge": "1.00", "feature_sms": False, "state": "active"},
                after={"fee_basic_charge": "2.00", "feature_sms": True, "state": "active"},
            )
        )
        await session.commit()

    items = (await client.get(f"/v1/sync/runs/{latest}", headers=admin_headers)).json()["drift"]
    added, legacy = sorted(items, key=lambda item: item["kind"])
    number = (await client.get(f"/v1/numbers/{offered[0]}", headers=admin_headers)).json()
    expected = {
        "country": number["country"],
        "friendly_name": number["friendly_name"],
        "billing.payment_interval": number["billing"]["payment_interval"],
        "features.sms": number["features"]["sms"],
        "features.a2p_sms": number["features"]["a2p_sms"],
        "features.voice": number["features"]["voice"],
        "forward_sms_mo": number["forward_sms_mo"],
        "state": number["state"],
    }
    assert {k: v for k, v in added["after"].items() if k in expected} == expected
    fees = {f"billing.fees.{name}" for name in ("setup", "basic_charge", "sms_mo", "voice_mo")}
    assert set(added["after"]) == {*expected, *fees, "created", "expires"}
    assert (legacy["before"], legacy["after"]) == (
        {"billing.fees.basic_charge": "1.00", "features.sms": False, "state": "active"},
        {"billing.fees.basic_charge": "2.00", "features.sms": True, "state": "active"},
    )


async def test_runs_and_their_drift_are_paginated(
    client: Client,
    admin_headers: dict[str, str],
    resources: Resources,
    fresh_sandbox: SandboxProcess,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = [await sync(resources) for _ in range(3)]
    offered = [n["number"] for n in fresh_sandbox.available()][:4]
    for number in offered:
        fresh_sandbox.put_active(number)
    with_drift = await sync(resources)
    ids.append(with_drift)

    first = await runs(client, admin_headers, limit=3)
    rest = await runs(client, admin_headers, limit=3, cursor=first["next_cursor"])
    assert [r["id"] for r in first["items"] + rest["items"]] == ids[::-1]
    assert rest["next_cursor"] is None

    # The list caps drift per run; the run's own page has all of it, page by page.
    monkeypatch.setattr(runs_module, "DRIFT_IN_LIST", 2)
    capped = (await runs(client, admin_headers, limit=1))["items"][0]
    assert (len(capped["drift"]), capped["drift_total"]) == (2, 4)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"drift_limit": 3, **({"drift_cursor": cursor} if cursor else {})}
        page = await client.get(f"/v1/sync/runs/{with_drift}", params=params, headers=admin_headers)
        assert page.status_code == 200, page.text
        seen += [d["number"] for d in page.json()["drift"]]
        cursor = page.json()["next_drift_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(offered)


@pytest.mark.parametrize(
    ("path", "params", "code"),
    [
        ("/v1/sync/runs", {"limit": "0"}, "invalid_limit"),
        ("/v1/sync/runs", {"limit": "101"}, "invalid_limit"),
        ("/v1/sync/runs", {"limit": "ten"}, "invalid_limit"),
        ("/v1/sync/runs", {"cursor": "not-a-cursor"}, "invalid_cursor"),
        (
            "/v1/sync/runs/00000000-0000-4000-8000-000000000000",
            {"drift_limit": "0"},
            "invalid_drift_limit",
        ),
        (
            "/v1/sync/runs/00000000-0000-4000-8000-000000000000",
            {"drift_cursor": "x"},
            "invalid_drift_cursor",
        ),
    ],
)
async def test_bad_parameters_answer_422_naming_them(
    client: Client, admin_headers: dict[str, str], path: str, params: dict[str, str], code: str
) -> None:
    response = await client.get(path, params=params, headers=admin_headers)
    assert (response.status_code, response.json()["code"]) == (422, code)


async def test_an_unknown_run_is_404(client: Client, admin_headers: dict[str, str]) -> None:
    unknown = await client.get(
        "/v1/sync/runs/00000000-0000-4000-8000-000000000000", headers=admin_headers
    )
    assert (unknown.status_code, unknown.json()["code"]) == (404, "sync_run_not_found")
    malformed = await client.get("/v1/sync/runs/not-a-uuid", headers=admin_headers)
    assert malformed.status_code in (404, 422) and malformed.status_code != 500


async def test_tenant_keys_cannot_see_or_start_syncs(
    client: Client, admin_headers: dict[str, str]
) -> None:
    _, key = await create_tenant(client, admin_headers, "acme")
    for method, path in (("POST", "/v1/sync"), ("GET", "/v1/sync/runs")):
        response = await client.request(method, path, headers=key_headers(key))
        assert response.status_code == 404, (method, path, response.text)
    assert (await client.post("/v1/sync")).status_code == 401


async def test_the_schema_documents_the_optional_force_body(client: Client) -> None:
    spec = (await client.get("/schema/openapi.json")).json()
    start = spec["paths"]["/v1/sync"]["post"]
    assert start["requestBody"]["required"] is False
    assert "sync_guard_tripped" in start["description"]
    force = spec["components"]["schemas"]["SyncStart"]["properties"]["force"]
    assert (force["type"], force["default"]) == ("boolean", False)
