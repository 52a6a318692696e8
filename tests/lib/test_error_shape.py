"""One error shape: the same ``details`` keys for a bad path, query or body parameter,
the same words for the same mistake, JSON for a malformed id in a path."""

from __future__ import annotations

import re
from typing import Annotated, Any

from litestar import Litestar, get
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient

from app.lib import params, query_parameters
from app.lib.error_answers import EXCEPTION_HANDLERS
from app.lib.strict_query import declare_query_parameters
from tests.support import tenancy
from tests.support.api import Client
from tests.support.tenancy import ADMIN_KEY

ADMIN = {"X-Api-Key": ADMIN_KEY}
JSON = {**ADMIN, "Content-Type": "application/json"}
KEYS = {"parameter", "location", "expected"}


def _problem(response: Any) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    body = response.json()
    assert set(body) == {"status", "code", "message", "details"}, body
    assert set(body["details"]) >= KEYS, body
    return body


async def test_a_bad_number_reads_alike_in_path_query_and_body(client: Client) -> None:
    found = [
        _problem(await client.get("/v1/numbers/12ab", headers=ADMIN)),
        _problem(await client.get("/v1/operations?number=12ab", headers=ADMIN)),
        _problem(
            await client.post(
                "/v1/orders", json={"number": "12ab", "payment_interval": "monthly"}, headers=JSON
            )
        ),
    ]
    assert [f["details"]["location"] for f in found] == ["path", "query", "body"]
    assert {f["code"] for f in found} == {"invalid_number"}
    assert {(f["details"]["parameter"], f["details"]["expected"]) for f in found} == {
        ("number", "a phone number such as +4915170264838")
    }


async def test_a_bad_header_is_named_in_the_same_shape(client: Client) -> None:
    response = await client.post(
        "/v1/orders",
        json={"number": "4915170264838", "payment_interval": "monthly"},
        headers={**JSON, "Idempotency-Key": "has spaces"},
    )
    refused = _problem(response)
    assert refused["code"] == "invalid_idempotency_key"
    assert refused["details"] == {
        "parameter": "Idempotency-Key",
        "location": "header",
        "expected": "1 to 255 printable ASCII characters without spaces",
    }


async def test_a_bad_country_has_one_wording_everywhere(
    client: Client, sessions: tenancy.Sessions
) -> None:
    numbers = await tenancy.seed_numbers(sessions, tenancy.german_numbers(1))
    pool = await tenancy.create_pool(client, ADMIN, numbers, name="shape")
    tenant, _ = await tenancy.create_tenant(client, ADMIN, "shape")
    found = [
        _problem(await client.get("/v1/numbers?country=XX", headers=ADMIN)),
        _problem(await client.get("/v1/available-numbers?country=XX", headers=ADMIN)),
        _problem(await client.post("/v1/pools", json={"name": "p", "country": "XX"}, headers=JSON)),
        _problem(
            await client.post(
                "/v1/allocations",
                json={"pool": pool, "tenant": tenant, "country": "XX"},
                headers=JSON,
            )
        ),
    ]
    expected = "an ISO 3166-1 alpha-2 country code such as DE"
    assert {(f["code"], f["message"]) for f in found} == {
        ("invalid_country", f"invalid country 'XX': expected {expected}")
    }
    assert [f["details"] for f in found] == [
        {"parameter": "country", "location": location, "expected": expected}
        for location in ("query", "query", "body", "body")
    ]


async def test_a_body_field_of_the_wrong_kind_reads_as_our_own_parsers_do(client: Client) -> None:
    # msgspec's words ("Invalid enum value 'weekly'", "Expected `int` >= 0") are not a
    # caller's: the field's declared type is said as app.lib.params says a parameter's.
    choice = _problem(await client.get("/v1/operations?status=done", headers=ADMIN))
    assert choice["message"] == (
        "invalid status 'done': expected one of queued, running, succeeded, failed, "
        "awaiting_approval"
    )
    interval = _problem(
        await client.post(
            "/v1/orders",
            json={"number": "4915170264838", "payment_interval": "weekly"},
            headers=JSON,
        )
    )
    assert (interval["code"], interval["message"], interval["details"]) == (
        "validation_error",
        "invalid payment_interval 'weekly': expected one of monthly, annually",
        {
            "parameter": "payment_interval",
            "location": "body",
            "expected": "one of monthly, annually",
        },
    )
    days = _problem(
        await client.post("/v1/pools", json={"name": "p", "cooldown_days": -1}, headers=JSON)
    )
    assert days["message"] == "invalid cooldown_days -1: expected a whole number from 0 to 3650"
    feature = _problem(
        await client.post("/v1/pools", json={"name": "p", "features": ["fax"]}, headers=JSON)
    )
    assert feature["details"] == {
        "parameter": "features[0]",
        "location": "body",
        "expected": "one of a2p_sms, sms, voice",
    }
    pool = _problem(await client.post("/v1/allocations", json={"pool": "nope"}, headers=JSON))
    assert pool["message"] == "invalid pool 'nope': expected a UUID"


