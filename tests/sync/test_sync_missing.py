"""Numbers seven's list leaves out: missing first, deleted only once confirmed.

Against the sandbox and a real Postgres, like ``test_sync.py``. Holders are made through
the API (a pool, tenants, allocations). Where a test needs seven's single reads to say
nothing, the sandbox answers them with 503 (seven unwell), so only the list decides.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import msgspec
import pytest
from sqlalchemy import select, text

from app.db.models import Allocation, Number, SyncDrift, SyncRun
from app.resources import Resources
from app.seven.client import SevenClient
from app.sync.diff import DiffCounts
from app.sync.service import SyncOutcome, run_sync
from tests.support.api import Client, Headers
from tests.support.operations import rent
from tests.support.sandbox import SandboxProcess
from tests.support.tenancy import create_pool, create_tenant, fill_pool

#: Long enough that no test waits it out: a second sync inside it never confirms.
WINDOW = 3600
#: Deleted and nobody's: no holder, no open allocation, no missing clock.
GONE = ("deleted", None, None, None)


async def sync(
    resources: Resources,
    seven: SevenClient | None = None,
    *,
    window: int = WINDOW,
    share: float = 0.5,
) -> SyncOutcome:
    return await run_sync(
        resources.engine,
        seven or resources.seven,
        max_removed_share=share,
        confirm_missing_seconds=window,
    )


@dataclass(frozen=True)
class Ran:
    run_id: uuid.UUID
    counts: DiffCounts


async def ran(resources: Resources, seven: SevenClient | None = None, **options: Any) -> Ran:
    """A sync that ran: its run and counts."""
    outcome = await sync(resources, seven, **options)
    assert outcome.outcome == "ran", outcome
    assert outcome.run_id is not None and outcome.counts is not None
    return Ran(outcome.run_id, outcome.counts)


@dataclass(frozen=True)
class Holding:
    state: str
    tenant: uuid.UUID | None
    pool: uuid.UUID | None
    missing_since: datetime | None
    allocation: uuid.UUID | None
    """The id of the number's open allocation interval, if it has one."""


async def holding(resources: Resources, number: str) -> Holding:
    async with resources.sessions() as session:
        row = await session.get(Number, number)
        assert row is not None, number
        allocation = await session.scalar(
            select(Allocation.id).where(
                Allocation.number == number, Allocation.released_at.is_(None)
            )
        )
    return Holding(row.state, row.tenant_id, row.pool_id, row.missing_since, allocation)


async def holding_row(resources: Resources, number: str) -> Number:
    async with resources.sessions() as session:
        row = await session.get(Number, number)
    assert row is not None
    return row


async def drift_of(resources: Resources, run_id: uuid.UUID) -> list[tuple[str, str]]:
    """(number, kind) of a run's drift, in the order it was recorded."""
    async with resources.sessions() as session:
        found = await session.execute(
            select(SyncDrift.number, SyncDrift.kind)
            .where(SyncDrift.run_id == run_id)
            .order_by(SyncDrift.id)
        )
    return [(number, kind) for number, kind in found.tuples()]


async def row_versions(resources: Resources) -> dict[str, str]:
    async with resources.sessions() as session:
        rows = await session.execute(text("SELECT number, xmin::text FROM numbers"))
    return dict(rows.tuples().all())


@dataclass(frozen=True)
class Held:
    numbers: list[str]
    pool: str
    tenant: str


async def held_numbers(
    client: Client, admin: Headers, resources: Resources, sandbox: SandboxProcess, count: int
) -> Held:
    """``count`` numbers at seven, mirrored, in one pool and all allocated to one tenant."""
    numbers = rent(sandbox, count)
    await ran(resources)
    pool = await create_pool(client, admin, numbers)
    tenant, _ = await create_tenant(client, admin, "tenant-a")
    for _ in numbers:
        await allocate(client, admin, pool, tenant, expect=201)
    return Held(numbers, pool, tenant)


@pytest.fixture
async def held(
    client: Client, admin_headers: Headers, resources: Resources, fresh_sandbox: SandboxProcess
) -> Held:
    """Two numbers at seven, mirrored, in one pool and held by one tenant."""
    return await held_numbers(client, admin_headers, resources, fresh_sandbox, 2)


async def allocate(
    client: Client, admin: Headers, pool: str, tenant: str, *, expect: int
) -> dict[str, Any]:
    response = await client.post(
        "/v1/allocations", json={"pool": pool, "tenant": tenant}, headers=admin
    )
    assert response.status_code == expect, response.text
    return response.json()


def reads_fail(sandbox: SandboxProcess) -> None:
    """seven answers every single read with 503 until the faults are cleared."""
    sandbox.add_fault("server_error", "active_get", times=None, status=503)


