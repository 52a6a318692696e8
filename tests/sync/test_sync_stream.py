"""A sync reading seven's list as it arrives writes what one reading it whole wrote.

The same two runs (a first sync, then one after changes, removals and additions at
seven) are made twice against a real Postgres: once with the client's streamed list
(several batches, names that look like the place between two items), once with the
whole list read at once and handed over as one batch, as the sync read it before.
The mirror, the drift and the counts must be the same, and each row what the general
mapping (``columns_from_active``) makes of the whole body's decode.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest
from sqlalchemy import text

from app.numbers.mirror import SEVEN_COLUMNS, columns_from_active
from app.resources import Resources
from app.seven.client import SevenClient
from app.seven.types import ActiveNumber, ActiveNumbersResponse
from app.sync import baseline
from app.sync.service import run_sync
from tests.support.seven_docs import DOC_ACTIVE

NAMES = ["}, {", '"},{"', "a}\n,{b", "]}", "\\", "Support"]
COUNT = 6000  # about 2.6 MB of JSON: several batches of the splitter


class WholeListClient(SevenClient):
    """seven's list read whole before anything is written (the sync before streaming)."""

    async def stream_active(self) -> AsyncIterator[list[ActiveNumber]]:
        yield list(await self.list_active())


def _listing(count: int) -> list[dict[str, Any]]:
    return [
        {
            **DOC_ACTIVE,
            "number": str(4915170000000 + i),
            "friendly_name": NAMES[i % len(NAMES)],
            "expires": "2031-01-31 00:00:00" if i % 7 == 0 else None,
        }
        for i in range(count)
    ]


def _changed(listing: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every 200th renamed, every 300th gone, ten new ones."""
    changed = [
        {**item, "friendly_name": f"Renamed {i}"} if i % 200 == 0 else item
        for i, item in enumerate(listing)
        if i % 300 != 1
    ]
    return changed + _listing(COUNT + 10)[COUNT:]


def _seven(cls: type[SevenClient], listing: list[dict[str, Any]]) -> SevenClient:
    body = msgspec.json.encode({"activeNumbers": listing})

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/numbers/active"):
            return httpx.Response(200, content=body)
        return httpx.Response(404, json={"error": "Number not found"})  # a single read

    http = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    return cls("key", base_url="http://seven.invalid/api", http_client=http)


async def _state(resources: Resources) -> dict[str, Any]:
    columns = ", ".join(("number", *SEVEN_COLUMNS, "state"))
    async with resources.sessions() as session:
        rows = (await session.execute(text(f"SELECT {columns} FROM numbers"))).mappings()  # noqa: S608
        mirror = {row["number"]: dict(row) for row in rows}
        drift = (
            await session.execute(
                text("SELECT number, kind, before, after FROM sync_drift ORDER BY number, kind")
            )
        ).all()
    return {"mirror": mirror, "drift": [tuple(row) for row in drift]}


async def _two_runs(resources: Resources, cls: type[SevenClient]) -> list[Any]:
    async with resources.engine.begin() as conn:
        await conn.execute(text("TRUNCATE numbers, sync_runs, operations CASCADE"))
    figures: list[Any] = []
    first = _listing(COUNT)
    # seven lists one number twice: the first wins, as it always did.
    first.append({**first[5], "friendly_name": "a repeat"})
    for listing in (first, _changed(_listing(COUNT))):
        async with _seven(cls, listing) as seven:
            outcome = await run_sync(resources.engine, seven)
        assert outcome.outcome == "ran", outcome
        figures += [outcome.path, outcome.counts, await _state(resources)]
    return figures


async def test_a_streamed_sync_writes_what_a_whole_list_sync_wrote(
    resources: Resources, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first sync in four COPYs (1,000, 1,000, 2,000 and 2,000 rows).
    monkeypatch.setattr(baseline, "_FIRST_STATEMENT_ROWS", 1000)
    monkeypatch.setattr(baseline, "_PARCEL_ROWS", 100)
    streamed = await _two_runs(resources, SevenClient)
    whole = await _two_runs(resources, WholeListClient)

    assert streamed == whole
    first_path, first_counts, _, path, counts, state = streamed
    assert (first_path, first_counts.fetched, first_counts.added) == ("baseline", COUNT, COUNT)
    assert path == "diff"
    # The 20 gone were missed, then confirmed gone by a single read each.
    assert (counts.added, counts.changed, counts.missing, counts.removed) == (10, 30, 20, 20)
    assert {kind for _, kind, _, _ in state["drift"]} == {"added", "changed", "missing", "removed"}
    listed = msgspec.json.encode({"activeNumbers": _changed(_listing(COUNT))})
    for active in msgspec.json.decode(listed, type=ActiveNumbersResponse).active_numbers:
        row = state["mirror"][active.number]
        expected = columns_from_active(active)
        assert {c: row[c] for c in SEVEN_COLUMNS} == {c: expected[c] for c in SEVEN_COLUMNS}
