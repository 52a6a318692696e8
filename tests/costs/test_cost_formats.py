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

from app.costs import rendered as rendered_module
from app.costs.model import Basis, GroupBy, Report, Row
from app.costs.rendered import decoded, render, report_csv
from app.costs.schemas import forecast_out, report_json, report_out
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


def test_a_report_rendered_once_answers_as_the_api_schema_writes_it_and_decodes_exactly() -> None:
    """The JSON written around the rows encoded once is the schema's own encoding, the
    CSV the one report_csv writes; decoding gives back every figure to the cent."""
    rows = [
        Row("4915100000031", 1, Decimal("9.80"), Decimal("0.00"), Decimal("0.15"), Decimal("9.95")),
        Row("pool:p", 2, Decimal("-0.50"), Decimal("19.90"), Decimal(0), Decimal("19.40"), "P"),
        Row('a "quoted", name', 0, Decimal("1234567.89"), *[Decimal("0.01")] * 3, "x,\ny"),
    ]
    totals = Row("total", 3, Decimal("1234577.19"), Decimal("19.91"), Decimal("0.16"), Decimal(0))
    report = Report(rows, totals)
    rendered = render(report)
    for tag in (None, "cost_center"):
        expected = msgspec.json.encode(report_out("2026-03", Basis.CASH, GroupBy.TAG, report, tag))
        assert report_json("2026-03", Basis.CASH, GroupBy.TAG, rendered, tag) == expected
    assert rendered.csv == report_csv(report).encode()
    again = decoded(rendered)
    assert again == report
    assert [str(row.recurring) for row in again.rows] == ["9.80", "-0.50", "1234567.89"]
    assert decoded(render(Report([], totals))) == Report([], totals)


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


def test_a_live_report_encodes_only_the_part_an_answer_asks_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A JSON answer does not write the 97,000 lines of CSV too, nor a CSV answer the
    JSON; the figures the CLI's table reads are the report's own, never re-read."""
    written: list[Report] = []

    def counting_csv(report: Report) -> str:
        written.append(report)
        return report_csv(report)

    monkeypatch.setattr(rendered_module, "report_csv", counting_csv)
    totals = Row("total", 0, *[Decimal("0.00")] * 4)
    report = Report([Row("DE", 1, *[Decimal("1.00")] * 4)], totals)
    answer = render(report)
    assert answer.rows and answer.totals and not written
    assert answer.csv == answer.csv and written == [report]
    assert decoded(answer) is report