def as_seven_has_it(sandbox: SandboxProcess, number: str) -> dict[str, Any]:
    """The number's fields at seven, to put it back exactly as it was."""
    response = sandbox.api("GET", f"/numbers/active/{number}")
    assert response.status_code == 200, response.text
    return msgspec.json.decode(response.content)


async def test_a_number_missing_once_keeps_its_holder_and_shows_missing(
    client: Client,
    admin_headers: Headers,
    resources: Resources,
    fresh_sandbox: SandboxProcess,
    held: Held,
) -> None:
    gone, kept = held.numbers
    before = await holding(resources, gone)
    reads_fail(fresh_sandbox)
    fresh_sandbox.remove_active(gone)

    outcome = await ran(resources)

    assert (outcome.counts.missing, outcome.counts.removed, outcome.counts.unchanged) == (1, 0, 1)
    after = await holding(resources, gone)
    assert after.state == "missing" and after.missing_since is not None
    assert (after.tenant, after.pool, after.allocation) == (
        uuid.UUID(held.tenant),
        uuid.UUID(held.pool),
        before.allocation,
    )
    assert before.allocation is not None
    assert await drift_of(resources, outcome.run_id) == [(gone, "missing")]
    # The API shows it too: the number, the state filter and the run's drift.
    shown = await client.get(f"/v1/numbers/{gone}", headers=admin_headers)
    assert (shown.json()["state"], shown.json()["tenant"]) == ("missing", held.tenant)
    assert shown.json()["missing_since"] is not None
    listed = await client.get("/v1/numbers", params={"state": "missing"}, headers=admin_headers)
    assert [n["number"] for n in listed.json()["items"]] == [gone]
    run = await client.get(f"/v1/sync/runs/{outcome.run_id}", headers=admin_headers)
    [item] = run.json()["drift"]
    assert (item["number"], item["kind"], item["after"]) == (gone, "missing", None)
    assert item["before"]["country"] == (await holding_row(resources, gone)).country
    assert (await holding(resources, kept)).state == "active"


async def test_missing_twice_within_the_window_stays_missing_and_past_it_is_deleted(
    resources: Resources, fresh_sandbox: SandboxProcess, held: Held
) -> None:
    gone, _ = held.numbers
    reads_fail(fresh_sandbox)
    fresh_sandbox.remove_active(gone)
    await ran(resources, window=1)
    first = await holding(resources, gone)
    versions = await row_versions(resources)

    # Missed again within the window: nothing is written, the holder stays.
    again = await ran(resources, window=WINDOW)

    assert await holding(resources, gone) == first
    assert await row_versions(resources) == versions
    assert await drift_of(resources, again.run_id) == []

    # Missed again at least the window after the first sighting: gone for good.
    assert first.missing_since is not None
    await asyncio.sleep(1.1)
    confirmed = await ran(resources, window=1)

    last = await holding(resources, gone)
    assert (last.state, last.tenant, last.allocation, last.missing_since) == GONE
    assert confirmed.counts.removed == 1
    assert await drift_of(resources, confirmed.run_id) == [(gone, "removed")]


async def test_a_read_that_finds_the_number_gone_deletes_it_in_the_same_run(
    resources: Resources, fresh_sandbox: SandboxProcess, held: Held
) -> None:
    gone, kept = held.numbers
    fresh_sandbox.remove_active(gone)  # at seven a read of it now answers 404

    outcome = await ran(resources)

    last = await holding(resources, gone)
    assert (last.state, last.tenant, last.allocation, last.missing_since) == GONE
    assert await drift_of(resources, outcome.run_id) == [(gone, "missing"), (gone, "removed")]
    assert (outcome.counts.missing, outcome.counts.removed) == (1, 1)
    async with resources.sessions() as session:
        run = await session.get(SyncRun, outcome.run_id)
    assert run is not None and (run.status, run.removed) == ("succeeded", 1)
    assert (await holding(resources, kept)).tenant == uuid.UUID(held.tenant)


