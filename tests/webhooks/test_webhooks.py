"""``/v1/webhooks/seven``: inbound SMS as seven sends them, counted once per event.

seven's hook delivers an event form-encoded (its default, ``request_method`` POST), as
JSON (``JSON``) or in the query string (``GET``), signed over the full URL (seven's
signing page) or, as its JS SDK's verifier sees it, over the path.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any, Literal
from urllib.parse import urlencode

import pytest
from litestar.testing import AsyncTestClient
from structlog.testing import capture_logs

from app.asgi import create_app
from app.numbers.mirror import SEVEN_TIME_ZONE
from app.settings import Settings
from app.seven.signing import sign_headers
from tests.support.api import Client
from tests.support.costs import FIRST_MONTH, store
from tests.support.db import connected
from tests.support.webhooks import event, sms_mo

Format = Literal["form", "json", "get"]
SECRET = "webhook-signing-secret"
PATH = "/v1/webhooks/seven"
NUMBER = "4915100000310"
# 12 March 2026, 23:30 in Berlin (22:30 UTC): a Berlin day, whatever the UTC date.
SENT = int(datetime(2026, 3, 12, 23, 30, tzinfo=SEVEN_TIME_ZONE).timestamp())


def php_fields(fields: dict[str, Any]) -> str:
    """Form/query encoding with ``data`` nested PHP-style (``data[id]=...``), as seven's
    PHP backend builds it (http_build_query)."""
    flat = [(k, v) for k, v in fields.items() if k != "data"]
    flat += [(f"data[{k}]", v) for k, v in fields.get("data", {}).items()]
    return urlencode(flat)


def delivery(fields: dict[str, Any], fmt: Format) -> tuple[str, str, bytes, dict[str, str]]:
    """(method, path and query, body, headers) of one delivery in ``fmt``."""
    if fmt == "get":
        return "GET", f"{PATH}?{php_fields(fields)}", b"", {}
    if fmt == "form":
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        return "POST", PATH, php_fields(fields).encode(), form
    return "POST", PATH, json.dumps(fields).encode(), {"Content-Type": "application/json"}


async def deliver(
    client: Client,
    fields: dict[str, Any],
    fmt: Format = "form",
    *,
    signed_over: Literal["url", "path"] | None = "url",
    **signing: Any,
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Send one delivery; (status, body, the headers sent)."""
    method, target, body, headers = delivery(fields, fmt)
    if signed_over is not None:
        url = f"{client.base_url}{target}" if signed_over == "url" else target
        headers |= sign_headers(SECRET, method, url, body, **signing)
    response = await client.request(method, target, content=body or None, headers=headers)
    return response.status_code, response.json(), headers


async def usage(database_url: str) -> list[tuple[str, date, int]]:
    async with connected(database_url) as conn:
        rows = await conn.fetch("SELECT number, day, sms_mo FROM number_usage_daily ORDER BY 1, 2")
    return [(row["number"], row["day"], row["sms_mo"]) for row in rows]


async def counted(database_url: str) -> int:
    """Inbound SMS counted on any day (events sent "now" may straddle Berlin midnight)."""
    return sum(count for _, _, count in await usage(database_url))


def berlin_day(unix_seconds: int) -> date:
    return datetime.fromtimestamp(unix_seconds, UTC).astimezone(SEVEN_TIME_ZONE).date()


@pytest.fixture
def signed_settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, seven_signing_secret=SECRET)


@pytest.fixture
async def signed_client(signed_settings: Settings) -> AsyncIterator[Client]:
    async with AsyncTestClient(app=create_app(signed_settings)) as test_client:
        yield test_client


@pytest.fixture
async def unsigned_client(settings: Settings) -> AsyncIterator[Client]:
    """No secret, unsigned calls allowed (development); events of March 2026 still pass
    (their ids kept longer still, as Settings requires)."""
    allowed = dataclasses.replace(
        settings,
        webhooks_allow_unsigned=True,
        webhook_max_age_seconds=10**10,
        webhook_event_retention_days=10**6,
    )
    async with AsyncTestClient(app=create_app(allowed)) as test_client:
        yield test_client


