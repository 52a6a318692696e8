"""The first sync's COPY text (``app/sync/copy_text.py``) writes what the tuples of
``rows.py`` wrote through the driver's binary COPY, column for column, awkward values
included: tabs, line breaks, backslashes, quotes and Unicode in names and forwarding,
NULL and absent fields, fees with more decimals than the mirror keeps, NaN, and
seven's times in every form ``seven_instant`` reads (or refuses)."""

# The SQL here is assembled from the mirror's column names, never input.
# ruff: noqa: S608

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec
import pytest
from sqlalchemy import text

from app.resources import Resources
from app.seven.client import SevenClient
from app.seven.types import ActiveNumber
from app.sync import baseline
from app.sync.copy_text import copy_field, mirror_line_maker
from app.sync.digests import item_digest
from app.sync.rows import COPY_SUFFIX, MIRROR_COLUMNS, mirror_row_maker
from app.sync.service import run_sync

_COLUMNS = (*MIRROR_COLUMNS, *COPY_SUFFIX)
_SYNCED_AT = datetime(2026, 12, 1, 11, 55, 3, 123456, tzinfo=UTC)


def _item(index: int, /, **changes: Any) -> dict[str, Any]:
    """One of seven's items (fees as JSON number literals, exactly as written here)."""
    fees = changes.pop("fees", ("0", "1.9", "0.0075", "0.015"))
    item: dict[str, Any] = {
        "country": "de",
        "number": str(4915170000000 + index),
        "friendly_name": f"line {index}",
        "billing": {
            "fees": dict(
                zip(
                    ("setup", "basic_charge", "sms_mo", "voice_mo"),
                    (msgspec.Raw(fee.encode()) for fee in fees),
                    strict=True,
                )
            ),
            "payment_interval": "monthly",
        },
        "features": {"sms": True, "a2p_sms": False, "voice": True},
        "forward_sms_mo": {"sms": {"number": [], "enabled": False}},
        "expires": None,
        "created": "2024-01-15 12:31:51",
    }
    item.update(changes)
    return item


# Every awkward value a field of COPY text can meet, and times in each form.
AWKWARD = [
    _item(1, friendly_name="tab\there\tand\nnew line\r\nand CR\r"),
    _item(2, friendly_name="back\\slash \\N \\. \\t and a trailing one\\"),
    _item(3, friendly_name="\\."),
    _item(4, friendly_name="\\N"),
    _item(5, friendly_name="quotes \" ' ünïcödé ☎ 📞 \u2028 \x0b \x1f", country="at"),
    _item(6, friendly_name="", expires="2031-02-28 10:00:00"),
    _item(7, fees=("0.123456789", "12345678.12345", "1E-7", "1E+2")),
    _item(8, fees=("-0.0", "0.00005", "29.90", "-0.00005")),
    _item(9, fees=("0.00015", "7", "0.00004999", "99999999.99994")),
    _item(10, created="2026-10-25 02:30:00", expires="2026-03-29 02:30:00"),  # DST fold, gap
    _item(11, created="27.11.2026", expires="2026-11-27"),  # refused; a date alone
    _item(12, created=" 2026-11-27 17:05:56 ", expires="2026-11-27T17:05:56"),
    _item(13, created="", expires=""),
    _item(14, created="2026-02-30 10:00:00", expires="2026-11-27T17:05:56+01:00"),
    _item(
        15,
        forward_sms_mo={
            "sms": {"number": ["49151\t1", "\\"], "enabled": True},
            "email": {"address": ['a"b\\c\td@example.com', "ü@example.com"], "enabled": True},
            "slack": {"uri": "https://hooks.example/x\\y\n", "enabled": False},
        },
    ),
    _item(16, forward_sms_mo={}),
    _item(17, forward_sms_mo={"slack": None}),
    _item(18, number="49 151\t7", country="d\\"),
    _item(19, features={"sms": False, "a2p_sms": True, "voice": False}, expires="2030-01-01"),
    _item(20, billing={"fees": _item(0)["billing"]["fees"], "payment_interval": "annually"}),
]
# Fees no sane seven sends, which the driver writes all the same: only beside the mirror
# (a NaN fee would go on into the cost triggers).
NAN_FEES = [
    _item(21, fees=('"NaN"', '"sNaN"', '"-NaN"', "1")),
]


def _numbers(items: list[dict[str, Any]]) -> list[tuple[ActiveNumber, bytes]]:
    """Each item decoded, with the digest of its bytes as seven would send them."""
    encoded = [msgspec.json.encode(item) for item in items]
    return [(msgspec.json.decode(raw, type=ActiveNumber), item_digest(raw)) for raw in encoded]


