"""Every /v1 route of the OpenAPI schema, walked with a second tenant's key.

Generic on purpose: routes added later are walked too. Each path parameter gets every
identifier of the first tenant's world (its number, tenant, key, pool, operation,
allocation, a sync run that saw its number), each query parameter and body field named
like one of them gets it too, and every method is tried. The walk passes when no
answer carries the first tenant's identifiers, no answer at all (errors included, even
ones about the very id the request sent) carries the first tenant's id, its key's id or
the name of its pool, nothing answers 5xx, and no row that names the first tenant's
number, tenant or key changed (the audit log aside, which rightly records the attempts).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from app.db.models import SyncDrift, SyncRun
from app.settings import Settings
from tests.support import tenancy
from tests.support.api import Client
from tests.support.sandbox import SandboxProcess

METHODS = ("get", "post", "put", "patch", "delete")
# Tables whose rows may rightly change while the second tenant knocks on every door. The
# kept recurring parts of live cost reports are computed account-wide from the watched
# tables by whoever asks first (each reader sees only its own scope of them): asking for
# one's own costs may rewrite them from the first tenant's unchanged rows.
UNWATCHED_TABLES = {
    "audit_log",
    "alembic_version",
    "cost_live_slices",
    "cost_live_number_rows",
}
POOL_NAME = "acme shared pool"


class World:
    """The first tenant's identifiers, as a second tenant might try them."""

    def __init__(self, **ids: str) -> None:
        self.ids = ids

    @property
    def number(self) -> str:
        return self.ids["number"]

    def secrets(self) -> list[str]:
        """What must never appear in an answer to the second tenant."""
        return list(self.ids.values())

    def never_told(self) -> list[str]:
        """What no answer to the second tenant may repeat, even one about its own request."""
        return [self.ids["tenant"], self.ids["key"], POOL_NAME]

    def candidates(self, name: str) -> list[str]:
        lowered = name.lower()
        if "number" in lowered:
            return [self.number]
        for kind in ("tenant", "key", "pool", "operation", "allocation", "run"):
            if kind in lowered:
                return [self.ids[kind]]
        return [value for kind, value in self.ids.items() if kind != "number"]

    def query_value(self, name: str, schema: dict[str, Any]) -> str | None:
        """An identifier for a parameter named like one, else a plausible value or None."""
        if self.candidates(name) != self.candidates(""):
            return self.candidates(name)[0]
        if name == "month":
            return "2026-11"
        return schema["enum"][0] if "enum" in schema else None

    def value_for(self, name: str, schema: dict[str, Any]) -> Any:
        lowered = name.lower()
        if lowered in {"number", "to", "msisdn"} or "number" in lowered:
            return self.number
        for kind in ("tenant", "pool", "key"):
            if lowered.startswith(kind):
                return self.ids[kind]
        return _example(schema)


def _example(schema: dict[str, Any]) -> Any:
    kinds = schema.get("type") or [s.get("type") for s in schema.get("oneOf", [])]
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if "enum" in schema:
        return schema["enum"][0]
    if "boolean" in kinds:
        return False
    if "integer" in kinds:
        return max(int(schema.get("minimum", 1)), 1)
    if "array" in kinds:
        return []
    if "object" in kinds:
        return {}
    return "walk"


def _resolve(spec: dict[str, Any], schema: dict[str, Any] | None) -> dict[str, Any]:
    while schema and "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema or {}


def _bodies(spec: dict[str, Any], operation: dict[str, Any], world: World) -> list[Any]:
    content = operation.get("requestBody", {}).get("content", {})
    schema = _resolve(spec, content.get("application/json", {}).get("schema"))
    properties = schema.get("properties", {})
    if not properties:
        return [{"number": world.number, "data": {"to": world.number, "number": world.number}}]
    full = {name: world.value_for(name, _resolve(spec, s)) for name, s in properties.items()}
    required = {name: full[name] for name in schema.get("required", [])}
    identifying = {
        name: value for name, value in full.items() if value in world.ids.values()
    } | required
    return [full, identifying, required]


