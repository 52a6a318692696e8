"""Pools: admins create them and move account numbers in and out, with 422s that say why."""

from __future__ import annotations

import uuid

import httpx

from tests.support import tenancy
from tests.support.api import Client


async def test_create_and_list_pools(client: Client, admin_headers: dict[str, str]) -> None:
    created = await client.post(
        "/v1/pools",
        json={"name": "support", "country": "de", "features": ["sms"], "cooldown_days": 3},
        headers=admin_headers,
    )
    assert created.status_code == 201, created.text
    assert created.json() | {"id": None, "created_at": None} == {
        "id": None,
        "name": "support",
        "country": "DE",
        "features": ["sms"],
        "cooldown_days": 3,
        "created_at": None,
        "numbers": 0,
        "allocated": 0,
        "free": 0,
        "cooling": 0,
        "clearing": 0,
        "clearing_failed": 0,
        "uncleared": 0,
    }
    listed = await client.get("/v1/pools", headers=admin_headers)
    assert [pool["name"] for pool in listed.json()] == ["support"]

    taken = await client.post("/v1/pools", json={"name": "support"}, headers=admin_headers)
    assert (taken.status_code, taken.json()["code"]) == (409, "pool_name_taken")
    for bad, code in [
        ({"name": "x", "country": "Germany"}, "invalid_country"),
        ({"name": "x", "features": ["fax"]}, "validation_error"),
        ({"name": "x", "cooldown_days": -1}, "validation_error"),
        ({"name": ""}, "invalid_name"),
    ]:
        refused = await client.post("/v1/pools", json=bad, headers=admin_headers)
        assert (refused.status_code, refused.json()["code"]) == (422, code), bad

    # Two letters, but no country has telephone numbers under them: refused in the words
    # every country parameter uses.
    nowhere = await client.post(
        "/v1/pools", json={"name": "x", "country": "XX"}, headers=admin_headers
    )
    assert nowhere.json() == {
        "status": 422,
        "code": "invalid_country",
        "message": "invalid country 'XX': expected an ISO 3166-1 alpha-2 country code such as DE",
        "details": {
            "parameter": "country",
            "location": "body",
            "expected": "an ISO 3166-1 alpha-2 country code such as DE",
        },
    }
    for path in ("/v1/numbers", "/v1/available-numbers"):
        query = await client.get(path, params={"country": "XX"}, headers=admin_headers)
        # The same answer, but for where the country was.
        in_body = nowhere.json() | {"details": nowhere.json()["details"] | {"location": "query"}}
        assert (query.status_code, query.json()) == (422, in_body), path
    assert (await client.get("/v1/pools", headers=admin_headers)).json() == listed.json()


async def test_numbers_go_in_and_out_with_reasons_for_refusals(
    client: Client, admin_headers: dict[str, str], sessions: tenancy.Sessions
) -> None:
    ok, voice, ordering, austrian = tenancy.german_numbers(4)
    await tenancy.seed_numbers(sessions, [ok])
    await tenancy.seed_numbers(sessions, [voice], feature_voice=True)
    await tenancy.seed_numbers(sessions, [ordering], state="ordering")
    await tenancy.seed_numbers(sessions, [austrian], country="AT")
    pool = await tenancy.create_pool(client, admin_headers, country="DE", features=["sms"])
    other = await tenancy.create_pool(client, admin_headers, name="other")

    async def add(pool_id: str, number: str) -> httpx.Response:
        return await client.post(
            f"/v1/pools/{pool_id}/numbers", json={"number": number}, headers=admin_headers
        )

    added = await add(pool, f"+{ok[:2]} {ok[2:5]} {ok[5:]}")  # any written form
    assert added.status_code == 200, added.text
    assert (added.json()["number"], added.json()["pool"]) == (ok, pool)
    assert (await add(pool, ok)).status_code == 200  # again: no change

    in_other = await add(other, ok)
    assert (in_other.status_code, in_other.json()["code"]) == (409, "number_in_other_pool")

    not_active = await add(pool, ordering)
    assert (not_active.status_code, not_active.json()["code"]) == (422, "number_not_active")
    assert "ordering" in not_active.json()["message"]

    unknown = await add(pool, "4915199999999")
    assert (unknown.status_code, unknown.json()["code"]) == (422, "number_not_on_account")

    wrong_country = await add(pool, austrian)
    assert (wrong_country.status_code, wrong_country.json()["code"]) == (
        422,
        "pool_constraints_not_met",
    )
    assert "AT" in wrong_country.json()["message"]

    strict = await tenancy.create_pool(client, admin_headers, name="voice", features=["voice"])
    no_voice = await add(strict, ok)
    assert no_voice.json()["code"] == "number_in_other_pool"
    lacks = await add(strict, austrian)
    assert (lacks.status_code, lacks.json()["code"]) == (422, "pool_constraints_not_met")
    assert "voice" in lacks.json()["message"]
    assert (await add(strict, voice)).status_code == 200

    garbage = await add(pool, "not a number")
    assert (garbage.status_code, garbage.json()["code"]) == (422, "invalid_number")

    removed = await client.delete(f"/v1/pools/{pool}/numbers/{ok}", headers=admin_headers)
    assert (removed.status_code, removed.json()["pool"]) == (200, None)
    gone = await client.delete(f"/v1/pools/{pool}/numbers/{ok}", headers=admin_headers)
    assert (gone.status_code, gone.json()["code"]) == (404, "number_not_in_pool")
    assert (await add(other, ok)).status_code == 200