async def _written_both_ways(resources: Resources, items: list[dict[str, Any]]) -> None:
    """COPY the items into two scratch tables shaped like the mirror's columns, once as
    ``rows.py``'s tuples (binary) and once as COPY text; every column, as PostgreSQL
    shows it, must agree."""
    numbers = _numbers(items)
    row = mirror_row_maker(_SYNCED_AT)
    line = mirror_line_maker(_SYNCED_AT)
    columns = ", ".join(_COLUMNS)
    async with resources.engine.connect() as conn:
        # Neither way may depend on the session's time zone (the worker's is the server's).
        await conn.execute(text("SET LOCAL TimeZone = 'Pacific/Chatham'"))
        for table in ("by_tuples", "by_text"):
            await conn.execute(
                text(
                    f"CREATE TEMPORARY TABLE {table} AS SELECT {columns} FROM numbers WITH NO DATA"
                )
            )
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection
        await driver.copy_records_to_table(
            "by_tuples", records=[(*row(n), d) for n, d in numbers], columns=_COLUMNS
        )

        async def lines() -> Any:
            yield "".join(line(n, d) for n, d in numbers).encode()

        await driver.copy_to_table("by_text", source=lines(), columns=_COLUMNS, format="text")
        shown = ", ".join(f"{c}::text" for c in _COLUMNS)
        by_tuples = (await conn.execute(text(f"SELECT {shown} FROM by_tuples"))).all()
        by_text = (await conn.execute(text(f"SELECT {shown} FROM by_text"))).all()
    assert len(by_tuples) == len(items)
    expected = {r[0]: dict(zip(_COLUMNS, r, strict=True)) for r in by_tuples}
    assert {r[0]: dict(zip(_COLUMNS, r, strict=True)) for r in by_text} == expected


async def test_copy_text_writes_what_the_binary_tuples_wrote(resources: Resources) -> None:
    await _written_both_ways(resources, AWKWARD)


async def test_copy_text_writes_nan_fees_as_the_driver_did(resources: Resources) -> None:
    await _written_both_ways(resources, NAN_FEES)


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ("plain", "plain"),
        ("a\tb", "a\\tb"),
        ("a\nb\r", "a\\nb\\r"),
        ("\\N", "\\\\N"),
        ("ü \" ' \x0b", "ü \" ' \x0b"),
    ],
)
def test_a_copy_field_escapes_only_backslashes_tabs_and_line_breaks(value: str, field: str) -> None:
    assert copy_field(value) == field


def _listing(items: list[dict[str, Any]]) -> SevenClient:
    body = msgspec.json.encode({"activeNumbers": items})
    http = httpx.AsyncClient(
        transport=httpx.MockTransport(lambda _: httpx.Response(200, content=body))
    )
    return SevenClient("key", base_url="http://seven.invalid/api", http_client=http)


async def test_the_first_sync_of_awkward_numbers_writes_what_the_tuples_wrote(
    resources: Resources, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Several statements and parcels, and a repeated number (the first item wins).
    monkeypatch.setattr(baseline, "_FIRST_STATEMENT_ROWS", 4)
    monkeypatch.setattr(baseline, "_PARCEL_ROWS", 3)
    repeat = {**AWKWARD[0], "friendly_name": "the second listing"}
    async with _listing([*AWKWARD, repeat]) as seven:
        outcome = await run_sync(resources.engine, seven)
    assert (outcome.outcome, outcome.path) == ("ran", "baseline")
    assert outcome.counts is not None and outcome.counts.added == len(AWKWARD)

    shown = ", ".join(f"{c}::text" for c in _COLUMNS if c != "synced_at")
    async with resources.engine.connect() as conn:
        synced_at = (
            await conn.execute(text("SELECT DISTINCT synced_at FROM numbers"))
        ).scalar_one()
        mirrored = (await conn.execute(text(f"SELECT {shown} FROM numbers"))).all()
        row = mirror_row_maker(synced_at)
        await conn.execute(
            text(
                "CREATE TEMPORARY TABLE by_tuples AS"
                f" SELECT {', '.join(_COLUMNS)} FROM numbers WITH NO DATA"
            )
        )
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection
        await driver.copy_records_to_table(
            "by_tuples",
            records=[(*row(n), d) for n, d in _numbers(AWKWARD)],
            columns=_COLUMNS,
        )
        expected = (await conn.execute(text(f"SELECT {shown} FROM by_tuples"))).all()
    assert sorted(mirrored) == sorted(expected)
    assert len(mirrored) == len(AWKWARD)  # every awkward number, once
