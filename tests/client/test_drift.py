"""The client agrees with the service's OpenAPI schema, generated from the app here.

Every schema component has a struct (or enum) of the same name in
``seven_numbers_client.models`` with the same fields, the same required ones and the same
types; every ``/v1`` operation has a ``Route`` that a client method calls, with the schema's
query parameters, body and answers. A route or field added to the service fails here,
naming what the client lacks.
"""

from __future__ import annotations

import enum
import inspect
from typing import Any, get_args, get_origin

import msgspec
import pytest
from seven_numbers_client import models, resources
from seven_numbers_client.core import Route

from app.asgi import create_app
from app.lib.money import MONEY_PATTERN
from app.settings import Settings

METHODS = ("get", "post", "put", "patch", "delete")
# seven's own callback (sms_mo and friends), signed by seven and taken without a key: not
# something a service calls.
NOT_FOR_CALLERS = {("GET", "/v1/webhooks/seven"), ("POST", "/v1/webhooks/seven")}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    # Building the app opens no connection: any well-formed settings give its schema.
    settings = Settings(
        database_url="postgresql+asyncpg://schema@127.0.0.1/schema",
        redis_url="redis://127.0.0.1:6379/0",
        seven_api_key="schema",
    )
    return create_app(settings).openapi_schema.to_schema()


def _name(ref: str) -> str:
    return ref.rsplit("/", 1)[1]


def _server_type(schema: dict[str, Any], components: dict[str, Any], pattern: Any = None) -> str:
    """A component's field type as one comparable string."""
    pattern = schema.get("pattern", pattern)
    if "$ref" in schema:
        target = components[_name(schema["$ref"])]
        return f"enum{sorted(target['enum'])}" if "enum" in target else _name(schema["$ref"])
    if "oneOf" in schema or "anyOf" in schema:
        parts = schema.get("oneOf") or schema["anyOf"]
        return " | ".join(sorted({_server_type(part, components, pattern) for part in parts}))
    if "const" in schema:
        return f"enum{[schema['const']]}"
    if "enum" in schema:
        return f"enum{sorted(schema['enum'])}"
    kind = schema.get("type")
    if kind == "string" and pattern == MONEY_PATTERN:
        return "decimal"
    return _plain_type(schema, lambda inner: _server_type(inner, components))


def _client_type(info: msgspec.inspect.Type) -> str:
    """The same string for a field of a client struct, from msgspec's view of its type."""
    mi = msgspec.inspect
    if isinstance(info, mi.UnionType):
        return " | ".join(sorted({_client_type(part) for part in info.types}))
    if isinstance(info, mi.StructType):
        return info.cls.__name__
    if isinstance(info, mi.EnumType):
        return f"enum{sorted(member.value for member in info.cls)}"
    if isinstance(info, mi.LiteralType):
        return f"enum{sorted(info.values)}"
    if isinstance(info, mi.ListType):
        return f"array[{_client_type(info.item_type)}]"
    if isinstance(info, mi.DictType):
        values = info.value_type
        return "object" if isinstance(values, mi.AnyType) else f"map[{_client_type(values)}]"
    simple = {
        mi.AnyType: "any",
        mi.NoneType: "null",
        mi.StrType: "string",
        mi.IntType: "integer",
        mi.FloatType: "number",
        mi.BoolType: "boolean",
        mi.DecimalType: "decimal",
        mi.DateTimeType: "datetime",
        mi.DateType: "date",
        mi.UUIDType: "uuid",
    }
    return simple[type(info)]


def _plain_type(schema: dict[str, Any], inner: Any) -> str:
    kind = schema.get("type")
    if kind is None:
        return "any"
    if kind == "string":
        formats = {"date-time": "datetime", "date": "date", "uuid": "uuid"}
        return formats.get(schema.get("format", ""), "string")
    if kind == "array":
        return f"array[{inner(schema['items'])}]"
    if kind == "object":
        values = schema.get("additionalProperties")
        return f"map[{inner(values)}]" if isinstance(values, dict) and values else "object"
    return str(kind)


def _client_models() -> dict[str, type]:
    return {
        name: value
        for name, value in vars(models).items()
        if inspect.isclass(value)
        and value.__module__ == models.__name__
        and issubclass(value, msgspec.Struct | enum.Enum)
        and not name.startswith("_")
    }


