"""``GET /v1/reports/idle-numbers``: active numbers without inbound SMS in the window,
counted from seven's ``sms_mo`` webhooks, with holder and monthly cost; tenant-scoped."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from app.asgi import create_app
from app.numbers.mirror import SEVEN_TIME_ZONE, berlin_today, format_seven_time
from app.settings import Settings
from tests.support import tenancy
from tests.support.api import Client
from tests.support.tenancy import Sessions
from tests.support.webhooks import event
from tests.webhooks.test_webhooks import deliver

TODAY = berlin_today()


def days_ago(days: int, hour: int = 12) -> datetime:
    return datetime.combine(TODAY - timedelta(days=days), time(hour), SEVEN_TIME_ZONE)


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Client]:
    """The API taking unsigned webhooks of any age, as in development."""
    allowed = dataclasses.replace(
        settings,
        webhooks_allow_unsigned=True,
        webhook_max_age_seconds=10**10,
        webhook_event_retention_days=10**6,
    )
    async with AsyncTestClient(app=create_app(allowed)) as test_client:
        yield test_client


async def sms_to(client: Client, number: str, sent: datetime) -> None:
    fields = event(f"sms-{uuid.uuid4()}", system=number, sent=int(sent.timestamp()))
    status, body, _ = await deliver(client, fields, signed_over=None)
    assert (status, body["status"]) == (200, "counted"), body


async def idle(client: Client, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = await client.get("/v1/reports/idle-numbers", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return {item["number"]: item for item in response.json()["items"]}


async def test_idle_numbers_by_window_holder_and_age(
    api: Client, admin_headers: dict[str, str], sessions: Sessions
) -> None:
    old = format_seven_time(days_ago(100))
    acme = await tenancy.tenant_holding_a_number(
        api, admin_headers, sessions, {"created": old}, name="support-de"
    )
    globex, globex_key = await tenancy.create_tenant(api, admin_headers, "globex")
    texted_lately, quiet, texted_long_ago, young, deleted = tenancy.german_numbers(5, start=100)
    await tenancy.seed_numbers(sessions, [texted_lately, texted_long_ago], created=old)
    await tenancy.seed_numbers(
        sessions,
        [quiet],
        created=old,
        tenant_id=uuid.UUID(globex),
        payment_interval="annually",
        fee_basic_charge=Decimal("30"),
    )
    await tenancy.seed_numbers(sessions, [young], created=format_seven_time(days_ago(10)))
    await tenancy.seed_numbers(sessions, [deleted], created=old, state="deleted")
    await sms_to(api, acme.number, days_ago(5))
    await sms_to(api, texted_lately, days_ago(0, hour=0))
    await sms_to(api, texted_long_ago, days_ago(40))

    month = await idle(api, admin_headers)  # days=30 by default
    assert sorted(month) == sorted([quiet, texted_long_ago])
    assert month[quiet] | {"active_since": None} == {
        "number": quiet,
        "country": "DE",
        "tenant": globex,
        "tenant_name": "globex",
        "pool": None,
        "pool_name": None,
        "monthly_cost": "2.50",
        "active_since": None,
        "last_inbound_day": None,
    }
    assert month[quiet]["active_since"].startswith(str(TODAY - timedelta(days=100)))
    assert month[texted_long_ago]["last_inbound_day"] == str(TODAY - timedelta(days=40))

    # A shorter window: acme's number (texted 5 days ago) and the young one are idle too.
    week = await idle(api, admin_headers, days="3")
    assert sorted(week) == sorted([acme.number, quiet, texted_long_ago, young])
    week = await idle(api, admin_headers, days="7")
    assert acme.number not in week and young in week
    # On the account for less than the window: not listed.
    assert young not in await idle(api, admin_headers, days="11")
    held = (await idle(api, admin_headers, days="3"))[acme.number]
    assert (held["tenant"], held["tenant_name"], held["pool"], held["pool_name"]) == (
        acme.tenant,
        "acme",
        acme.pool,
        "support-de",
    )
    assert held["last_inbound_day"] == str(TODAY - timedelta(days=5))
    assert texted_lately not in await idle(api, admin_headers, days="1")

    # A tenant key sees its own numbers only.
    assert list(await idle(api, acme.headers, days="3")) == [acme.number]
    assert list(await idle(api, tenancy.key_headers(globex_key))) == [quiet]


async def test_the_report_pages(
    api: Client, admin_headers: dict[str, str], sessions: Sessions
) -> None:
    numbers = await tenancy.seed_numbers(
        sessions, tenancy.german_numbers(3), created=format_seven_time(days_ago(60))
    )
    seen, cursor = [], None
    while True:
        params = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        response = await api.get("/v1/reports/idle-numbers", params=params, headers=admin_headers)
        body = response.json()
        seen += [item["number"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == numbers


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"days": "0"}, "days"),
        ({"days": "366"}, "days"),
        ({"days": "a week"}, "days"),
        ({"limit": "0"}, "limit"),
        ({"cursor": "nope"}, "cursor"),
        ({"month": "2026-03"}, "month"),
    ],
)
async def test_bad_parameters_are_422s(
    api: Client, admin_headers: dict[str, str], params: dict[str, str], parameter: str
) -> None:
    response = await api.get("/v1/reports/idle-numbers", params=params, headers=admin_headers)
    assert response.status_code == 422, response.text
    assert response.json()["details"]["parameter"] == parameter


async def test_unused_days_is_the_only_reason(
    api: Client, admin_headers: dict[str, str], sessions: Sessions
) -> None:
    """A number whose only traffic is in the window is not idle, whatever its age."""
    (number,) = await tenancy.seed_numbers(
        sessions, tenancy.german_numbers(1), created=format_seven_time(days_ago(365))
    )
    await sms_to(api, number, days_ago(29))
    assert number not in await idle(api, admin_headers, days="30")
    assert number in await idle(api, admin_headers, days="29")
    assert date.fromisoformat(
        (await idle(api, admin_headers, days="29"))[number]["last_inbound_day"]
    ) == TODAY - timedelta(days=29)
