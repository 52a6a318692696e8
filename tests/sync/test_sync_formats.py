"""Drift and runs in the one formats: fees as money strings, our times in UTC with ``Z``."""

from __future__ import annotations

import re
from decimal import Decimal

from app.lib.money import MONEY_PATTERN
from app.resources import Resources
from app.sync.service import run_sync
from tests.support.api import Client
from tests.support.sandbox import SandboxProcess

UTC_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")


async def test_drift_shows_fees_as_money_strings(
    client: Client,
    admin_headers: dict[str, str],
    resources: Resources,
    fresh_sandbox: SandboxProcess,
) -> None:
    number = fresh_sandbox.available(country="DE")[0]["number"]
    fees = {"setup": 5, "basic_charge": 123.4, "sms_mo": 0.0075, "voice_mo": 0}
    fresh_sandbox.put_active(number, billing={"fees": fees})
    assert (await run_sync(resources.engine, resources.seven)).outcome == "ran"  # the baseline
    raised = {"setup": 5.5, "basic_charge": 130, "sms_mo": 0.01, "voice_mo": 0.015}
    fresh_sandbox.put_active(number, billing={"fees": raised})
    latest = await run_sync(resources.engine, resources.seven)

    response = await client.get(f"/v1/sync/runs/{latest.run_id}", headers=admin_headers)

    assert response.status_code == 200, response.text
    run = response.json()
    (drift,) = run["drift"]
    assert drift["kind"] == "changed"
    assert drift["before"] == {
        "billing.fees.setup": "5.00",
        "billing.fees.basic_charge": "123.40",
        "billing.fees.sms_mo": "0.0075",
        "billing.fees.voice_mo": "0.00",
    }
    assert drift["after"] == {
        "billing.fees.setup": "5.50",
        "billing.fees.basic_charge": "130.00",
        "billing.fees.sms_mo": "0.01",
        "billing.fees.voice_mo": "0.015",
    }
    for amount in [*drift["before"].values(), *drift["after"].values()]:
        assert re.fullmatch(MONEY_PATTERN, amount)
        assert Decimal(amount) in {Decimal(str(v)) for v in [*fees.values(), *raised.values()]}
    assert UTC_TIME.fullmatch(run["started_at"]) and UTC_TIME.fullmatch(run["finished_at"])
