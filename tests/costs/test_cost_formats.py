"""Cost reports and forecasts show every amount in the one money format, JSON and CSV alike."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import asyncpg
import msgspec
import pytest

from app.costs.model import Basis, GroupBy, Report, Row
from app.costs.schemas import forecast_out, report_csv, report_out
from app.costs.service import ForecastMonth
from app.lib.money import MONEY_PATTERN
from tests.support.api import Client
from tests.support.costs import CASES, store

AMOUNTS = ("recurring", "setup", "usage", "total")


@pytest.fixture
async def conn(database_url: str) -> Any:
    connection = await asyncpg.connect(database_url)
    yield connection
    await connection.close()


def amounts_of(body: dict[str, Any]) -> Iterator[str]:
    for item in [*body.get("rows", []), *body.get("months", []), body["totals"]]:
        yield from (item[name] for name in AMOUNTS if name in item)


def test_amounts_leave_in_the_one_format_whatever_decimal_holds_them() -> None:
    """The service rounds to cents, but the format does not depend on it: ``4.9`` and
    ``0`` leave as ``"4.90"`` and ``"0.00"``, in the JSON and in the CSV."""
    odd = Row("DE", 1, Decimal("4.9"), Decimal("0"), Decimal("0.0000"), Decimal("4.9"))
    report = Report([odd], Row("total", 1, Decimal("4.9"), Decimal(0), Decimal(0), Decimal(5)))
    body = msgspec.to_builtins(report_out("2026-03", Basis.CASH, GroupBy.COUNTRY, report))
    assert body["rows"] == [
        {
            "key": "DE",
            "name": None,
            "numbers": 1,
            "recurring": "4.90",
            "setup": "0.00",
            "usage": "0.00",
            "total": "4.90",
        }
    ]
    assert body["totals"] == {
        "numbers": 1,
        "recurring": "4.90",
        "setup": "0.00",
        "usage": "0.00",
        "total": "5.00",
    }
    assert report_csv(report).splitlines() == [
        "key,name,numbers,recurring,setup,usage,total",
        "DE,,1,4.90,0.00,0.00,4.90",
        "total,,1,4.90,0.00,0.00,5.00",
    ]
    month = ForecastMonth("2026-03", 1, Decimal(10), Decimal("0"), Decimal(10), 0)
    forecast = msgspec.to_builtins(forecast_out([month, month]))
    assert forecast["months"][0] | forecast["totals"] == {
        "month": "2026-03",
        "numbers": 1,
        "recurring": "20.00",
        "setup": "0.00",
        "total": "20.00",
        "unpriced": 0,
    }


async def test_report_json_and_csv_and_forecast_over_postgres(
    conn: asyncpg.Connection, client: Client, admin_headers: dict[str, str]
) -> None:
    await store(conn, list({case.facts.number: case.facts for case in CASES}.values()))
    for month in ("2026-03", "1999-01"):  # charges, and none at all
        params = {"month": month, "group_by": "number", "basis": "accrual"}
        body = (await client.get("/v1/costs", params=params, headers=admin_headers)).json()
        as_csv = await client.get(
            "/v1/costs", params=params, headers={**admin_headers, "Accept": "text/csv"}
        )
        records = list(csv.DictReader(io.StringIO(as_csv.text)))
        shown = list(amounts_of(body))
        assert shown and all(re.fullmatch(MONEY_PATTERN, amount) for amount in shown), shown
        # The CSV writes the very strings of the JSON: rows, then the totals.
        assert [r[name] for r in records for name in AMOUNTS] == shown
    assert body["totals"] | {"numbers": None} == {
        "numbers": None,
        **dict.fromkeys(AMOUNTS, "0.00"),
    }
    forecast = await client.get("/v1/costs/forecast", headers=admin_headers)
    assert forecast.status_code == 200, forecast.text
    shown = list(amounts_of(forecast.json()))
    assert shown and all(re.fullmatch(MONEY_PATTERN, amount) for amount in shown), shown