async def test_an_allocated_number_cannot_leave_its_pool(
    client: Client, admin_headers: dict[str, str], sessions: tenancy.Sessions
) -> None:
    (number,) = await tenancy.seed_numbers(sessions, tenancy.german_numbers(1))
    pool = await tenancy.create_pool(client, admin_headers)
    await client.post(f"/v1/pools/{pool}/numbers", json={"number": number}, headers=admin_headers)
    _, key = await tenancy.create_tenant(client, admin_headers, "acme")
    assert (
        await client.post("/v1/allocations", json={"pool": pool}, headers=tenancy.key_headers(key))
    ).status_code == 201
    refused = await client.delete(f"/v1/pools/{pool}/numbers/{number}", headers=admin_headers)
    assert (refused.status_code, refused.json()["code"]) == (409, "number_allocated")


async def test_pools_are_admin_only(client: Client, admin_headers: dict[str, str]) -> None:
    pool = await tenancy.create_pool(client, admin_headers)
    _, key = await tenancy.create_tenant(client, admin_headers, "acme")
    for method, path in [
        ("GET", "/v1/pools"),
        ("GET", f"/v1/pools/{pool}"),
        ("POST", "/v1/pools"),
        ("POST", f"/v1/pools/{pool}/numbers"),
        ("DELETE", f"/v1/pools/{pool}/numbers/4915170000000"),
        ("PATCH", f"/v1/pools/{pool}"),
    ]:
        response = await client.request(
            method, path, json={"name": "x", "number": "1"}, headers=tenancy.key_headers(key)
        )
        assert (response.status_code, response.json()["code"]) == (404, "not_found"), path


async def test_new_pools_rest_released_numbers_a_week_unless_told_otherwise(
    client: Client, admin_headers: dict[str, str]
) -> None:
    # A week: one-time codes sent to the previous holder stop before the next one
    # receives the number's SMS.
    default = await client.post("/v1/pools", json={"name": "otp"}, headers=admin_headers)
    assert (default.status_code, default.json()["cooldown_days"]) == (201, 7), default.text
    at_once = await client.post(
        "/v1/pools", json={"name": "instant", "cooldown_days": 0}, headers=admin_headers
    )
    assert (at_once.status_code, at_once.json()["cooldown_days"]) == (201, 0), at_once.text

    pool = default.json()["id"]
    changed = await client.patch(
        f"/v1/pools/{pool}", json={"cooldown_days": 0}, headers=admin_headers
    )
    assert (changed.status_code, changed.json()["cooldown_days"]) == (200, 0), changed.text
    assert (await client.get(f"/v1/pools/{pool}", headers=admin_headers)).json()[
        "cooldown_days"
    ] == 0
    for body in ({"cooldown_days": 3651}, {"cooldown_days": -1}, {}, {"name": "x"}):
        refused = await client.patch(f"/v1/pools/{pool}", json=body, headers=admin_headers)
        assert (refused.status_code, refused.json()["code"]) == (422, "validation_error"), body
    nowhere = uuid.uuid4()
    unknown = await client.patch(
        f"/v1/pools/{nowhere}", json={"cooldown_days": 1}, headers=admin_headers
    )
    assert (unknown.status_code, unknown.json()["code"]) == (404, "pool_not_found")
    trail = await client.get("/v1/audit", params={"action": "pool.update"}, headers=admin_headers)
    assert [(r["target"], r["outcome"], r["details"]) for r in trail.json()["items"]] == [
        (f"pool:{nowhere}", "pool_not_found", {}),
        (f"pool:{pool}", "ok", {"cooldown_days": {"before": 7, "after": 0}}),
    ]
