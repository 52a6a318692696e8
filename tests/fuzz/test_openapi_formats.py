"""The schema tells the truth about money and times: a money string's pattern and a real
example on every amount, RFC 3339 date-times, and examples that follow both."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from app.lib.money import MONEY_PATTERN
from tests.support.api import Client

# Every name an amount goes by in a response; any property so named must be money.
MONEY_NAMES = {
    "setup",
    "basic_charge",
    "sms_mo",
    "voice_mo",
    "monthly_cost",
    "monthly",
    "annually",
    "recurring",
    "usage",
    "total",
}
EXPECTED = {
    ("FeesOut", "setup"),
    ("FeesOut", "basic_charge"),
    ("FeesOut", "sms_mo"),
    ("FeesOut", "voice_mo"),
    ("NumberOut", "monthly_cost"),
    ("IntervalFeesOut", "basic_charge"),
    ("IntervalFeesOut", "setup"),
    ("AvailableFeesOut", "sms_mo"),
    ("AvailableFeesOut", "voice_mo"),
    ("MonthlyEquivalent", "monthly"),
    ("MonthlyEquivalent", "annually"),
    *(("CostRowOut", name) for name in ("recurring", "setup", "usage", "total")),
    *(("CostTotalsOut", name) for name in ("recurring", "setup", "usage", "total")),
    *(("ForecastMonthOut", name) for name in ("recurring", "setup", "total")),
    *(("ForecastTotalsOut", name) for name in ("recurring", "setup", "total")),
}


def properties(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for schema_name, schema in spec["components"]["schemas"].items():
        for name, prop in schema.get("properties", {}).items():
            yield schema_name, name, prop


def example_values(node: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    """Every (field name, value) inside the examples of ``node``."""
    if isinstance(node, dict):
        for name, value in node.items():
            yield (name, value)
            yield from example_values(value, name)
    elif isinstance(node, list):
        for value in node:
            yield from example_values(value, key)


async def test_every_amount_is_a_money_string_with_a_real_example(client: Client) -> None:
    spec = (await client.get("/schema/openapi.json")).json()
    money = {
        (schema, name): prop
        for schema, name, prop in properties(spec)
        if prop.get("pattern") == MONEY_PATTERN
    }
    assert set(money) >= EXPECTED
    for prop in money.values():
        types = {prop.get("type")} | {branch.get("type") for branch in prop.get("oneOf", [])}
        assert types - {None} <= {"string", "null"}, prop
        assert prop["examples"] == ["4.90"], prop
    # An object (seven's fees per interval, say) may share a name; a value may not.
    named_like_money = {
        (s, n) for s, n, prop in properties(spec) if n in MONEY_NAMES and "$ref" not in prop
    }
    assert named_like_money <= set(money)
    # No amount (or anything else) is documented as a binary float.
    assert all(prop.get("type") != "number" for _, _, prop in properties(spec))


async def test_times_are_date_times_and_sevens_carry_their_berlin_offset(client: Client) -> None:
    spec = (await client.get("/schema/openapi.json")).json()
    number = spec["components"]["schemas"]["NumberOut"]["properties"]
    for name in ("created", "expires"):
        assert any(
            (kind.get("type"), kind.get("format")) == ("string", "date-time")
            for kind in number[name]["oneOf"]
        )
        assert number[name]["examples"] == ["2024-01-31T17:06:27+01:00"]
    seven = spec["components"]["schemas"]["SevenTimes"]["properties"]
    assert seven["created"]["examples"] == ["2024-01-31 17:06:27"]


async def test_the_examples_follow_the_formats(client: Client) -> None:
    spec = (await client.get("/schema/openapi.json")).json()
    examples = [
        value
        for item in spec["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict)
        for response in operation.get("responses", {}).values()
        for content in response.get("content", {}).values()
        for value in content.get("examples", {}).values()
    ]
    amounts = [value for name, value in example_values(examples) if name in MONEY_NAMES and value]
    assert "59.75" in amounts  # the cost report's example
    assert all(isinstance(a, str) and re.fullmatch(MONEY_PATTERN, a) for a in amounts), amounts