@pytest.mark.parametrize("signed_over", ["url", "path"])
@pytest.mark.parametrize("fmt", ["form", "json", "get"])
async def test_an_sms_mo_is_counted_once_however_seven_delivers_and_signs_it(
    signed_client: Client, database_url: str, fmt: Format, signed_over: Literal["url", "path"]
) -> None:
    fields = event("681590")
    first = await deliver(signed_client, fields, fmt, signed_over=signed_over)
    # seven's retry of the same event: a new signature (timestamp and nonce), same id.
    again = await deliver(signed_client, fields, fmt, signed_over=signed_over)
    assert [(status, body["status"]) for status, body, _ in (first, again)] == [
        (200, "counted"),
        (200, "duplicate"),
    ]
    assert await usage(database_url) == [(NUMBER, berlin_day(int(fields["data"]["time"])), 1)]


async def test_a_replayed_nonce_is_refused_in_every_api_process(
    signed_client: Client, signed_settings: Settings, database_url: str
) -> None:
    fields = event("evt-1")
    status, body, headers = await deliver(signed_client, fields)
    assert (status, body["status"]) == (200, "counted")
    method, target, content, _ = delivery(fields, "form")
    replay = await signed_client.request(method, target, content=content, headers=headers)
    assert (replay.status_code, replay.json()["code"]) == (401, "replayed_nonce")
    # The nonce again, on another event that is signed correctly: the nonce is spent.
    nonce = headers["X-Nonce"]
    status, body, _ = await deliver(signed_client, event("evt-2"), nonce=nonce)
    assert (status, body["code"]) == (401, "replayed_nonce")
    # Another API process (the API runs several workers) knows the nonce too.
    async with AsyncTestClient(app=create_app(signed_settings)) as other_process:
        replay = await other_process.request(method, target, content=content, headers=headers)
        assert (replay.status_code, replay.json()["code"]) == (401, "replayed_nonce")
        status, body, _ = await deliver(other_process, event("evt-2"))
        assert (status, body["status"]) == (200, "counted")
    assert await counted(database_url) == 2


async def test_without_redis_the_nonce_check_is_skipped_and_the_event_still_counted_once(
    signed_settings: Settings, database_url: str
) -> None:
    # Nothing listens on port 1: Redis is down. The event id in PostgreSQL still
    # counts the SMS once, so the request goes on rather than losing the SMS.
    app = create_app(dataclasses.replace(signed_settings, redis_url="redis://127.0.0.1:1/0"))
    with capture_logs() as logs:  # after create_app, which configures logging
        async with AsyncTestClient(app=app) as client:
            # One event for both: built twice, its "time" (now, in seconds) could differ,
            # and the replay would be refused for its signature instead.
            fields = event("evt-1")
            status, body, headers = await deliver(client, fields)
            method, target, content, _ = delivery(fields, "form")
            replay = await client.request(method, target, content=content, headers=headers)
    assert [(status, body["status"]), (replay.status_code, replay.json()["status"])] == [
        (200, "counted"),
        (200, "duplicate"),
    ]
    # (The metrics' background refresh may warn about Redis too; only the nonce's count.)
    nonce_warnings = [e for e in logs if e["event"] == "webhook_nonce_store_unavailable"]
    assert [e["log_level"] for e in nonce_warnings] == ["warning"] * 2
    assert await counted(database_url) == 1


async def test_a_refused_request_does_not_spend_its_nonce(signed_client: Client) -> None:
    # A failed request hands its nonce back, so seven's retry of the very same signed
    # request is judged on the event again, not refused as a replay.
    too_old = event("evt-old", sent=int(time.time()) - 3600)
    status, body, headers = await deliver(signed_client, too_old)
    assert (status, body["code"]) == (422, "event_too_old")
    method, target, content, _ = delivery(too_old, "form")
    again = await signed_client.request(method, target, content=content, headers=headers)
    assert (again.status_code, again.json()["code"]) == (422, "event_too_old")


