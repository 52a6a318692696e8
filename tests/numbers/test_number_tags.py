"""Tags on numbers and tenants: PUT /v1/numbers/{number}/tags, the tenant's PATCH, the
list's ``tag`` filter; validation, tenancy, audit, events, and the read cache."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar

from tests.support import tenancy
from tests.support.api import Client
from tests.support.polling import until
from tests.support.tenancy import Sessions


async def put_tags(
    client: Client, number: str, tags: Any, headers: dict[str, str]
) -> tuple[int, Any]:
    response = await client.put(f"/v1/numbers/{number}/tags", json=tags, headers=headers)
    return response.status_code, response.json()


async def listed(client: Client, headers: dict[str, str], *tags: str) -> list[str]:
    response = await client.get("/v1/numbers", params={"tag": list(tags)}, headers=headers)
    assert response.status_code == 200, response.text
    return [item["number"] for item in response.json()["items"]]


async def test_tags_are_replaced_read_at_once_audited_and_announced(
    client: Client, app: Litestar, admin_headers: dict[str, str], sessions: Sessions
) -> None:
    holder = await tenancy.tenant_holding_a_number(client, admin_headers, sessions)
    number = holder.number
    cache = app.state.number_cache

    async def cached() -> bool:
        await client.get(f"/v1/numbers/{number}", headers=admin_headers)
        return cache.get(number) is not None

    await until(cached, "the number to be held in the cache")
    assert (await client.get(f"/v1/numbers/{number}", headers=admin_headers)).json()["tags"] == {}

    status, body = await put_tags(client, number, {"cost_center": "crm"}, holder.headers)
    assert (status, body["tags"]) == (200, {"cost_center": "crm"})
    # Read right after the PUT, from the process that wrote it: the new tags.
    for headers in (admin_headers, holder.headers):
        read = await client.get(f"/v1/numbers/{number}", headers=headers)
        assert read.json()["tags"] == {"cost_center": "crm"}

    # A replacement, not a merge.
    status, body = await put_tags(client, number, {"owner": "ops:team"}, admin_headers)
    assert (status, body["tags"]) == (200, {"owner": "ops:team"})
    read = await client.get(f"/v1/numbers/{number}", headers=holder.headers)
    assert read.json()["tags"] == {"owner": "ops:team"}

    audit = await client.get("/v1/audit", params={"action": "number.tags"}, headers=admin_headers)
    entries = audit.json()["items"]
    assert [entry["outcome"] for entry in entries] == ["ok", "ok"]
    assert entries[0]["target"] == f"number:{number}"
    assert entries[0]["details"]["after"] == {"owner": "ops:team"}

    events = await client.get(
        "/v1/events", params={"type": "number.updated"}, headers=holder.headers
    )
    assert [event["data"]["tags"] for event in events.json()["items"]] == [
        {"owner": "ops:team"},
        {"cost_center": "crm"},
    ]


async def test_another_tenant_cannot_see_or_tag_the_number(
    client: Client, admin_headers: dict[str, str], sessions: Sessions
) -> None:
    holder = await tenancy.tenant_holding_a_number(client, admin_headers, sessions)
    await put_tags(client, holder.number, {"cost_center": "crm"}, admin_headers)
    _, other_key = await tenancy.create_tenant(client, admin_headers, "globex")
    other = tenancy.key_headers(other_key)

    status, body = await put_tags(client, holder.number, {"cost_center": "x"}, other)
    assert (status, body["code"]) == (404, "number_not_found")
    assert await listed(client, other, "cost_center:crm") == []
    assert await listed(client, holder.headers, "cost_center:crm") == [holder.number]
    read = await client.get(f"/v1/numbers/{holder.number}", headers=admin_headers)
    assert read.json()["tags"] == {"cost_center": "crm"}


async def test_the_list_filters_by_tag_value_and_by_key(
    client: Client, admin_headers: dict[str, str], sessions: Sessions
) -> None:
    crm, ops, bare = await tenancy.seed_numbers(sessions, tenancy.german_numbers(3))
    await put_tags(client, crm, {"cost_center": "crm", "env": "prod"}, admin_headers)
    await put_tags(client, ops, {"cost_center": "ops"}, admin_headers)

    assert await listed(client, admin_headers, "cost_center:crm") == [crm]
    assert await listed(client, admin_headers, "cost_center") == [crm, ops]
    assert await listed(client, admin_headers, "cost_center", "env:prod") == [crm]
    assert await listed(client, admin_headers, "cost_center:crm", "cost_center:ops") == []
    assert await listed(client, admin_headers) == [crm, ops, bare]


@pytest.mark.parametrize(
    "tag", ["Cost_Center:crm", ":crm", "cost center", "cost_center:", "x" * 65]
)
async def test_a_malformed_tag_filter_is_a_422(
    client: Client, admin_headers: dict[str, str], tag: str
) -> None:
    response = await client.get("/v1/numbers", params={"tag": tag}, headers=admin_headers)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "invalid_tag"
    assert body["details"]["parameter"] == "tag"
    assert body["details"]["location"] == "query"


@pytest.mark.parametrize(
    ("tags", "code"),
    [
        ({"Cost": "crm"}, "invalid_tags"),
        ({"a:b": "crm"}, "invalid_tags"),
        ({"cost_center": ""}, "invalid_tags"),
        ({"cost_center": "x" * 201}, "invalid_tags"),
        ({f"k{i}": "v" for i in range(51)}, "invalid_tags"),
        ({"cost_center": 5}, "validation_error"),
        (["cost_center"], "validation_error"),
    ],
)
async def test_bad_tags_are_a_422_and_change_nothing(
    client: Client, admin_headers: dict[str, str], sessions: Sessions, tags: Any, code: str
) -> None:
    (number,) = await tenancy.seed_numbers(sessions, tenancy.german_numbers(1))
    status, body = await put_tags(client, number, tags, admin_headers)
    assert (status, body["code"]) == (422, code), body
    assert body["details"]["location"] == "body"
    read = await client.get(f"/v1/numbers/{number}", headers=admin_headers)
    assert read.json()["tags"] == {}


async def test_an_unknown_number_is_a_404(client: Client, admin_headers: dict[str, str]) -> None:
    status, body = await put_tags(client, "4915170264838", {"a": "b"}, admin_headers)
    assert (status, body["code"]) == (404, "number_not_found")


async def test_tenant_tags_are_set_by_patch_and_read_back(
    client: Client, admin_headers: dict[str, str]
) -> None:
    tenant, key = await tenancy.create_tenant(client, admin_headers, "acme")
    created = await client.get(f"/v1/tenants/{tenant}", headers=admin_headers)
    assert created.json()["tags"] == {}

    response = await client.patch(
        f"/v1/tenants/{tenant}", json={"tags": {"cost_center": "crm"}}, headers=admin_headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["tags"] == {"cost_center": "crm"}
    listed_tenants = await client.get("/v1/tenants", headers=admin_headers)
    assert [t["tags"] for t in listed_tenants.json()] == [{"cost_center": "crm"}]

    # A body with nothing to change is refused; the tags stay.
    unchanged = await client.patch(f"/v1/tenants/{tenant}", json={}, headers=admin_headers)
    assert (unchanged.status_code, unchanged.json()["code"]) == (422, "nothing_to_change")
    shown = await client.get(f"/v1/tenants/{tenant}", headers=admin_headers)
    assert shown.json()["tags"] == {"cost_center": "crm"}

    bad = await client.patch(
        f"/v1/tenants/{tenant}", json={"tags": {"Bad": "x"}}, headers=admin_headers
    )
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_tags")
    # A tenant key may not change tenants: the admin routes are 404 to it.
    own = await client.patch(
        f"/v1/tenants/{tenant}", json={"tags": {}}, headers=tenancy.key_headers(key)
    )
    assert own.status_code == 404
    audit = await client.get("/v1/audit", params={"action": "tenant.update"}, headers=admin_headers)
    assert [entry["outcome"] for entry in audit.json()["items"]] == ["invalid_tags", "ok"]
