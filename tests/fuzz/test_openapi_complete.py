"""The OpenAPI schema documents every /v1 route fully, and its pages are served."""

from __future__ import annotations

import re
import uuid
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
    "OperationOut.kind": ["order", "update", "delete", "sync", "bulk_order", "bulk_update"],
    "OperationOut.status": ["queued", "running", "succeeded", "failed", "awaiting_approval"],
    "SyncRunOut.status": ["queued", "running", "succeeded", "failed"],
    "DriftOut.kind": ["added", "changed", "missing", "removed"],
    "KeyOut.scope": ["admin", "tenant"],
    "IssuedKey.scope": ["admin", "tenant"],
    "WhoAmI.scope": ["admin", "tenant"],
    "GET /v1/audit?actor": ["key", "bootstrap", "cli"],
    "CostReportOut.basis": ["cash", "accrual"],
    "CostReportOut.group_by": ["tenant", "pool", "country", "number", "tag"],
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


WRITES = {"POST", "PUT", "PATCH", "DELETE"}


async def test_every_route_documents_the_statuses_its_shape_can_answer(client: Client) -> None:
    # 422: any route refuses a NUL or a query parameter it does not declare; 413: any
    # write reads its body (a DELETE's too) up to MAX_BODY_BYTES; 401 and 503: every /v1
    # route needs a key and reads the database; 404: a path id that is not there (or is
    # not an id at all).
    spec = (await client.get("/schema/openapi.json")).json()
    problems = []
    for name, operation in _operations(spec):
        method, path = name.split(" ")
        needed = {"422"}
        if method in WRITES:
            needed.add("413")
        if path.startswith("/v1/"):
            needed |= {"401", "503"}
        if "{" in path:
            needed.add("404")
        responses = operation["responses"]
        problems += [f"{name}: {code} undocumented" for code in sorted(needed - set(responses))]
        if "413" in responses:
            example = _example(responses["413"])
            if "65536 bytes" not in example["message"]:
                problems.append(f"{name}: the 413 does not name the limit: {example}")
    assert problems == []


def _example(response: dict[str, Any]) -> Any:
    (example,) = response["content"]["application/json"]["examples"].values()
    return example["value"]


# Parameters that take one of a list: the schema lists it.
PARAMETER_CHOICES = {
    "GET /v1/costs?group_by": ["tenant", "pool", "country", "number"],
    "GET /v1/costs?basis": ["cash", "accrual"],
    "GET /v1/operations?status": ["queued", "running", "succeeded", "failed", "awaiting_approval"],
    "GET /v1/operations?kind": ["order", "update", "delete", "sync", "bulk_order", "bulk_update"],
    "GET /v1/numbers?state": ["ordering", "active", "deleting", "missing", "deleted", "failed"],
}


async def test_choice_parameters_list_their_values_and_csv_is_documented(client: Client) -> None:
    spec = (await client.get("/schema/openapi.json")).json()
    listed = {field: _values(spec, _field_schema(spec, field)) for field in PARAMETER_CHOICES}
    assert listed == PARAMETER_CHOICES
    parameters = spec["paths"]["/v1/numbers"]["get"]["parameters"]
    (feature,) = [p for p in parameters if p["name"] == "feature"]
    assert feature["schema"]["items"]["enum"] == ["sms", "a2p_sms", "voice"]
    # GET /v1/costs answers Accept: text/csv with CSV.
    assert "text/csv" in spec["paths"]["/v1/costs"]["get"]["responses"]["200"]["content"]


async def test_examples_look_like_what_the_api_answers(client: Client) -> None:
    spec = (await client.get("/schema/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    assert schemas["CostReportOut"]["properties"]["month"]["examples"] == ["2026-03"]
    assert schemas["CostTotalsOut"]["properties"]["total"]["examples"] == ["4.90"]
    costs = spec["paths"]["/v1/costs"]["get"]["parameters"]
    assert [p["schema"].get("examples") for p in costs if p["name"] == "month"] == [["2026-03"]]
    problems = []
    for where, schema in _all_schemas(spec):
        for example in schema.get("examples", []):
            if schema.get("format") == "uuid":
                try:
                    uuid.UUID(example)
                except ValueError:
                    problems.append(f"{where}: {example!r} is no UUID")
            if schema.get("format") == "date-time" and not RFC3339.fullmatch(str(example)):
                problems.append(f"{where}: {example!r} is no RFC 3339 time")
            # Litestar's generated examples: random letters and 100-digit decimals.
            if isinstance(example, str | list | dict) and len(str(example)) > 200:
                problems.append(f"{where}: {str(example)[:60]}... is generated")
            if isinstance(example, str) and re.fullmatch(r"[A-Za-z]{20}", example):
                problems.append(f"{where}: {example!r} is generated")
    assert problems == []


RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")


def _all_schemas(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            if "type" in node or "examples" in node:
                found.append((where, node))
            for key, value in node.items():
                if key != "examples":
                    walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{where}[{index}]")

    walk(spec["components"]["schemas"], "components")
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                walk(parameter.get("schema", {}), f"{method.upper()} {path}?{parameter['name']}")
    return found
