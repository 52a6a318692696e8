"""``GET /v1/costs?group_by=tag:<key>``: a number's own tag first, else the tag of the
tenant holding it on those days, else ``untagged``; the rows add up to the report by
number, to the cent, on both bases and in JSON and CSV alike."""

from __future__ import annotations

import csv
import dataclasses
import io
from collections import defaultdict
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from app.costs.model import UNTAGGED, Basis, Month, Row, build_report, charges, make_row
from tests.support.api import Client
from tests.support.costs import CASES, MOVED, TENANT_A, TENANT_B, store
from tests.support.tenancy import issue_tenant_key, key_headers

# MOVED is held by tenant A, then sits in the pool, then is held by B; its twin too.
TWIN = dataclasses.replace(MOVED, number="4915100000102")
INVENTORY = [*{case.facts.number: case.facts for case in CASES}.values(), TWIN]
MONTHS = sorted({case.month for case in CASES})
# Tenant A tagged, B not. MOVED has its own tag, which wins over A's; its twin has none,
# so A's days are A's tag and the pool's and B's untagged; one number nobody holds has
# its own tag; the rest none.
TENANT_TAGS = {TENANT_A: "crm"}
UNHELD = next(f.number for f in INVENTORY if not f.holdings and f.number != MOVED.number)
NUMBER_TAGS = {MOVED.number: "ops", UNHELD: "ops"}


def expected_by_tag(month: str, basis: Basis) -> dict[str, Row]:
    """The model's exact charges, each keyed as the rule says, rounded once per row."""
    sums: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    members: dict[str, set[str]] = defaultdict(set)
    for facts in INVENTORY:
        for charge in charges(facts, Month.parse(month), basis):
            key = NUMBER_TAGS.get(charge.number) or TENANT_TAGS.get(charge.tenant or "")
            sums[key or UNTAGGED][charge.kind] += charge.amount
            members[key or UNTAGGED].add(charge.number)
    return {
        key: make_row(key, len(members[key]), s["recurring"], s["setup"], s["usage"])
        for key, s in sums.items()
    }


def money_figures(row: Any) -> tuple[str, str, str, str]:
    return (str(row["recurring"]), str(row["setup"]), str(row["usage"]), str(row["total"]))


def model_figures(row: Row) -> tuple[str, str, str, str]:
    return (f"{row.recurring}", f"{row.setup}", f"{row.usage}", f"{row.total}")


@pytest.fixture
async def tagged(database_url: str, client: Client, admin_headers: dict[str, str]) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        await store(connection, INVENTORY)
    finally:
        await connection.close()
    for tenant, value in TENANT_TAGS.items():
        response = await client.patch(
            f"/v1/tenants/{tenant}", json={"tags": {"cost_center": value}}, headers=admin_headers
        )
        assert response.status_code == 200, response.text
    for number, value in NUMBER_TAGS.items():
        response = await client.put(
            f"/v1/numbers/{number}/tags", json={"cost_center": value}, headers=admin_headers
        )
        assert response.status_code == 200, response.text


@pytest.mark.parametrize("basis", ["cash", "accrual"])
@pytest.mark.usefixtures("tagged")
async def test_costs_by_tag_are_the_costs_by_number_regrouped(
    client: Client, admin_headers: dict[str, str], basis: str
) -> None:
    seen = set()
    for month in MONTHS:
        params = {"month": month, "basis": basis}
        by_tag = await client.get(
            "/v1/costs", params={**params, "group_by": "tag:cost_center"}, headers=admin_headers
        )
        assert by_tag.status_code == 200, by_tag.text
        body = by_tag.json()
        assert (body["group_by"], body["tag"]) == ("tag", "cost_center")
        by_number = (
            await client.get(
                "/v1/costs", params={**params, "group_by": "number"}, headers=admin_headers
            )
        ).json()

        expected = expected_by_tag(month, Basis(basis))
        assert {row["key"]: money_figures(row) for row in body["rows"]} == {
            key: model_figures(row) for key, row in expected.items()
        }, month
        assert [row["name"] for row in body["rows"]] == [None] * len(body["rows"])
        # The same money as by number: the totals agree to the cent, and so does each
        # row with the numbers' own figures wherever a number stayed in one group.
        assert body["totals"] == by_number["totals"], month
        model_total = build_report(
            (c for f in INVENTORY for c in charges(f, Month.parse(month), Basis(basis))), "number"
        ).totals
        assert body["totals"]["total"] == f"{model_total.total}"
        if basis == "cash":  # whole cents: the rows' sum is the numbers' sum exactly
            assert sum(Decimal(row["total"]) for row in body["rows"]) == sum(
                Decimal(row["total"]) for row in by_number["rows"]
            )
        seen |= set(expected)
    # Every branch of the rule was met: own tag, the holder's, and none.
    assert seen == {"ops", "crm", UNTAGGED}


@pytest.mark.usefixtures("tagged")
async def test_the_csv_has_the_json_rows_and_a_tenant_sees_its_days_only(
    client: Client, admin_headers: dict[str, str]
) -> None:
    params = {"month": "2026-03", "basis": "accrual", "group_by": "tag:cost_center"}
    as_json = (await client.get("/v1/costs", params=params, headers=admin_headers)).json()
    response = await client.get(
        "/v1/costs", params=params, headers={**admin_headers, "Accept": "text/csv"}
    )
    records = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["key"], r["name"], r["total"]) for r in records] == [
        (row["key"], "", row["total"]) for row in as_json["rows"]
    ] + [("total", "", as_json["totals"]["total"])]

    key = await issue_tenant_key(client, admin_headers, TENANT_B)
    mine = (await client.get("/v1/costs", params=params, headers=key_headers(key))).json()
    # Tenant B (untagged) held MOVED (its own tag ops) and its twin (no tag) in March.
    assert [row["key"] for row in mine["rows"]] == ["ops", UNTAGGED]
    tenant_report = await client.get(
        "/v1/costs", params={**params, "group_by": "tenant"}, headers=key_headers(key)
    )
    assert mine["totals"] == tenant_report.json()["totals"]


@pytest.mark.parametrize("group_by", ["tag", "tag:", "tag:Cost", "tag:a:b", "colour"])
async def test_a_bad_grouping_is_a_422(
    client: Client, admin_headers: dict[str, str], group_by: str
) -> None:
    response = await client.get(
        "/v1/costs", params={"month": "2026-03", "group_by": group_by}, headers=admin_headers
    )
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "invalid_group_by"
    assert body["details"]["parameter"] == "group_by"


async def test_the_grouping_is_read_in_any_case_and_the_key_as_written(
    client: Client, admin_headers: dict[str, str]
) -> None:
    response = await client.get(
        "/v1/costs",
        params={"month": "2026-03", "group_by": "TAG:cost_center"},
        headers=admin_headers,
    )
    assert response.status_code == 200, response.text
    assert (response.json()["group_by"], response.json()["tag"]) == ("tag", "cost_center")
    plain = await client.get(
        "/v1/costs", params={"month": "2026-03", "group_by": "Number"}, headers=admin_headers
    )
    assert (plain.json()["group_by"], plain.json()["tag"]) == ("number", None)
