"""A query parameter the route does not declare is a 422 naming it, on every route."""

from __future__ import annotations

import re
from typing import Any

from tests.support.api import Client
from tests.support.tenancy import ADMIN_KEY

ADMIN = {"X-Api-Key": ADMIN_KEY}
# A value of the right shape for each kind of path parameter, so the route matches.
_PATH_VALUES = {"uuid": "3f2b8c1e-5d4a-4e7b-9c6f-0a1b2c3d4e5f", "string": "4915170264838"}


async def test_an_unknown_parameter_is_named_with_the_ones_the_route_takes(client: Client) -> None:
    # ?format=csv used to answer JSON as if it had been heard.
    response = await client.get("/v1/numbers?format=csv&country=DE", headers=ADMIN)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["message"].startswith("unknown query parameter format: this route takes only ")
    details = body["details"]
    assert (details["parameter"], details["location"], details["unknown"]) == (
        "format",
        "query",
        ["format"],
    )
    # The names callers use, aliases included (the handler's argument is number_state).
    assert {"country", "feature", "state", "limit", "cursor"} <= set(details["accepted"])
    assert "number_state" not in details["accepted"]


async def test_several_unknown_parameters_are_all_named(client: Client) -> None:
    response = await client.get("/v1/operations?zeta=1&alpha=2&limit=5", headers=ADMIN)
    assert response.status_code == 422
    assert response.json()["details"]["unknown"] == ["alpha", "zeta"]
    assert "alpha, zeta" in response.json()["message"]


async def test_routes_outside_v1_take_no_stray_parameters_either(client: Client) -> None:
    for path in ("/health/live?verbose=1", "/schema/openapi.json?format=yaml"):
        response = await client.get(path)
        assert response.status_code == 422, path
        assert response.json()["message"] == (
            f"unknown query parameter {path.split('?')[1].split('=')[0]}: "
            "this route takes no query parameters"
        )


async def test_every_documented_query_parameter_is_accepted(client: Client) -> None:
    # Walks the schema, so a parameter added to any handler is covered: none of the
    # parameters a route documents is refused as unknown.
    spec = (await client.get("/schema/openapi.json")).json()
    checked = 0
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
            if not names:
                continue
            query = "&".join(f"{name}=x" for name in names)
            response = await client.request(method, f"{_concrete(path)}?{query}", headers=ADMIN)
            assert not _refused_as_unknown(response.json()), (method, path, response.text)
            checked += len(names)
    assert checked >= 30


async def test_sevens_webhook_fields_are_not_refused(client: Client) -> None:
    # seven sends its fields in the GET's query string and may add new ones.
    response = await client.get(
        "/v1/webhooks/seven?webhook_event=sms_mo&data[id]=1&data[system]=4915170000000&new=1"
    )
    assert not _refused_as_unknown(response.json()), response.text


def _refused_as_unknown(body: Any) -> bool:
    return isinstance(body, dict) and str(body.get("message", "")).startswith(
        "unknown query parameter"
    )


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda m: _PATH_VALUES["uuid" if "id" in m[0] else "string"], path)
