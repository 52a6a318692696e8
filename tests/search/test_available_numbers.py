"""GET /v1/available-numbers: live search at seven, the Redis cache, upstream errors."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import pytest
import redis.asyncio as redis
from litestar.testing import AsyncTestClient

from app.asgi import create_app
from app.settings import Settings
from tests.support.api import Client
from tests.support.sandbox import SandboxProcess

CENT = Decimal("0.01")


async def search(client: Client, headers: dict[str, str], **params: str) -> list[dict[str, Any]]:
    response = await client.get("/v1/available-numbers", params=params, headers=headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_items_are_sevens_fields_plus_monthly_equivalents(
    client: Client, admin_headers: dict[str, str], fresh_sandbox: SandboxProcess
) -> None:
    items = await search(client, admin_headers, country="DE")
    at_seven = {item["number"]: item for item in fresh_sandbox.available(country="DE")}
    assert items
    assert {item["number"] for item in items} == set(at_seven)
    for item in items:
        seven = at_seven[item["number"]]
        for field in ("country", "number", "number_parsed", "features"):
            assert item[field] == seven[field]
        monthly_charge = Decimal(str(seven["fees"]["monthly"]["basic_charge"]))
        annual_charge = Decimal(str(seven["fees"]["annually"]["basic_charge"]))
        assert Decimal(item["fees"]["monthly"]["basic_charge"]) == monthly_charge
        assert Decimal(item["fees"]["annually"]["setup"]) == Decimal(
            str(seven["fees"]["annually"]["setup"])
        )
        # Decimal strings with cents, never floats.
        assert item["monthly_equivalent"] == {
            "monthly": str(monthly_charge.quantize(CENT, rounding=ROUND_HALF_EVEN)),
            "annually": str((annual_charge / 12).quantize(CENT, rounding=ROUND_HALF_EVEN)),
        }


async def test_feature_flags_reach_seven(
    client: Client, admin_headers: dict[str, str], fresh_sandbox: SandboxProcess
) -> None:
    items = await search(client, admin_headers, country="DE", features_a2p_sms="true")
    assert items and all(item["features"]["a2p_sms"] for item in items)
    without = await search(client, admin_headers, country="DE", features_voice="false")
    assert without and all(not item["features"]["voice"] for item in without)
    query = fresh_sandbox.requests("available")[0]["query"]
    assert "features_a2p_sms=1" in query


async def test_the_feature_list_searches_as_sevens_flags_do(
    client: Client, admin_headers: dict[str, str], fresh_sandbox: SandboxProcess
) -> None:
    """``feature=<name>`` (the spelling of ``GET /v1/numbers``) is ``features_<name>=true``."""
    flagged = await search(client, admin_headers, country="DE", features_a2p_sms="true")
    listed = await client.get(
        "/v1/available-numbers",
        params={"country": "DE", "feature": "a2p_sms"},
        headers=admin_headers,
    )
    assert listed.status_code == 200, listed.text
    assert listed.json()["items"] == flagged
    both = await search(
        client, admin_headers, country="DE", feature="voice", features_a2p_sms="true"
    )
    assert both and all(i["features"]["voice"] and i["features"]["a2p_sms"] for i in both)
    clash = await client.get(
        "/v1/available-numbers",
        params={"country": "DE", "feature": "voice", "features_voice": "false"},
        headers=admin_headers,
    )
    assert (clash.status_code, clash.json()["code"]) == (422, "invalid_features_voice")


async def test_the_same_query_again_is_answered_from_the_cache(
    client: Client,
    admin_headers: dict[str, str],
    fresh_sandbox: SandboxProcess,
    settings: Settings,
) -> None:
    first = await search(client, admin_headers, country="DE", features_sms="true")
    # Written differently, but the same query.
    second = await search(client, admin_headers, country="de", features_sms="1")
    assert second == first
    assert len(fresh_sandbox.requests("available")) == 1
    # A different query goes to seven.
    await search(client, admin_headers, country="DE")
    assert len(fresh_sandbox.requests("available")) == 2
    # Cached for the configured time only.
    cache = redis.from_url(settings.redis_url)
    keys = await cache.keys("search:available:*")
    ttls = [await cache.ttl(key) for key in keys]
    await cache.aclose()
    assert len(keys) == 2
    assert all(0 < ttl <= settings.search_cache_seconds for ttl in ttls)


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"country": "XX"}, "country"),
        ({"country": "DEU"}, "country"),
        ({"country": "Germany"}, "country"),
        ({"country": "DE", "features_sms": "maybe"}, "features_sms"),
        ({"country": "DE", "features_a2p_sms": "2"}, "features_a2p_sms"),
        ({"country": "DE", "features_voice": "yes please"}, "features_voice"),
        ({"country": "DE", "feature": "fax"}, "feature"),
    ],
)
async def test_malformed_parameter_is_422_and_never_reaches_seven(
    client: Client,
    admin_headers: dict[str, str],
    fresh_sandbox: SandboxProcess,
    params: dict[str, str],
    parameter: str,
) -> None:
    response = await client.get("/v1/available-numbers", params=params, headers=admin_headers)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == f"invalid_{parameter}"
    assert response.json()["details"]["parameter"] == parameter
    assert fresh_sandbox.requests("available") == []


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ({"kind": "rate_limit", "retry_after": 7}, 503, "rate_limited"),
        ({"kind": "server_error", "status": 503}, 503, "seven_server_error"),
        ({"kind": "bare_code", "code": 900}, 502, "invalid_api_key"),
        ({"kind": "bare_code", "code": 902, "as_string": True}, 502, "access_denied"),
    ],
)
async def test_upstream_errors_are_clear_answers_and_not_cached(
    client: Client,
    admin_headers: dict[str, str],
    fresh_sandbox: SandboxProcess,
    fault: dict[str, object],
    status: int,
    code: str,
) -> None:
    fresh_sandbox.add_fault(endpoint="available", **fault)  # type: ignore[arg-type]
    response = await client.get(
        "/v1/available-numbers", params={"country": "DE"}, headers=admin_headers
    )
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code
    assert body["status"] == status
    assert fresh_sandbox.api_key not in response.text
    if code == "rate_limited":
        assert response.headers["retry-after"] == "7"
    # The failure was not cached: the next call reaches seven and succeeds.
    assert await search(client, admin_headers, country="DE")
    assert len(fresh_sandbox.requests("available")) == 2


@pytest.fixture
async def impatient_client(settings: Settings) -> AsyncIterator[Client]:
    quick = dataclasses.replace(settings, seven_read_timeout=0.3, seven_total_timeout=0.5)
    async with AsyncTestClient(app=create_app(quick)) as client:
        yield client


async def test_no_answer_from_seven_is_504(
    impatient_client: Client, admin_headers: dict[str, str], fresh_sandbox: SandboxProcess
) -> None:
    fresh_sandbox.add_fault("hang", endpoint="available", seconds=3)
    response = await impatient_client.get(
        "/v1/available-numbers", params={"country": "DE"}, headers=admin_headers
    )
    assert response.status_code == 504, response.text
    assert response.json()["code"] == "outcome_unknown"


async def test_without_redis_the_search_still_answers_uncached(
    settings: Settings, admin_headers: dict[str, str], fresh_sandbox: SandboxProcess
) -> None:
    no_redis = dataclasses.replace(settings, redis_url="redis://127.0.0.1:1/0")
    async with AsyncTestClient(app=create_app(no_redis)) as client:
        for _ in range(2):
            assert await search(client, admin_headers, country="DE")
    assert len(fresh_sandbox.requests("available")) == 2
