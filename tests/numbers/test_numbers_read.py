"""GET /v1/numbers and GET /v1/numbers/{number}: filters, pagination, 422s, tenancy."""

from __future__ import annotations

import base64
import dataclasses
import functools
import uuid
from decimal import Decimal
from typing import Any

import pytest

from app.settings import Settings
from tests.support import tenancy
from tests.support.api import Client

DE_MOBILE = "4915170264838"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Without the number cache: these tests seed the mirror straight into PostgreSQL and
    read at once, and from memory a seeded row reaches a page only once its notice has been
    applied, a few milliseconds later (tests/numbers/test_number_pages.py checks the pages
    from memory against these database pages, waiting for the notices)."""
    return dataclasses.replace(settings, number_cache_size=0)


# An annual German number with SMS and voice, as seven lists many of them.
ANNUAL: dict[str, Any] = {
    "payment_interval": "annually",
    "fee_setup": Decimal("19.9"),
    "fee_basic_charge": Decimal("238.8"),
    "fee_voice_mo": Decimal("0.01"),
    "feature_voice": True,
    "forward_sms_mo": {"sms": {"number": [], "enabled": False}},
    "created": "2024-01-31 17:06:27",
}


async def numbers_of(client: Client, headers: dict[str, str], **params: Any) -> list[str]:
    response = await client.get("/v1/numbers", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [item["number"] for item in response.json()["items"]]


# ---------------------------------------------------------------- one number


@pytest.mark.parametrize(
    "written",
    [
        DE_MOBILE,
        "+49 151 702 648 38",
        "004915170264838",
        "+4915170264838",
        "%2B49%20151%20702%20648%2038",
        "0049-151-70264838",
    ],
)
async def test_get_accepts_any_written_form(
    client: Client, admin_headers: dict[str, str], sessions: tenancy.Sessions, written: str
) -> None:
    await tenancy.seed_numbers(sessions, [DE_MOBILE], **ANNUAL, friendly_name="Support line")
    response = await client.get(f"/v1/numbers/{written}", headers=admin_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["number"] == DE_MOBILE
    assert body["friendly_name"] == "Support line"
    assert body["state"] == "active"
    assert body["features"] == {"sms": True, "a2p_sms": False, "voice": True}
    assert Decimal(body["billing"]["fees"]["basic_charge"]) == Decimal("238.8")
    assert body["billing"]["payment_interval"] == "annually"
    assert body["monthly_cost"] == "19.90"
    assert body["pending_operation"] is None


async def test_unknown_number_is_404(client: Client, admin_headers: dict[str, str]) -> None:
    response = await client.get(f"/v1/numbers/{DE_MOBILE}", headers=admin_headers)
    assert response.status_code == 404
    assert response.json()["code"] == "number_not_found"


@pytest.mark.parametrize(
    "written", ["abc", "12", "+49 151 abc", "0151702648", "491517026483899999"]
)
async def test_malformed_number_is_422_naming_it(
    client: Client, admin_headers: dict[str, str], written: str
) -> None:
    response = await client.get(f"/v1/numbers/{written}", headers=admin_headers)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "invalid_number"
    assert body["details"]["parameter"] == "number"


# ---------------------------------------------------------------- filters


async def test_filters(
    client: Client, admin_headers: dict[str, str], sessions: tenancy.Sessions
) -> None:
    tenant, _ = await tenancy.create_tenant(client, admin_headers, "acme")
    pool = await tenancy.create_pool(client, admin_headers, name="support")
    seed = functools.partial(tenancy.seed_numbers, sessions, **ANNUAL)
    await seed(["4915100000001"], friendly_name="Hotline Berlin", tenant_id=uuid.UUID(tenant))
    await seed(["4915100000002"], feature_voice=False, pool_id=uuid.UUID(pool), state="deleting")
    await seed(["4915100000003"], feature_a2p_sms=True, friendly_name="100% sure_thing")
    await seed(
        ["4520000001"], country="DK", feature_sms=False, state="ordering", pool_id=uuid.UUID(pool)
    )
    get = lambda **params: numbers_of(client, admin_headers, **params)  # noqa: E731

    assert await get() == ["4520000001", "4915100000001", "4915100000002", "4915100000003"]
    assert await get(country="DK") == ["4520000001"]
    assert await get(country="de") == ["4915100000001", "4915100000002", "4915100000003"]
    assert await get(feature="voice") == ["4520000001", "4915100000001", "4915100000003"]
    # Repeated features: a number must have all of them.
    assert await get(feature=["sms", "voice"]) == ["4915100000001", "4915100000003"]
    assert await get(feature=["sms", "a2p_sms", "voice"]) == ["4915100000003"]
    assert await get(tenant=tenant) == ["4915100000001"]
    assert await get(pool=pool) == ["4520000001", "4915100000002"]
    assert await get(state="deleting") == ["4915100000002"]
    assert await get(state="ordering", country="DK") == ["4520000001"]
    assert await get(state="failed") == []
    # q: a substring of the number (in any written form) or the friendly name, any case.
    assert await get(q="00000002") == ["4915100000002"]
    assert await get(q="+49 151 000") == ["4915100000001", "4915100000002", "4915100000003"]
    assert await get(q="hotline") == ["4915100000001"]
    assert await get(q="BERLIN") == ["4915100000001"]
    # LIKE wildcards in q are literal characters.
    assert await get(q="100%") == ["4915100000003"]
    assert await get(q="e_t") == ["4915100000003"]
    assert await get(q="%") == ["4915100000003"]
    assert await get(q="nobody") == []


async def test_sevens_feature_flags_filter_as_the_feature_list_does(
    client: Client, admin_headers: dict[str, str], sessions: tenancy.Sessions
) -> None:
    """``features_<name>=true`` (seven's spelling, as the search takes it) is ``feature=<name>``;
    ``false`` keeps the numbers without it; both spellings at once must agree."""
    seed = functools.partial(tenancy.seed_numbers, sessions, **ANNUAL)
    await seed(["4915100000001"])
    await seed(["4915100000002"], feature_voice=False)
    await seed(["4915100000003"], feature_a2p_sms=True)
    await seed(["4520000001"], country="DK", feature_sms=False)
    get = lambda **params: numbers_of(client, admin_headers, **params)  # noqa: E731

    pairs: list[tuple[dict[str, Any], dict[str, Any]]] = [
        ({"feature": "voice"}, {"features_voice": "true"}),
        ({"feature": ["sms", "voice"]}, {"features_sms": "true", "features_voice": "1"}),
        ({"feature": "a2p_sms"}, {"features_a2p_sms": "yes"}),
        ({"feature": "sms"}, {"features_sms": "true", "feature": "sms"}),
    ]
    for listed, flagged in pairs:
        assert await get(**listed) == await get(**flagged), (listed, flagged)
    assert await get(features_voice="true") == ["4520000001", "4915100000001", "4915100000003"]
    assert await get(features_voice="false") == ["4915100000002"]
    assert await get(features_sms="false", feature="voice") == ["4520000001"]

    both = await client.get(
        "/v1/numbers", params={"feature": "sms", "features_sms": "false"}, headers=admin_headers
    )
    assert (both.status_code, both.json()["code"]) == (422, "invalid_features_sms")
    assert "feature=sms" in both.json()["message"]
    assert "features_sms" in both.json()["message"]


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"country": "XX"}, "country"),
        ({"country": "DEU"}, "country"),
        ({"country": "1"}, "country"),
        ({"feature": "fax"}, "feature"),
        ({"feature": ["sms", "fax"]}, "feature"),
        ({"features_sms": "maybe"}, "features_sms"),
        ({"features_voice": "2"}, "features_voice"),
        ({"state": "gone"}, "state"),
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "-5"}, "limit"),
        ({"cursor": "!!!not base64"}, "cursor"),
        ({"cursor": base64.urlsafe_b64encode(b"abc").decode()}, "cursor"),
        ({"tenant": "acme"}, "tenant"),
        ({"pool": "123"}, "pool"),
        ({"q": "x" * 201}, "q"),
    ],
)
async def test_malformed_parameter_is_422_naming_it(
    client: Client, admin_headers: dict[str, str], params: dict[str, Any], parameter: str
) -> None:
    response = await client.get("/v1/numbers", params=params, headers=admin_headers)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == f"invalid_{parameter}"
    assert body["details"]["parameter"] == parameter
    assert parameter in body["message"]


# ---------------------------------------------------------------- pagination


async def test_limit_defaults_to_50_and_the_last_page_has_no_cursor(
    client: Client, admin_headers: dict[str, str], sessions: tenancy.Sessions
) -> None:
    await tenancy.seed_numbers(sessions, [f"49151{i:08d}" for i in range(120)], **ANNUAL)
    sizes: list[int] = []
    cursor: str | None = None
    while True:
        params: dict[str, str] = {"cursor": cursor} if cursor else {}
        page = (await client.get("/v1/numbers", params=params, headers=admin_headers)).json()
        sizes.append(len(page["items"]))
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sizes == [50, 50, 20]
    full = await client.get("/v1/numbers", params={"limit": 500}, headers=admin_headers)
    assert len(full.json()["items"]) == 120
    assert full.json()["next_cursor"] is None
    exact = await client.get("/v1/numbers", params={"limit": 120}, headers=admin_headers)
    assert exact.json()["next_cursor"] is None


async def test_pagination_stays_stable_while_rows_are_inserted(
    client: Client, admin_headers: dict[str, str], sessions: tenancy.Sessions
) -> None:
    # 49151 + a six-digit base + a two-digit tag; originals have tag 00.
    original = [f"49151{base:06d}00" for base in range(0, 400, 10)]
    await tenancy.seed_numbers(sessions, original, **ANNUAL)
    seen: list[str] = []
    cursor: str | None = None
    inserted = 0
    while True:
        params: dict[str, Any] = {"limit": 7, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/numbers", params=params, headers=admin_headers)).json()
        seen += [item["number"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        # Between pages, numbers appear before, right after and far beyond the cursor.
        inserted += 1
        await tenancy.seed_numbers(
            sessions,
            [
                f"49151{0:06d}{inserted:02d}",
                f"{seen[-1][:11]}{50 + inserted:02d}",
                f"49151{999000 + inserted:06d}00",
            ],
            **ANNUAL,
        )
    from_start = [number for number in seen if number in set(original)]
    assert from_start == original  # every original row exactly once, in order
    assert len(seen) == len(set(seen))  # nothing repeated
    assert seen == sorted(seen)


# ---------------------------------------------------------------- tenants


async def test_a_tenant_key_sees_only_its_own_numbers(
    client: Client, admin_headers: dict[str, str], sessions: tenancy.Sessions
) -> None:
    (acme, acme_key), (globex, _) = [
        await tenancy.create_tenant(client, admin_headers, name) for name in ("acme", "globex")
    ]
    acme_number, globex_number, free_number = "4915170264838", "4915170264839", "4915170264830"
    await tenancy.seed_numbers(sessions, [acme_number], **ANNUAL, tenant_id=uuid.UUID(acme))
    await tenancy.seed_numbers(sessions, [globex_number], **ANNUAL, tenant_id=uuid.UUID(globex))
    await tenancy.seed_numbers(sessions, [free_number], **ANNUAL)
    acme_headers = tenancy.key_headers(acme_key)

    assert await numbers_of(client, acme_headers) == [acme_number]
    # Filtering by another tenant reveals nothing either.
    assert await numbers_of(client, acme_headers, tenant=globex) == []
    assert await numbers_of(client, acme_headers, q="49151702648") == [acme_number]
    mine = await client.get(f"/v1/numbers/{acme_number}", headers=acme_headers)
    assert mine.status_code == 200
    assert mine.json()["tenant"] == acme
    for other in (globex_number, free_number):
        hidden = await client.get(f"/v1/numbers/{other}", headers=acme_headers)
        assert hidden.status_code == 404
        assert hidden.json()["code"] == "number_not_found"
    # The admin key sees all of them.
    assert len(await numbers_of(client, admin_headers)) == 3