async def test_names_checked_by_the_services_are_named_as_parameters_too(client: Client) -> None:
    # Checked by the tenant and pool services, not by a parser: the same details.
    for path in ("/v1/tenants", "/v1/pools"):
        empty = _problem(await client.post(path, json={"name": " "}, headers=JSON))
        assert empty["code"] == "invalid_name"
        assert empty["details"]["parameter"] == "name"
        assert empty["details"]["location"] == "body"
        assert empty["message"].startswith("invalid name ' ': expected a ")


async def test_the_body_as_a_whole_is_named_readably(client: Client) -> None:
    missing = _problem(await client.post("/v1/tenants", headers=JSON))
    # It read "invalid data: 'data'".
    assert missing["message"] == "a JSON body is required"
    assert missing["details"] == {
        "parameter": "body",
        "location": "body",
        "expected": "a JSON object",
    }

    misspelt = {"name": "a", "nmae": 1}
    unknown = _problem(await client.post("/v1/tenants", json=misspelt, headers=JSON))
    assert unknown["message"] == "unknown body field nmae: this body takes name"
    assert unknown["details"]["parameter"] == "nmae"

    required = _problem(await client.post("/v1/pools", json={}, headers=JSON))
    assert required["message"] == "name is required: expected a string"

    listed = _problem(await client.post("/v1/pools", json=["name"], headers=JSON))
    assert listed["details"]["parameter"] == "body"


async def test_an_empty_body_is_accepted_where_the_schema_makes_the_body_optional(
    client: Client, sessions: tenancy.Sessions
) -> None:
    tenant, _ = await tenancy.create_tenant(client, ADMIN, "empty bodies")
    [number] = await tenancy.seed_numbers(sessions, tenancy.german_numbers(1))
    spec = (await client.get("/schema/openapi.json")).json()
    optional = [
        (method, path)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if "requestBody" in operation and not operation["requestBody"].get("required")
    ]
    assert ("post", "/v1/tenants/{tenant_id}/keys") in optional
    for method, path in optional:
        response = await client.request(
            method,
            path.replace("{tenant_id}", tenant).replace("{number}", number),
            content=b"",
            headers=JSON,
        )
        assert response.status_code < 300, (method, path, response.text)


async def test_a_malformed_id_in_any_path_is_a_json_404(client: Client) -> None:
    checked = []
    for route in client.app.routes:
        if not isinstance(route, HTTPRoute) or not route.path.startswith("/v1"):
            continue
        if not any(p.type.__name__ == "UUID" for p in route.path_parameters.values()):
            continue
        path = re.sub(r"\{[^}]+:uuid\}", "not-a-uuid", route.path)
        path = re.sub(r"\{[^}]+\}", "4915170264838", path)
        for method in set(route.methods) - {"OPTIONS", "HEAD"}:
            response = await client.request(method, path, headers=ADMIN)
            assert (response.status_code, response.json()["code"]) == (404, "not_found"), path
            # Readable, not Litestar's bare "Not Found"; without the path (it may hold ids).
            message = response.json()["message"]
            assert "check it and any id" in message and "not-a-uuid" not in message, message
            checked.append(f"{method} {path}")
    assert len(checked) >= 6, checked


async def test_a_body_that_is_not_json_is_a_400_in_the_same_shape(client: Client) -> None:
    response = await client.post("/v1/pools", content=b'{"name": ', headers=JSON)
    assert response.status_code == 400
    assert response.json() == {
        "status": 400,
        "code": "bad_request",
        "message": "the body is not valid JSON: input data was truncated",
        "details": {"parameter": "body", "location": "body", "expected": "a JSON object"},
    }


async def test_a_parameter_litestar_itself_refuses_is_named_in_the_same_shape() -> None:
    # No route takes a typed query parameter today (each is parsed by app.lib.params),
    # but one that does answers in the same shape, not Litestar's list.
    @get("/typed", sync_to_thread=False)
    def typed(flag: bool | None = None, count: int = 1) -> dict[str, Any]:
        return {"flag": flag, "count": count}

    app = Litestar([typed], exception_handlers=EXCEPTION_HANDLERS)
    async with AsyncTestClient(app) as client:
        response = await client.get("/typed?flag=perhaps")
        count = await client.get("/typed?count=many")
    assert count.json()["details"]["expected"] == "a whole number"
    assert response.status_code == 422
    assert response.json() == {
        "status": 422,
        "code": "validation_error",
        "message": "invalid flag: expected true or false",
        "details": {"parameter": "flag", "location": "query", "expected": "true or false"},
    }


async def test_a_declared_query_parameter_left_out_is_located_in_the_query() -> None:
    # Absent from the request, so only the handler's declaration says where it belongs.
    @get("/needs-month", sync_to_thread=False)
    def needs_month(
        month: Annotated[str | None, query_parameters.month_parameter("YYYY-MM")] = None,
    ) -> None:
        raise params.invalid("month", month or "", "a calendar month written YYYY-MM")

    app = Litestar([needs_month], exception_handlers=EXCEPTION_HANDLERS)
    declare_query_parameters(app)
    async with AsyncTestClient(app) as client:
        response = await client.get("/needs-month")
    assert response.json()["details"]["location"] == "query"
