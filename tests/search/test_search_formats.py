"""Available numbers' fees in the one money format, fresh from seven and from the cache."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from app.lib.money import MONEY_PATTERN
from tests.support.api import Client
from tests.support.sandbox import SandboxProcess


def amounts(fees: dict[str, Any]) -> list[Any]:
    """The fees' amounts in a fixed order: per interval, then per inbound SMS and minute."""
    intervals = [fees[i][f] for i in ("monthly", "annually") for f in ("basic_charge", "setup")]
    return [*intervals, fees["sms_mo"], fees["voice_mo"]]


def expected(value: float | int) -> str:
    """seven's JSON number as the money format writes it (worked out here by hand)."""
    whole, _, places = f"{Decimal(str(value)):f}".partition(".")
    return f"{whole}.{places.rstrip('0').ljust(2, '0')}"


async def test_fees_and_monthly_equivalents_are_money_strings(
    client: Client, admin_headers: dict[str, str], fresh_sandbox: SandboxProcess
) -> None:
    answers = []
    for _ in range(2):  # the second answer comes from the cache
        response = await client.get(
            "/v1/available-numbers", params={"country": "DE"}, headers=admin_headers
        )
        assert response.status_code == 200, response.text
        answers.append(response.json()["items"])
    assert answers[0] == answers[1]
    assert len(fresh_sandbox.requests("available")) == 1
    at_seven = {item["number"]: item for item in fresh_sandbox.available(country="DE")}
    shown: set[str] = set()
    for item in answers[0]:
        fees = amounts(item["fees"])
        assert fees == [expected(v) for v in amounts(at_seven[item["number"]]["fees"])]
        shown.update(fees)
        for amount in [*fees, *item["monthly_equivalent"].values()]:
            assert re.fullmatch(MONEY_PATTERN, amount), amount
    # seven's list has whole euros, one place, and a sub-cent SMS fee: all three forms.
    assert {"0.00", "0.0075"} <= shown
    assert any(re.fullmatch(r"\d+\.\d0", amount) for amount in shown - {"0.00"})