async def test_a_signature_may_be_300_seconds_from_our_clock(
    signed_client: Client, database_url: str
) -> None:
    now = int(time.time())
    outside = [
        await deliver(signed_client, event(f"evt-{offset}"), timestamp=now + offset)
        for offset in (-301, 301)
    ]
    assert [(status, body["code"]) for status, body, _ in outside] == [
        (401, "invalid_signature")
    ] * 2
    inside = [
        await deliver(signed_client, event(f"evt-{offset}"), timestamp=now + offset)
        for offset in (-250, 250)
    ]
    assert [(status, body["status"]) for status, body, _ in inside] == [(200, "counted")] * 2
    assert await counted(database_url) == 2


async def test_forged_or_unsigned_calls_are_refused(
    signed_client: Client, database_url: str
) -> None:
    fields = event("evt-forged")
    _, _, content, form = delivery(fields, "form")
    signed = {**form, **sign_headers(SECRET, "POST", f"{signed_client.base_url}{PATH}", content)}
    tampered = php_fields(event("evt-other")).encode()
    refused = [
        await signed_client.post(PATH, content=tampered, headers=signed),  # another body
        await signed_client.post(PATH, content=content, headers=form),  # unsigned
        await signed_client.post(PATH, content=content, headers={**signed, "X-Signature": "0"}),
        await signed_client.get(f"{PATH}?{php_fields(fields)}", headers=signed),  # another URL
    ]
    assert [(r.status_code, r.json()["code"]) for r in refused] == [(401, "invalid_signature")] * 4
    assert await usage(database_url) == []


async def test_the_configured_secret_is_trimmed(settings: Settings, database_url: str) -> None:
    # Pasted with a newline: it signs like the trimmed one (seven's PHP SDK trims it).
    pasted = dataclasses.replace(settings, seven_signing_secret=f" {SECRET}\n")
    async with AsyncTestClient(app=create_app(pasted)) as client:
        status, body, _ = await deliver(client, event("evt-1"))
    assert (status, body["status"]) == (200, "counted")


async def test_without_the_secret_every_call_is_refused_and_start_up_warns_once(
    settings: Settings, database_url: str
) -> None:
    app = create_app(settings)
    assert settings.seven_signing_secret is None and not settings.webhooks_allow_unsigned
    with capture_logs() as logs:
        async with AsyncTestClient(app=app) as client:
            answers = [
                await deliver(client, event("evt-1"), fmt, signed_over=signed_over)
                for fmt in ("form", "json", "get")
                for signed_over in ("url", None)
            ]
    # 503, not 4xx: our configuration is at fault, so seven keeps the event and retries.
    assert {(status, body["code"]) for status, body, _ in answers} == {
        (503, "webhook_signing_not_configured")
    }
    assert [entry["event"] for entry in logs if entry["log_level"] == "warning"] == [
        "webhooks_refused"
    ]
    assert await usage(database_url) == []


async def test_unsigned_calls_are_taken_only_when_allowed_explicitly(
    settings: Settings, database_url: str
) -> None:
    allowed = create_app(dataclasses.replace(settings, webhooks_allow_unsigned=True))
    with capture_logs() as logs:
        async with AsyncTestClient(app=allowed) as client:
            answers = [
                await deliver(client, event(f"evt-{fmt}"), fmt, signed_over=None)
                for fmt in ("form", "json", "get")
            ]
    assert [(status, body["status"]) for status, body, _ in answers] == [(200, "counted")] * 3
    assert [entry["event"] for entry in logs if entry["log_level"] == "warning"] == [
        "webhooks_accepted_unsigned"
    ]
    assert await counted(database_url) == 3

    # With the secret set, the flag changes nothing: signatures are checked, no warning.
    signed = create_app(
        dataclasses.replace(settings, seven_signing_secret=SECRET, webhooks_allow_unsigned=True)
    )
    with capture_logs() as logs:
        async with AsyncTestClient(app=signed) as client:
            status, body, _ = await deliver(client, event("evt-4"), signed_over=None)
    assert (status, body["code"]) == (401, "invalid_signature")
    assert [entry for entry in logs if entry["log_level"] == "warning"] == []


