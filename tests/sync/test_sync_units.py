"""The sync's pure parts: COPY rows equal to the mirror mapping, and the cron schedule."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from app.numbers.mirror import columns_from_active, parse_seven_time, state_for
from app.settings import SettingsError, read_setting
from app.seven.types import ActiveNumber
from app.sync import baseline
from app.sync.jobs import cron_fields
from app.sync.rows import (
    COPY_SUFFIX,
    INCOMING_COLUMNS,
    MIRROR_COLUMNS,
    RowCounter,
    incoming_row,
    mirror_row_maker,
    seven_instant,
)
from sandbox.inventory import Inventory


@pytest.mark.parametrize(
    "raw",
    [
        "2026-11-27 17:05:56",
        "2026-11-27T17:05:56",
        "2026-11-27",
        "2026-03-29 02:30:00",  # does not exist in Berlin (clocks jump 02:00 -> 03:00)
        "2026-10-25 02:30:00",  # exists twice in Berlin (03:00 -> 02:00)
        "2024-02-29 23:59:59",
        " 2026-11-27 17:05:56 ",
        "2026-11-27 17:05",
        "2026-11-27T17:05:56+01:00",
        "2026-W48-5",
        "2026-02-30 10:00:00",
        "27.11.2026",
        "",
        None,
    ],
)
def test_the_fast_time_parse_agrees_with_the_mirror_mapping(raw: str | None) -> None:
    assert seven_instant(raw) == parse_seven_time(raw)


def test_copy_rows_hold_exactly_what_columns_from_active_maps() -> None:
    generated = list(Inventory(seed=3).active(300, datetime(2026, 11, 27, 12, 0, 0)))
    # A number with Slack forwarding and lower-case country, as seven may send them.
    odd = msgspec.convert(
        {
            **msgspec.to_builtins(generated[0]),
            "country": "de",
            "forward_sms_mo": {"slack": {"uri": "https://hooks.example/x", "enabled": True}},
        },
        ActiveNumber,
    )
    for active in [*generated, odd]:
        row = dict(zip(INCOMING_COLUMNS, incoming_row(active), strict=True))
        row["forward_sms_mo"] = json.loads(row["forward_sms_mo"])
        assert row == columns_from_active(active)


def test_mirror_rows_add_the_state_and_when_the_sync_wrote_them() -> None:
    plain, cancelled = Inventory(seed=5).active(2, datetime(2026, 11, 27))
    cancelled = msgspec.structs.replace(cancelled, expires="2027-01-31 00:00:00")
    synced_at = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    make = mirror_row_maker(synced_at)
    for active in (plain, cancelled):
        row = dict(zip(MIRROR_COLUMNS, make(active), strict=True))
        assert row["number"] == active.number
        assert (row["state"], row["synced_at"]) == (state_for(active), synced_at)
    assert state_for(cancelled) == "deleting"


def test_skipped_numbers_are_counted_but_not_copied() -> None:
    first, second, third = Inventory(seed=6).active(3, datetime(2026, 11, 27))
    rows = RowCounter([first, second, third, second], skip={second.number})
    assert [r[0] for r in rows] == [first.number, third.number]
    assert (rows.count, rows.skipped) == (3, 1)


def test_a_number_seven_lists_twice_is_copied_once() -> None:
    first, second = Inventory(seed=4).active(2, datetime(2026, 11, 27))
    rows = RowCounter([first, second, first])
    assert [r[0] for r in rows] == [first.number, second.number]
    assert rows.count == 2


@pytest.mark.parametrize(
    ("interval", "fields"),
    [
        (1, {"second": set(range(60))}),
        (15, {"second": {0, 15, 30, 45}}),
        (7, {"second": {0, 7, 14, 21, 28, 35, 42, 49, 56}}),
        (60, {"minute": set(range(60)), "second": 0}),
        (300, {"minute": set(range(0, 60, 5)), "second": 0}),
        (330, {"minute": set(range(0, 60, 6)), "second": 0}),
        (3600, {"hour": set(range(24)), "minute": 0, "second": 0}),
        (21600, {"hour": {0, 6, 12, 18}, "minute": 0, "second": 0}),
        (86400, {"hour": 0, "minute": 0, "second": 0}),
    ],
)
def test_the_sync_interval_becomes_cron_fields(interval: int, fields: dict[str, object]) -> None:
    assert cron_fields(interval) == fields


def test_the_sync_interval_is_read_like_the_settings() -> None:
    assert read_setting("SYNC_INTERVAL_SECONDS", {}, env_file=None) == 300
    assert read_setting("SYNC_INTERVAL_SECONDS", {"SYNC_INTERVAL_SECONDS": " 60 "}) == 60
    for bad in ("0", "-5", "five", "1.5"):
        with pytest.raises(SettingsError, match="SYNC_INTERVAL_SECONDS"):
            read_setting("SYNC_INTERVAL_SECONDS", {"SYNC_INTERVAL_SECONDS": bad})


class _Driver:
    """Records each COPY's rows; a COPY finishes only once ``finish`` is set."""

    def __init__(self) -> None:
        self.copies: list[list[int]] = []
        self.finish = asyncio.Event()

    async def copy_records_to_table(self, table: str, *, records: Any, columns: Any) -> None:
        assert table == "numbers" and columns == (*MIRROR_COLUMNS, *COPY_SUFFIX)
        self.copies.append([row[0] async for row in records])
        await self.finish.wait()


async def _rows(count: int, read: list[int], fail_at: int | None = None) -> AsyncIterator[Any]:
    for i in range(count):
        if i == fail_at:
            raise ValueError("broken item")
        read.append(i)
        yield (i,)
        await asyncio.sleep(0)


@pytest.fixture
def small_statements(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(baseline, "_FIRST_STATEMENT_ROWS", 3)
    monkeypatch.setattr(baseline, "_PARCEL_ROWS", 1)


@pytest.mark.usefixtures("small_statements")
async def test_the_first_sync_copies_in_doubling_statements_reading_ahead_while_one_ends() -> None:
    driver, read = _Driver(), []
    copying = asyncio.create_task(baseline._copy_in_statements(driver, _rows(11, read)))
    await until_true(lambda: len(read) == 11)
    # The first COPY has not finished, yet the rest of the list has been read.
    assert driver.copies == [[0, 1, 2]]
    driver.finish.set()
    await copying
    # Each statement as long as all before it: the statements' trigger work, which
    # reads the whole mirror, adds up to less than twice the mirror.
    assert driver.copies == [[0, 1, 2], [3, 4, 5], [6, 7, 8, 9, 10]]


@pytest.mark.usefixtures("small_statements")
async def test_a_failure_while_reading_ends_the_statements_with_its_error() -> None:
    driver = _Driver()
    driver.finish.set()
    with pytest.raises(ValueError, match="broken item"):
        await baseline._copy_in_statements(driver, _rows(10, [], fail_at=7))
    assert driver.copies == [[0, 1, 2], [3, 4, 5], [6]]


async def until_true(condition: Callable[[], bool]) -> None:
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("never true")