def test_every_schema_component_has_a_client_model_that_agrees(spec: dict[str, Any]) -> None:
    components = spec["components"]["schemas"]
    client = _client_models()
    problems = []
    for name in sorted(set(client) - set(components)):
        problems.append(f"{name}: a client model the schema no longer has")
    for name, component in sorted(components.items()):
        model = client.get(name)
        if model is None:
            problems.append(f"{name}: no client model")
            continue
        if "enum" in component:
            values = sorted(member.value for member in model)  # type: ignore[attr-defined]
            if values != sorted(component["enum"]):
                problems.append(f"{name}: values {values} != {sorted(component['enum'])}")
            continue
        fields = component.get("properties", {})
        info = msgspec.inspect.type_info(model)
        assert isinstance(info, msgspec.inspect.StructType)
        theirs = {field.name: field for field in info.fields}
        for missing in sorted(set(fields) - set(theirs)):
            problems.append(f"{name}.{missing}: no such field in the client")
        for extra in sorted(set(theirs) - set(fields)):
            problems.append(f"{name}.{extra}: a client field the schema does not have")
        required = {field.name for field in info.fields if field.required}
        if required != set(component.get("required", [])):
            problems.append(
                f"{name}: required {sorted(required)} != {sorted(component.get('required', []))}"
            )
        for field in sorted(set(fields) & set(theirs)):
            expected = _server_type(fields[field], components)
            actual = _client_type(theirs[field].type)
            if expected != actual:
                problems.append(f"{name}.{field}: {actual} != the schema's {expected}")
    assert problems == []


def _operations(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, item in spec["paths"].items()
        if path.startswith("/v1/")
        for method, operation in item.items()
        if method in METHODS and (method.upper(), path) not in NOT_FOR_CALLERS
    }


def _routes() -> dict[str, Route]:
    return {name: value for name, value in vars(resources).items() if isinstance(value, Route)}


def _called_routes() -> set[str]:
    """The names of the routes some method of a resource class calls."""
    called: set[str] = set()
    for resource in vars(resources).values():
        if inspect.isclass(resource) and issubclass(resource, resources.Resource):
            for function in vars(resource).values():
                function = getattr(function, "__func__", function)
                if inspect.isfunction(function):
                    called |= set(function.__code__.co_names)
    return called & set(_routes())


def test_every_v1_operation_has_a_client_method(spec: dict[str, Any]) -> None:
    routes = _routes()
    covered = {(route.method, route.path) for route in routes.values()}
    missing = sorted(set(_operations(spec)) - covered)
    assert missing == [], "no client method for: " + ", ".join(f"{m} {p}" for m, p in missing)
    unknown = sorted(covered - set(_operations(spec)))
    assert unknown == [], f"client routes the service does not have: {unknown}"
    uncalled = sorted(set(routes) - _called_routes())
    assert uncalled == [], f"routes no client method calls: {uncalled}"


def _type_name(answer: Any) -> str:
    if get_origin(answer) is list:
        return f"array[{_type_name(get_args(answer)[0])}]"
    if get_origin(answer) is dict:
        return "object"  # a bare map, such as the tags of PUT /v1/numbers/{number}/tags
    return answer.__name__


def _schema_name(schema: dict[str, Any]) -> set[str]:
    if "$ref" in schema:
        return {_name(schema["$ref"])}
    if "oneOf" in schema:
        return set().union(*(_schema_name(part) for part in schema["oneOf"])) - {"null"}
    if schema.get("type") == "array":
        return {f"array[{name}]" for name in _schema_name(schema["items"])}
    return {str(schema.get("type"))}


def test_each_route_sends_and_reads_what_the_schema_says(spec: dict[str, Any]) -> None:
    operations = _operations(spec)
    problems = []
    for name, route in sorted(_routes().items()):
        operation = operations[(route.method, route.path)]
        query = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        if set(route.query) != query:
            problems.append(f"{name}: query {sorted(route.query)} != {sorted(query)}")
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        expected_body = _schema_name(body["schema"]) if body else set()
        actual_body = {_type_name(route.body)} if route.body else set()
        if actual_body != expected_body:
            problems.append(f"{name}: body {actual_body} != {expected_body}")
        successes = {
            int(status): response
            for status, response in operation["responses"].items()
            if status.startswith("2")
        }
        if set(route.answers) - set(successes):
            problems.append(f"{name}: answers {sorted(route.answers)} != {sorted(successes)}")
        for status, answer in route.answers.items():
            if answer is None or answer is str or status not in successes:
                continue
            content = successes[status].get("content", {}).get("application/json")
            if content is None or _type_name(answer) not in _schema_name(content["schema"]):
                problems.append(f"{name}: {status} answer {_type_name(answer)} != {content}")
    assert problems == []