async def test_an_event_id_over_128_characters_is_refused(
    signed_client: Client, database_url: str
) -> None:
    status, body, _ = await deliver(signed_client, event("x" * 129))
    assert (status, body["code"]) == (422, "event_id_too_long")
    status, body, _ = await deliver(signed_client, event("x" * 128))
    assert (status, body["status"]) == (200, "counted")
    assert await counted(database_url) == 1


async def test_an_event_older_than_the_max_age_is_refused(
    signed_settings: Settings, database_url: str
) -> None:
    # Age is judged by data.time (when seven received the SMS, the same on every retry).
    now = int(time.time())
    answers = {}
    shorter = dataclasses.replace(signed_settings, webhook_max_age_seconds=60)
    for settings, max_age in ((signed_settings, 600), (shorter, 60)):  # 600: the default
        async with AsyncTestClient(app=create_app(settings)) as client:
            for age in (max_age + 1, max_age - 10):
                fields = event(f"evt-{max_age}-{age}", sent=now - age)
                status, body, _ = await deliver(client, fields)
                answers[max_age, age] = (status, body.get("code", body.get("status")))
    assert answers == {
        (600, 601): (422, "event_too_old"),
        (600, 590): (200, "counted"),
        (60, 61): (422, "event_too_old"),
        (60, 50): (200, "counted"),
    }
    assert await counted(database_url) == 2


async def test_an_event_from_the_future_is_refused(signed_client: Client) -> None:
    # Further ahead than the clock window: not an SMS seven can have received yet.
    now = int(time.time())
    status, body, _ = await deliver(signed_client, event("evt-ahead", sent=now + 400))
    assert (status, body["code"]) == (422, "event_time_in_future")
    status, body, _ = await deliver(signed_client, event("evt-skew", sent=now + 200))
    assert (status, body["status"]) == (200, "counted")


async def test_other_events_are_ignored_and_garbage_is_refused(
    unsigned_client: Client, database_url: str
) -> None:
    dlr = {"webhook_event": "dlr", "data": {"msg_id": "77149843739", "status": "DELIVERED"}}
    for fmt in ("form", "json", "get"):
        status, body, _ = await deliver(unsigned_client, dlr, fmt, signed_over=None)
        assert (status, body["status"]) == (200, "ignored"), fmt
    json_type = {"Content-Type": "application/json"}
    for body in (
        b"not json",
        b'{"webhook_event": "sms_mo", "data": {"id": "x"}}',
        sms_mo("x", "abc"),
        sms_mo("x", sent=10**20),
    ):
        response = await unsigned_client.post(PATH, content=body, headers=json_type)
        assert (response.status_code, response.json()["code"]) == (422, "invalid_event")
    for query in ("data[id]=1", "webhook_event=sms_mo&data[id]=1&data[system]=1&data[time]=x"):
        response = await unsigned_client.get(f"{PATH}?{query}")
        assert (response.status_code, response.json()["code"]) == (422, "invalid_event")
    assert await usage(database_url) == []


async def test_counted_sms_are_charged_at_sms_mo(
    unsigned_client: Client, database_url: str, admin_headers: dict[str, str]
) -> None:
    async with connected(database_url) as conn:
        await store(conn, [dataclasses.replace(FIRST_MONTH, usage={})])
    for event_id in ("a", "b", "c", "a"):
        await deliver(unsigned_client, event(event_id, sent=SENT), signed_over=None)
    assert await usage(database_url) == [(NUMBER, date(2026, 3, 12), 3)]
    response = await unsigned_client.get(
        "/v1/costs",
        params={"month": "2026-03", "group_by": "number", "basis": "cash"},
        headers=admin_headers,
    )
    [row] = response.json()["rows"]
    assert row["usage"] == "0.15"  # 3 SMS at 0.05
    assert row["total"] == "30.15"