def _requests(spec: dict[str, Any], world: World) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """(method, path template, url, extra request arguments) for every route and identifier."""
    for path, item in spec["paths"].items():
        if not path.startswith("/v1/"):
            continue
        names = re.findall(r"{(\w+)}", path)
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            query = {
                p["name"]: world.query_value(p["name"], _resolve(spec, p.get("schema")))
                for p in operation.get("parameters", [])
                if p["in"] == "query"
            }
            query = {name: value for name, value in query.items() if value is not None}
            bodies = (
                _bodies(spec, operation, world) if method in {"post", "put", "patch"} else [None]
            )
            for values in itertools.product(*(world.candidates(n) for n in names)):
                url = path
                for name, value in zip(names, values, strict=True):
                    url = url.replace(f"{{{name}}}", value)
                for params, body in itertools.product([{}, query] if query else [{}], bodies):
                    extra: dict[str, Any] = {"params": params}
                    if body is not None:
                        extra["json"] = body
                    yield method.upper(), path, url, extra


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Webhooks configured as in production: seven's route refuses an unsigned call (401)
    instead of answering that the service is not set up to take it (503)."""
    return dataclasses.replace(settings, seven_signing_secret="isolation-walk-signing-secret")


async def _rows_naming(sessions: tenancy.Sessions, world: World) -> set[str]:
    """Every row (as JSON text) of every watched table that names the first tenant."""
    watched = [world.number, world.ids["tenant"], world.ids["key"]]
    rows: set[str] = set()
    async with sessions() as session:
        tables = await session.scalars(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        )
        for table in sorted(set(tables) - UNWATCHED_TABLES):
            for (row,) in await session.execute(
                text(f'SELECT row_to_json(t)::text FROM "{table}" t')  # noqa: S608 - catalog names
            ):
                if any(value in row for value in watched):
                    rows.add(f"{table}: {row}")
    return rows


async def _first_tenants_world(
    client: Client, admin: dict[str, str], sessions: tenancy.Sessions
) -> World:
    holder = await tenancy.tenant_holding_a_number(
        client, admin, sessions, {"friendly_name": "acme line"}, name=POOL_NAME
    )
    number, tenant = holder.number, holder.tenant
    allocation = (await client.get("/v1/allocations", headers=holder.headers)).json()[0]
    operation = await tenancy.seed_operation(
        sessions, number, tenant_id=uuid.UUID(tenant), params={"friendly_name": "acme line"}
    )
    async with sessions() as session:
        run = SyncRun(id=uuid.uuid4(), status="succeeded", fetched=1, changed=1)
        session.add(run)
        await session.flush()
        session.add(SyncDrift(run_id=run.id, number=number, kind="changed", after={}))
        await session.commit()
    return World(
        number=number,
        tenant=tenant,
        key=holder.key_id,
        pool=holder.pool,
        operation=str(operation),
        allocation=allocation["id"],
        run=str(run.id),
    )


async def test_a_second_tenant_can_neither_see_nor_change_the_first_tenants_numbers(
    client: Client,
    admin_headers: dict[str, str],
    sessions: tenancy.Sessions,
    fresh_sandbox: SandboxProcess,
) -> None:
    world = await _first_tenants_world(client, admin_headers, sessions)
    _, intruder = await tenancy.create_tenant(client, admin_headers, "globex")
    before = await _rows_naming(sessions, world)
    spec = (await client.get("/schema/openapi.json")).json()

    walked: set[tuple[str, str]] = set()
    leaks: list[str] = []
    for method, path, url, extra in _requests(spec, world):
        response = await client.request(method, url, headers=tenancy.key_headers(intruder), **extra)
        walked.add((method, path))
        where = f"{method} {url} {json.dumps(extra)} -> {response.status_code}"
        if told := [secret for secret in world.never_told() if secret in response.text]:
            leaks.append(f"{where}: tells {told}: {response.text[:200]}")
        if response.status_code >= 500:
            leaks.append(f"{where}: server error {response.text[:200]}")
        elif response.is_success:
            shown = [secret for secret in world.secrets() if secret in response.text]
            if shown:
                leaks.append(f"{where}: shows {shown}")
            if method != "GET" and any(secret in url for secret in world.secrets()):
                leaks.append(f"{where}: changed something named by the first tenant's id")

    assert leaks == []
    routes = {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        if path.startswith("/v1/")
        for method in METHODS
        if method in item
    }
    assert walked == routes
    assert len(routes) >= 20  # the walk really covered the API
    assert await _rows_naming(sessions, world) == before
    touched = [r for r in fresh_sandbox.requests() if world.number in json.dumps(r)]
    assert touched == []
    # The first tenant still has its number.
    mine = await client.get("/v1/allocations", headers=admin_headers)
    assert [(a["number"], a["tenant"]) for a in mine.json()] == [
        (world.number, world.ids["tenant"])
    ]
