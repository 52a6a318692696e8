"""``GET /v1/costs`` and ``/v1/costs/forecast`` over real Postgres, against hand-worked figures.

The inventories are the unit tests' cases (``tests.support.costs``), written into
the tables the way the service writes them: fee changes go through the ``numbers``
trigger, allocations are rows with timestamps, usage is the webhook's daily table.
"""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from collections.abc import Coroutine
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

import asyncpg
import pytest

from app.costs.limits import slot_key
from app.costs.model import Month, NumberFacts, add_months, report
from app.costs.service import berlin_today
from app.lib.auth import BOOTSTRAP_ADMIN, Principal
from tests.support.api import Client
from tests.support.costs import (
    CASES,
    MOVED,
    POOL_P,
    TENANT_A,
    TENANT_B,
    Case,
    fee_version,
    store,
)
from tests.support.db import connected
from tests.support.polling import until
from tests.support.tenancy import issue_tenant_key, key_headers

T = TypeVar("T")


@pytest.fixture
async def conn(database_url: str) -> Any:
    connection = await asyncpg.connect(database_url)
    yield connection
    await connection.close()


def figures(body: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    return {
        row["key"]: (row["recurring"], row["setup"], row["usage"], row["total"])
        for row in body["rows"]
    }


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_hand_computed_figures_on_both_bases(
    case: Case, conn: asyncpg.Connection, client: Client, admin_headers: dict[str, str]
) -> None:
    await store(conn, [case.facts])
    for basis in ("cash", "accrual"):
        response = await client.get(
            "/v1/costs",
            params={"month": case.month, "group_by": case.group_by, "basis": basis},
            headers=admin_headers,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["month"], body["basis"], body["currency"]) == (case.month, basis, "EUR")
        assert figures(body) == case.expected[basis], basis
        expected_total = sum((Decimal(t[3]) for t in case.expected[basis].values()), Decimal(0))
        assert Decimal(body["totals"]["total"]) == expected_total
        # One number each: counted once in the totals, even when holders shared it.
        assert body["totals"]["numbers"] == (1 if case.expected[basis] else 0), basis


async def test_fee_changes_are_versioned_by_the_trigger(conn: asyncpg.Connection) -> None:
    facts = CASES[0].facts
    await store(conn, [facts])
    await conn.execute("UPDATE numbers SET friendly_name = 'x' WHERE number = $1", facts.number)
    await conn.execute("UPDATE numbers SET fee_basic_charge = 12 WHERE number = $1", facts.number)
    versions = await conn.fetch(
        "SELECT fee_basic_charge FROM number_fee_versions WHERE number = $1 ORDER BY id",
        facts.number,
    )
    # Insert, then the fee change; the friendly-name update wrote nothing.
    assert [v["fee_basic_charge"] for v in versions] == [Decimal(10), Decimal(12)]


async def test_csv_has_the_same_rows_as_json(
    conn: asyncpg.Connection, client: Client, admin_headers: dict[str, str]
) -> None:
    await store(conn, list({case.facts.number: case.facts for case in CASES}.values()))
    params = {"month": "2026-03", "group_by": "tenant", "basis": "accrual"}
    as_json = (await client.get("/v1/costs", params=params, headers=admin_headers)).json()
    response = await client.get(
        "/v1/costs", params=params, headers={**admin_headers, "Accept": "text/csv"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    reader = csv.DictReader(io.StringIO(response.text))
    records = list(reader)
    assert reader.fieldnames == ["key", "name", "numbers", "recurring", "setup", "usage", "total"]
    totals = records.pop()
    assert totals["key"] == "total"
    columns = ("key", "numbers", "recurring", "setup", "usage", "total")
    assert [tuple(r[c] for c in columns) for r in records] == [
        tuple(str(row[c]) for c in columns) for row in as_json["rows"]
    ]
    assert [r["name"] for r in records] == [row["name"] or "" for row in as_json["rows"]]
    assert tuple(totals[c] for c in columns[1:]) == tuple(
        str(as_json["totals"][c]) for c in columns[1:]
    )
    assert len(records) == 4  # tenants A and B, pool:P and unassigned


async def test_rows_by_tenant_or_pool_carry_the_name_beside_the_key(
    conn: asyncpg.Connection, client: Client, admin_headers: dict[str, str]
) -> None:
    await store(conn, list({case.facts.number: case.facts for case in CASES}.values()))
    await conn.execute("UPDATE tenants SET name = 'Tenant ' || right(id::text, 1)")
    await conn.execute("UPDATE pools SET name = 'support-de'")

    async def names(group_by: str) -> dict[str, str | None]:
        params = {"month": "2026-03", "group_by": group_by, "basis": "accrual"}
        body = (await client.get("/v1/costs", params=params, headers=admin_headers)).json()
        assert "name" not in body["totals"]
        return {row["key"]: row["name"] for row in body["rows"]}

    assert await names("tenant") == {
        TENANT_A: "Tenant a",
        TENANT_B: "Tenant b",
        f"pool:{POOL_P}": "support-de",
        "unassigned": None,
    }
    assert await names("pool") == {POOL_P: "support-de", "unassigned": None}
    assert set((await names("country")).values()) == {None}
    assert set((await names("number")).values()) == {None}


async def test_without_a_month_the_report_is_of_the_current_month_in_berlin(
    conn: asyncpg.Connection, client: Client, admin_headers: dict[str, str]
) -> None:
    """As the CLI's ``costs`` reads it: nobody has to work out the month first."""
    await store(conn, list({case.facts.number: case.facts for case in CASES}.values()))
    this_month = str(Month.of(berlin_today()))
    implicit = await client.get("/v1/costs", headers=admin_headers)
    explicit = await client.get("/v1/costs", params={"month": this_month}, headers=admin_headers)
    assert implicit.status_code == 200, implicit.text
    assert implicit.json()["month"] == this_month
    assert implicit.json() == explicit.json()
    as_csv = {**admin_headers, "Accept": "text/csv"}
    implicit_csv = await client.get("/v1/costs", headers=as_csv)
    explicit_csv = await client.get("/v1/costs", params={"month": this_month}, headers=as_csv)
    assert implicit_csv.status_code == 200
    assert implicit_csv.text == explicit_csv.text


async def test_a_tenant_key_sees_only_its_own_days(
    conn: asyncpg.Connection, client: Client, admin_headers: dict[str, str]
) -> None:
    await store(conn, [MOVED])
    headers = key_headers(await issue_tenant_key(client, admin_headers, TENANT_B))
    for group_by, key in (("tenant", TENANT_B), ("number", MOVED.number), ("pool", None)):
        response = await client.get(
            "/v1/costs",
            params={"month": "2026-03", "group_by": group_by, "basis": "accrual"},
            headers=headers,
        )
        body = response.json()
        assert body["totals"]["total"] == "11.00"
        assert [row["total"] for row in body["rows"]] == ["11.00"]
        if key:
            assert body["rows"][0]["key"] == key
    cash = await client.get(
        "/v1/costs", params={"month": "2026-03", "group_by": "tenant"}, headers=headers
    )
    assert cash.json()["rows"] == []  # billed on 1 March, while tenant A held it
    assert TENANT_A not in cash.text


async def test_malformed_queries_are_422_with_a_code(
    client: Client, admin_headers: dict[str, str]
) -> None:
    for params, code in [
        ({"month": "2026-13"}, "invalid_month"),
        ({"month": "March"}, "invalid_month"),
        ({"month": "9999-12"}, "invalid_month"),
        ({"month": "2026-03", "group_by": "colour"}, "invalid_group_by"),
        ({"month": "2026-03", "basis": "hope"}, "invalid_basis"),
    ]:
        response = await client.get("/v1/costs", params=params, headers=admin_headers)
        assert (response.status_code, response.json()["code"]) == (422, code), params
    for months in ["0", "25", "x", "-1", "1.5", "²"]:
        response = await client.get(
            "/v1/costs/forecast", params={"months": months}, headers=admin_headers
        )
        assert (response.status_code, response.json()["code"]) == (422, "invalid_months")


async def test_costs_need_a_key(client: Client) -> None:
    response = await client.get("/v1/costs", params={"month": "2026-03"})
    assert response.status_code == 401


async def test_forecast_counts_scheduled_deletions_and_orders_in_flight(
    conn: asyncpg.Connection, client: Client, admin_headers: dict[str, str]
) -> None:
    today = berlin_today()
    this_month = Month.of(today)
    fees = (fee_version("4", "10"),)
    running = NumberFacts("4915100000201", "DE", "monthly", add_months(today, -5), fees)
    # Deletion scheduled at the end of the period after next.
    ends = add_months(running.created, 7)
    deleting = NumberFacts("4915100000202", "DE", "monthly", running.created, fees, ends=ends)
    annual = NumberFacts("4915100000203", "DE", "annually", add_months(today, -13), fees)
    await store(conn, [running, deleting, annual])
    # Two orders in flight: one with the fees seven quoted, one not yet priced.
    for number, basic in (("4915100000204", Decimal("10")), ("4915100000205", None)):
        await conn.execute(
            "INSERT INTO numbers (number, country, payment_interval, state, fee_setup,"
            " fee_basic_charge) VALUES ($1, 'DE', 'monthly', 'ordering', $2, $3)",
            number,
            Decimal("4") if basic else None,
            basic,
        )
    response = await client.get(
        "/v1/costs/forecast", params={"months": "12"}, headers=admin_headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["months"]) == 12
    ordered = NumberFacts("4915100000204", "DE", "monthly", today, fees)
    month = this_month
    for projected in body["months"]:
        expected = report([running, deleting, annual, ordered], month, "cash", "country")
        assert projected["month"] == str(month)
        assert Decimal(projected["total"]) == expected.totals.total, projected
        assert projected["unpriced"] == 1  # the unpriced order, billed monthly from today
        month = month.next()
    assert Decimal(body["totals"]["total"]) == sum(Decimal(m["total"]) for m in body["months"])


async def test_forecast_counts_a_missing_number_seven_may_still_bill(
    conn: asyncpg.Connection, client: Client, admin_headers: dict[str, str]
) -> None:
    today = berlin_today()
    fees = (fee_version("0", "10"),)
    missing = NumberFacts("4915100000301", "DE", "monthly", add_months(today, -2), fees)
    await store(conn, [missing])
    await conn.execute(
        "UPDATE numbers SET state = 'missing', missing_since = now() WHERE number = $1",
        missing.number,
    )
    body = (
        await client.get("/v1/costs/forecast", params={"months": "2"}, headers=admin_headers)
    ).json()
    assert [(m["numbers"], m["total"]) for m in body["months"]] == [(1, "10.00"), (1, "10.00")]


async def test_rows_are_rounded_half_even_once(
    conn: asyncpg.Connection, client: Client, admin_headers: dict[str, str]
) -> None:
    # Setups of 0.005: alone, half-even gives 0.00; two on one row give 0.01 (not 0.00 + 0.00).
    fees = (fee_version("0.005", "0"),)
    await store(
        conn,
        [
            NumberFacts("4915100000401", "DE", "monthly", date(2026, 3, 1), fees),
            NumberFacts("4915100000402", "DE", "monthly", date(2026, 3, 1), fees),
            NumberFacts("4915100000403", "AT", "monthly", date(2026, 3, 1), fees),
        ],
    )
    params = {"month": "2026-03", "group_by": "country"}
    body = (await client.get("/v1/costs", params=params, headers=admin_headers)).json()
    assert {row["key"]: row["setup"] for row in body["rows"]} == {"AT": "0.00", "DE": "0.01"}
    assert body["totals"]["setup"] == "0.02"  # 0.015, half-even


async def test_a_tenant_forecast_counts_only_its_numbers(
    conn: asyncpg.Connection, client: Client, admin_headers: dict[str, str]
) -> None:
    today = berlin_today()
    fees = (fee_version("0", "10"),)
    created = add_months(today, -2)
    ours = NumberFacts("4915100000501", "DE", "monthly", created, fees)
    theirs = NumberFacts("4915100000502", "DE", "monthly", created, (fees[0],))
    await store(conn, [ours, theirs, MOVED])  # MOVED brings tenants A and B
    await conn.execute(
        "UPDATE numbers SET tenant_id = $1 WHERE number = $2", uuid.UUID(TENANT_B), ours.number
    )
    headers = key_headers(await issue_tenant_key(client, admin_headers, TENANT_B))
    mine = (await client.get("/v1/costs/forecast", params={"months": "2"}, headers=headers)).json()
    every = (
        await client.get("/v1/costs/forecast", params={"months": "2"}, headers=admin_headers)
    ).json()
    assert [m["total"] for m in mine["months"]] == ["10.00", "10.00"]
    assert [m["numbers"] for m in mine["months"]] == [1, 1]
    assert len(every["months"]) == 2
    assert all(Decimal(m["total"]) >= Decimal("51.00") for m in every["months"])


_SLOT_HOLDERS = """
    SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1
    AND ((classid::bigint << 32) | objid::bigint) = ANY($1::bigint[])
"""


async def _holders(
    conn: asyncpg.Connection, keys: list[int], count: int, gone: int | None = None
) -> list[int]:
    """The backends holding the report slots ``keys``, once there are ``count`` of them
    (and backend ``gone`` is not one of them)."""

    async def held() -> list[int] | None:
        pids = [row["pid"] for row in await conn.fetch(_SLOT_HOLDERS, keys)]
        return pids if len(pids) == count and gone not in pids else None

    return await until(held, f"{count} report slots held at once", every=0.05)


def _in_thread(request: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
    """Send a test client's request from another thread, now: the client answers each
    request on its own loop, blocking the caller's loop until it is done."""
    return asyncio.ensure_future(asyncio.to_thread(asyncio.run, request))


async def test_a_third_report_at_once_for_one_key_is_429_with_retry_after(
    conn: asyncpg.Connection, client: Client, admin_headers: dict[str, str], database_url: str
) -> None:
    """Reports are held running by a table lock the test takes: their statements wait for
    it while their slots are taken, as long as the test likes, on any machine."""
    await store(conn, [MOVED])
    tenant_headers = key_headers(await issue_tenant_key(client, admin_headers, TENANT_A))
    admin_slots = [slot_key(BOOTSTRAP_ADMIN, slot) for slot in range(2)]
    tenant_key_id = await conn.fetchval("SELECT id FROM api_keys")
    tenant_slots = [slot_key(Principal("tenant", tenant_key_id, uuid.UUID(TENANT_A)), 0)]
    month = {"month": "2026-03"}
    refused_body = {
        "status": 429,
        "code": "too_many_reports",
        "message": "At most 2 cost reports run at once for one API key; try again in 2 seconds.",
    }

    async with connected(database_url) as blocker, blocker.transaction():
        await blocker.execute("LOCK TABLE numbers IN ACCESS EXCLUSIVE MODE")
        running = [
            _in_thread(client.get("/v1/costs", params=month, headers=admin_headers)),
            _in_thread(client.get("/v1/costs/forecast", headers=admin_headers)),
        ]
        first, _ = await _holders(conn, admin_slots, 2)

        # The third, in any of its forms, is refused at once.
        for path, params, accept in (
            ("/v1/costs", month, "application/json"),
            ("/v1/costs", month, "text/csv"),
            ("/v1/costs/forecast", {}, "application/json"),
        ):
            refused = await asyncio.wait_for(
                client.get(path, params=params, headers={**admin_headers, "Accept": accept}),
                timeout=10,
            )
            assert refused.status_code == 429, (path, accept, refused.text)
            assert refused.headers["retry-after"] == "2"
            assert refused.json() == refused_body

        # Another key has slots of its own.
        running.append(_in_thread(client.get("/v1/costs", params=month, headers=tenant_headers)))
        await _holders(conn, tenant_slots, 1)

        # A request whose connection dies (its API process crashed) frees its slot:
        # once its backend has gone (waited for, up to 5 s), another report gets it.
        assert await conn.fetchval("SELECT pg_terminate_backend($1, 5000)", first)
        running.append(_in_thread(client.get("/v1/costs", params=month, headers=admin_headers)))
        await _holders(conn, admin_slots, 2, gone=first)

    answers = await asyncio.wait_for(asyncio.gather(*running), timeout=30)
    # The one cut off fails; the others ran once the table was free.
    assert sorted(a.status_code for a in answers)[:3] == [200, 200, 200]
    again = await client.get("/v1/costs", params=month, headers=admin_headers)
    assert again.status_code == 200
