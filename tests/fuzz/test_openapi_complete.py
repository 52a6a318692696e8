"""The OpenAPI schema documents every /v1 route fully, and its pages are served."""

from __future__ import annotations

import re
from typing import Any

from tests.support.api import Client

METHODS = ("get", "post", "put", "patch", "delete")
ERROR_FIELDS = {"status", "code", "message"}


def _operations(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{method.upper()} {path}", operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def _error_schema(spec: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    schema = response["content"]["application/json"]["schema"]
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


async def test_every_v1_operation_documents_401_and_422_and_has_a_summary(client: Client) -> None:
    spec = (await client.get("/schema/openapi.json")).json()
    problems = []
    v1 = [(name, op) for name, op in _operations(spec) if name.split(" ")[1].startswith("/v1/")]
    for name, operation in v1:
        responses = operation.get("responses", {})
        if not operation.get("summary"):
            problems.append(f"{name}: no summary")
        if "401" not in responses:
            problems.append(f"{name}: 401 undocumented")
        if "422" not in responses:
            problems.append(f"{name}: 422 undocumented")
        for code, response in responses.items():
            if code.startswith(("4", "5")):
                schema = _error_schema(spec, response)
                if not set(schema.get("required", [])) >= ERROR_FIELDS:
                    problems.append(f"{name}: {code} does not use the error body")
                if not response["content"]["application/json"].get("examples"):
                    problems.append(f"{name}: {code} has no example")
    assert problems == []
    assert len(v1) >= 30


async def test_the_schema_pages_are_served_without_the_internet(client: Client) -> None:
    # Every script and stylesheet the docs pages load comes from the service itself.
    assert (await client.get("/schema/openapi.json")).status_code == 200
    for page in ("/schema", "/schema/swagger"):
        response = await client.get(page)
        assert response.status_code == 200, page
        assets = re.findall(r'(?:src|href)="([^"]+)"', response.text)
        assert len(assets) >= 3, response.text
        for asset in assets:
            assert asset.startswith("/schema/assets/"), f"{page} loads {asset}"
            loaded = await client.get(asset)
            assert loaded.status_code == 200, asset
            assert len(loaded.content) > 1000, asset


# The values each vocabulary field lists, as the API has always documented them.
VOCABULARY_FIELDS = {
    "NumberOut.state": ["ordering", "active", "deleting", "missing", "deleted", "failed"],
    "NumberOut.handover": ["clearing", "clearing_failed", "uncleared"],
    "BillingOut.payment_interval": ["monthly", "annually"],
    "OrderCreate.payment_interval": ["monthly", "annually"],
    "OperationOut.kind": ["order", "update", "delete", "sync"],
    "OperationOut.status": ["queued", "running", "succeeded", "failed"],
    "SyncRunOut.status": ["queued", "running", "succeeded", "failed"],
    "DriftOut.kind": ["added", "changed", "missing", "removed"],
    "KeyOut.scope": ["admin", "tenant"],
    "IssuedKey.scope": ["admin", "tenant"],
    "WhoAmI.scope": ["admin", "tenant"],
    "GET /v1/audit?actor": ["key", "bootstrap", "cli"],
    "CostReportOut.basis": ["cash", "accrual"],
    "CostReportOut.group_by": ["tenant", "pool", "country", "number"],
}


def _values(spec: dict[str, Any], schema: dict[str, Any]) -> list[Any]:
    """The values a schema allows, through ``$ref`` and ``oneOf`` (null left out)."""
    if "$ref" in schema:
        return _values(spec, spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]])
    if "oneOf" in schema:
        return [value for option in schema["oneOf"] for value in _values(spec, option)]
    return [value for value in schema.get("enum", []) if value is not None]


def _field_schema(spec: dict[str, Any], field: str) -> dict[str, Any]:
    if field.startswith("GET "):
        path, name = field.removeprefix("GET ").split("?")
        (parameter,) = [p for p in spec["paths"][path]["get"]["parameters"] if p["name"] == name]
        return parameter["schema"]
    component, name = field.split(".")
    return spec["components"]["schemas"][component]["properties"][name]


async def test_every_vocabulary_lists_the_values_it_always_listed(client: Client) -> None:
    spec = (await client.get("/schema/openapi.json")).json()
    listed = {field: _values(spec, _field_schema(spec, field)) for field in VOCABULARY_FIELDS}
    assert listed == VOCABULARY_FIELDS