class ListLeavesOut(httpx.AsyncBaseTransport):
    """seven's whole list without some numbers; every other answer as the sandbox gives it."""

    def __init__(self, hidden: set[str]) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self._hidden = hidden

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if request.method != "GET" or not request.url.path.endswith("/numbers/active"):
            return response
        body = msgspec.json.decode(await response.aread())
        body["activeNumbers"] = [
            n for n in body["activeNumbers"] if n["number"] not in self._hidden
        ]
        return httpx.Response(
            response.status_code,
            headers={"Content-Type": "application/json"},
            content=msgspec.json.encode(body),
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


async def test_a_read_that_finds_the_number_brings_it_back_with_its_holder(
    resources: Resources, fresh_sandbox: SandboxProcess, held: Held
) -> None:
    skipped, _ = held.numbers
    before = await holding(resources, skipped)
    fresh_sandbox.put_active(skipped, friendly_name="Renamed at seven")
    http = httpx.AsyncClient(transport=ListLeavesOut({skipped}))
    short = SevenClient(fresh_sandbox.api_key, base_url=fresh_sandbox.base_url, http_client=http)

    async with http:
        outcome = await ran(resources, short)

    assert await holding(resources, skipped) == Holding(
        "active", before.tenant, before.pool, None, before.allocation
    )
    assert (await holding_row(resources, skipped)).friendly_name == "Renamed at seven"
    assert await drift_of(resources, outcome.run_id) == [
        (skipped, "missing"),
        (skipped, "changed"),
    ]
    async with resources.sessions() as session:
        changed = await session.scalar(
            select(SyncDrift).where(SyncDrift.run_id == outcome.run_id, SyncDrift.kind == "changed")
        )
    assert changed is not None
    assert (changed.before, changed.after) == (
        {"state": "missing", "friendly_name": ""},
        {"state": "active", "friendly_name": "Renamed at seven"},
    )
    assert (outcome.counts.missing, outcome.counts.removed) == (1, 0)


async def test_a_number_back_in_the_list_is_active_again_with_its_holder(
    resources: Resources, fresh_sandbox: SandboxProcess, held: Held
) -> None:
    number, _ = held.numbers
    before = await holding(resources, number)
    fields = as_seven_has_it(fresh_sandbox, number)
    reads_fail(fresh_sandbox)
    fresh_sandbox.remove_active(number)
    await ran(resources)
    assert (await holding(resources, number)).state == "missing"

    fresh_sandbox.put_active(**fields)
    back = await ran(resources)

    assert await holding(resources, number) == Holding(
        "active", before.tenant, before.pool, None, before.allocation
    )
    assert before.allocation is not None
    assert await drift_of(resources, back.run_id) == [(number, "changed")]
    assert (back.counts.changed, back.counts.removed) == (1, 0)


async def test_a_short_list_from_seven_moves_no_number_to_another_tenant(
    client: Client,
    admin_headers: Headers,
    resources: Resources,
    fresh_sandbox: SandboxProcess,
) -> None:
    held = await held_numbers(client, admin_headers, resources, fresh_sandbox, 3)
    (free,) = rent(fresh_sandbox, 1)
    await ran(resources)
    await fill_pool(client, admin_headers, held.pool, [free])
    tenant_b, _ = await create_tenant(client, admin_headers, "tenant-b")
    # seven glitches: its list leaves out two of A's numbers, and its reads fail as well.
    short = held.numbers[:2]
    kept = {number: as_seven_has_it(fresh_sandbox, number) for number in short}
    reads_fail(fresh_sandbox)
    for number in short:
        fresh_sandbox.remove_active(number)

    await ran(resources)

    got = await allocate(client, admin_headers, held.pool, tenant_b, expect=201)
    assert got["number"] == free
    refused = await allocate(client, admin_headers, held.pool, tenant_b, expect=409)
    assert refused["code"] == "pool_exhausted"

    # The list is whole again.
    fresh_sandbox.clear_faults()
    for fields in kept.values():
        fresh_sandbox.put_active(**fields)
    await ran(resources)

    for number in held.numbers:
        now = await holding(resources, number)
        assert (now.state, now.tenant, now.pool) == (
            "active",
            uuid.UUID(held.tenant),
            uuid.UUID(held.pool),
        )
        assert now.allocation is not None
    refused = await allocate(client, admin_headers, held.pool, tenant_b, expect=409)
    assert refused["code"] == "pool_exhausted"


async def test_the_guard_counts_numbers_becoming_missing_and_two_sighting_deletions(
    resources: Resources, fresh_sandbox: SandboxProcess
) -> None:
    numbers = rent(fresh_sandbox, 5)
    await ran(resources)
    first, second, third = numbers[:3]
    kept = as_seven_has_it(fresh_sandbox, third)
    reads_fail(fresh_sandbox)
    versions = await row_versions(resources)

    # Three of five would become missing: more than half.
    for number in (first, second, third):
        fresh_sandbox.remove_active(number)
    refused = await sync(resources)
    assert (refused.outcome, refused.error_code) == ("failed", "sync_guard_tripped")
    assert await row_versions(resources) == versions

    fresh_sandbox.put_active(**kept)
    await ran(resources)  # two of five become missing: allowed
    fresh_sandbox.remove_active(third)

    # With the window passed, the two missing ones would be deleted and a third go missing.
    due = await sync(resources, window=0)
    assert (due.outcome, due.error_code) == ("failed", "sync_guard_tripped")

    # Inside the window only the third counts.
    waiting = await ran(resources, window=WINDOW)
    assert (waiting.counts.missing, waiting.counts.removed) == (1, 0)
    for number in (first, second, third):
        assert (await holding(resources, number)).state == "missing"
