"""A number's money and times in the one format, read one by one and by the page.

Fees come out of ``numeric(12, 4)`` columns (``19.9000``) and leave as ``"19.90"``;
seven's ``created``/``expires`` (Berlin wall clock, no zone) leave as RFC 3339 with the
Berlin offset of that moment, seven's own strings beside them in ``seven``.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.lib.money import MONEY_PATTERN
from tests.support import tenancy
from tests.support.api import Client

NUMBER = "4915170264838"


async def both_reads(client: Client, headers: dict[str, str]) -> list[dict[str, Any]]:
    """The number as ``GET /v1/numbers/{number}`` (the cached document) and the page show it."""
    one = await client.get(f"/v1/numbers/{NUMBER}", headers=headers)
    page = await client.get("/v1/numbers", headers=headers)
    assert one.status_code == 200 and page.status_code == 200, (one.text, page.text)
    return [one.json(), *page.json()["items"]]


async def test_money_is_a_decimal_string_with_two_places_or_seven_s_own(
    client: Client, admin_headers: dict[str, str], sessions: tenancy.Sessions
) -> None:
    await tenancy.seed_numbers(
        sessions,
        [NUMBER],
        payment_interval="annually",
        fee_setup=Decimal("19.9"),
        fee_basic_charge=Decimal("118.8"),
        fee_sms_mo=Decimal("0.0075"),
        fee_voice_mo=Decimal("0"),
    )
    for body in await both_reads(client, admin_headers):
        assert body["billing"]["fees"] == {
            "setup": "19.90",
            "basic_charge": "118.80",
            "sms_mo": "0.0075",
            "voice_mo": "0.00",
        }
        assert body["monthly_cost"] == "9.90"
        for amount in [*body["billing"]["fees"].values(), body["monthly_cost"]]:
            assert re.fullmatch(MONEY_PATTERN, amount)


async def test_unquoted_fees_are_null(
    client: Client, admin_headers: dict[str, str], sessions: tenancy.Sessions
) -> None:
    await tenancy.seed_numbers(
        sessions,
        [NUMBER],
        state="ordering",
        fee_setup=None,
        fee_basic_charge=None,
        fee_sms_mo=None,
        fee_voice_mo=None,
        created=None,
    )
    for body in await both_reads(client, admin_headers):
        assert set(body["billing"]["fees"].values()) == {None}
        assert body["monthly_cost"] is None
        assert (body["created"], body["seven"]) == (None, {"created": None, "expires": None})


@pytest.mark.parametrize(
    ("created", "expires", "shown_created", "shown_expires"),
    [
        # Winter: CET, +01:00.
        ("2024-01-31 17:06:27", None, "2024-01-31T17:06:27+01:00", None),
        # Summer: CEST, +02:00; an end of period as seven writes a date alone.
        (
            "2024-07-01 12:00:00",
            "2026-12-31",
            "2024-07-01T12:00:00+02:00",
            "2026-12-31T00:00:00+01:00",
        ),
        # The hour Berlin's clock repeats (25 October 2026, 03:00 back to 02:00): seven's
        # string cannot say which, the first (still summer time, fold=0) is taken.
        ("2026-10-25 02:30:00", None, "2026-10-25T02:30:00+02:00", None),
        # The hour that does not exist (29 March 2026, 02:00 on to 03:00): read with the
        # offset before the change, the same instant as 03:30 summer time.
        ("2026-03-29 02:30:00", None, "2026-03-29T03:30:00+02:00", None),
        # Not a time: no converted value, seven's string kept.
        ("31/01/2024", "soon", None, None),
    ],
)
async def test_sevens_times_on_the_berlin_clock_with_their_offset_and_the_raw_strings_beside(
    client: Client,
    admin_headers: dict[str, str],
    sessions: tenancy.Sessions,
    created: str,
    expires: str | None,
    shown_created: str | None,
    shown_expires: str | None,
) -> None:
    await tenancy.seed_numbers(sessions, [NUMBER], created=created, expires=expires)
    for body in await both_reads(client, admin_headers):
        assert (body["created"], body["expires"]) == (shown_created, shown_expires)
        assert body["seven"] == {"created": created, "expires": expires}


async def test_our_own_times_are_utc_with_z(
    client: Client, admin_headers: dict[str, str], sessions: tenancy.Sessions
) -> None:
    written = datetime(2026, 3, 1, 10, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    await tenancy.seed_numbers(sessions, [NUMBER], synced_at=written)
    for body in await both_reads(client, admin_headers):
        assert body["synced_at"] == "2026-03-01T09:30:00Z"
