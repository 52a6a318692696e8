"""A NUL character anywhere in a request is a 422, never a 500.

PostgreSQL text cannot hold U+0000; before app/lib/nul_guard.py a NUL in a tenant,
key or pool name, in the numbers search term or in an audit filter failed the query.
Every /v1 operation of the schema is tried with a NUL in each path parameter, each
query parameter and each top-level body field.
"""

from __future__ import annotations

import re
from typing import Any

from tests.support.api import Client
from tests.support.tenancy import create_pool

METHODS = ("get", "post", "put", "patch", "delete")
NUL = "a\x00b"


def _body_fields(spec: dict[str, Any], operation: dict[str, Any]) -> list[str]:
    content = operation.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema", {})
    # An optional body is one of the struct or null.
    choices = schema.get("oneOf", schema.get("anyOf", [schema]))
    fields: list[str] = []
    for choice in choices:
        if "$ref" in choice:
            choice = spec["components"]["schemas"][choice["$ref"].rsplit("/", 1)[1]]
        fields += choice.get("properties", {})
    return fields


async def test_a_nul_anywhere_is_refused_with_422(
    client: Client, admin_headers: dict[str, str]
) -> None:
    spec = (await client.get("/schema/openapi.json")).json()
    pool = await create_pool(client, admin_headers, name="nul")
    requests: list[tuple[str, str, dict[str, Any]]] = []  # (label, url, extra)
    for path, item in spec["paths"].items():
        for method in (m for m in METHODS if m in item and path.startswith("/v1/")):
            operation, name = item[method], f"{method.upper()} {path}"
            # Ids stay valid (the pool's) so the NUL is the only thing wrong.
            valid = re.sub(r"{\w*id}", pool, path)
            if "{" in valid:
                requests.append((f"{name} path", re.sub(r"{\w+}", "a%00b", valid), {}))
            url = re.sub(r"{\w+}", "4915170000000", valid)
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query":
                    query = {"params": {parameter["name"]: NUL}}
                    requests.append((f"{name} {parameter['name']}", url, query))
            for field in _body_fields(spec, operation):
                requests.append((f"{name} {field}", url, {"json": {field: NUL}}))
                requests.append((f"{name} {field}[]", url, {"json": {field: [NUL]}}))

    answers: dict[str, int] = {}
    for label, url, extra in requests:
        method = label.split(" ", 1)[0]
        response = await client.request(method, url, headers=admin_headers, **extra)
        answers[label] = response.status_code
        if response.status_code == 422 and "NUL" in response.text:
            assert response.json()["code"] == "nul_character"

    assert {label: status for label, status in answers.items() if status >= 500} == {}
    # The ones that were 500s before the guard, now refused for the NUL.
    for label in (
        "GET /v1/numbers q",
        "POST /v1/tenants name",
        "POST /v1/keys name",
        "POST /v1/pools name",
        "GET /v1/audit action",
        "GET /v1/audit target",
        "GET /v1/audit outcome",
    ):
        assert answers[label] == 422, label
    # Even where no parameter is expected (each /v1 route documents this 422).
    stray = await client.get("/v1/whoami", params={"x": NUL}, headers=admin_headers)
    assert (stray.status_code, stray.json()["code"]) == (422, "nul_character")


async def test_an_escaped_backslash_before_u0000_is_not_a_nul(
    client: Client, admin_headers: dict[str, str]
) -> None:
    # JSON "a\\u0000" is the six characters \u0000 after an "a", no NUL among them.
    response = await client.post(
        "/v1/tenants",
        content=b'{"name": "a\\\\u0000"}',
        headers={**admin_headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "a\\u0000"
