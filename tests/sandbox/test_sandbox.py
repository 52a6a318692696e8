"""The sandbox over real HTTP: seven's shapes, bodies, auth, signature, faults and ledger.

Responses must match seven's documented examples (``tests.support.seven_docs``) key by
key and JSON type by JSON type, so a client written against the sandbox parses seven's
real answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import phonenumbers
import pytest

from sandbox.inventory import Inventory, now_berlin
from tests.support.polling import until_sync
from tests.support.sandbox import SIGNING_SECRET, SandboxProcess
from tests.support.seven_docs import DOC_ACTIVE, DOC_AVAILABLE, DOC_DELETE, DOC_ORDER, shape

SEVEN_TIME = "%Y-%m-%d %H:%M:%S"
DROPPED = (httpx.RemoteProtocolError, httpx.ReadError)


def assert_same_shape(actual: Any, expected: Any) -> None:
    assert shape(actual) == shape(expected)


@pytest.fixture
def api(sandbox: SandboxProcess) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=sandbox.base_url, headers={"X-Api-Key": sandbox.api_key}, timeout=10
    ) as client:
        yield client


def offer(sandbox: SandboxProcess, **query: Any) -> dict[str, Any]:
    return sandbox.available(**({"country": "DE"} | query))[0]


def ordered(api: httpx.Client, sandbox: SandboxProcess, interval: str = "annually") -> str:
    number = offer(sandbox)["number"]
    answer = api.post("/numbers/order", json={"number": number, "payment_interval": interval})
    assert answer.json() == DOC_ORDER
    return number


def forwarding(api: httpx.Client, number: str) -> dict[str, Any]:
    return api.get(f"/numbers/active/{number}").json()["forward_sms_mo"]


WRITES = ["order", "update", "delete"]
READS = ["active_get", "active_list", "available"]


def subject(api: httpx.Client, sandbox: SandboxProcess, endpoint: str) -> str:
    """A number to call ``endpoint`` about: one on offer for an order, else one of ours."""
    return offer(sandbox)["number"] if endpoint == "order" else ordered(api, sandbox)


def call(api: httpx.Client, endpoint: str, number: str, **options: Any) -> httpx.Response:
    """One request to ``endpoint``; the writes order, rename or delete immediately."""
    match endpoint:
        case "order":
            return api.post("/numbers/order", json={"number": number}, **options)
        case "update":
            body = {"friendly_name": "changed"}
            return api.patch(f"/numbers/active/{number}", json=body, **options)
        case "delete":
            query = {"delete_immediately": "true"}
            return api.delete(f"/numbers/active/{number}", params=query, **options)
        case "active_get":
            return api.get(f"/numbers/active/{number}", **options)
        case "active_list":
            return api.get("/numbers/active", **options)
    return api.get("/numbers/available", **options)


def committed(api: httpx.Client, sandbox: SandboxProcess, endpoint: str, number: str) -> bool:
    """Whether the write :func:`call` sends for ``endpoint`` was carried out."""
    if endpoint == "order":
        return sandbox.orders_of(number) == 1
    answer = api.get(f"/numbers/active/{number}")
    if endpoint == "delete":
        return answer.status_code == 404
    return bool(answer.json()["friendly_name"] == "changed")


def seen(api: httpx.Client, endpoint: str, number: str) -> tuple[bool, bool]:
    """Whether the write :func:`call` sends for ``endpoint`` shows in a read of the number
    and in the active list."""
    single = api.get(f"/numbers/active/{number}")
    listed = {n["number"]: n for n in api.get("/numbers/active").json()["activeNumbers"]}
    if endpoint == "order":
        return single.status_code == 200, number in listed
    if endpoint == "delete":
        return single.status_code == 404, number not in listed
    return single.json()["friendly_name"] == "changed", listed[number]["friendly_name"] == "changed"


# --------------------------------------------------------------------------- shapes


def test_available_numbers_have_the_doc_shape_and_are_valid(api: httpx.Client) -> None:
    answer = api.get("/numbers/available")
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert list(body) == ["availableNumbers"]
    numbers = body["availableNumbers"]
    assert len({n["country"] for n in numbers}) >= 8
    for item in numbers:
        assert_same_shape(item, DOC_AVAILABLE)
        parsed = phonenumbers.parse("+" + item["number"])
        assert phonenumbers.is_valid_number(parsed)
        assert phonenumbers.region_code_for_number(parsed) == item["country"]
        assert item["number_parsed"] == phonenumbers.format_number(
            parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL
        )
    # Realistic variety, not one template repeated.
    assert len({str(n["fees"]) for n in numbers}) > 10
    assert len({str(n["features"]) for n in numbers}) >= 3


def test_fees_are_json_numbers_with_seven_spelling(api: httpx.Client) -> None:
    text = api.get("/numbers/available", params={"country": "DE"}).text
    assert '"basic_charge":' in text and '"basic_charge":"' not in text
    assert "E+" not in text  # Decimal exponents would be valid JSON but not seven's style


def test_every_answer_matches_the_doc_examples(api: httpx.Client, sandbox: SandboxProcess) -> None:
    number = offer(sandbox)["number"]
    order = api.post("/numbers/order", data={"number": number})
    assert order.json() == DOC_ORDER
    patched = api.patch(
        f"/numbers/active/{number}",
        json={"sms_forward": ["4917612345678"], "email_forward": ["j.doe@acme.inc"]},
    ).json()
    assert_same_shape(patched, DOC_ACTIVE)
    assert_same_shape(api.get(f"/numbers/active/{number}").json(), DOC_ACTIVE)
    listed = api.get("/numbers/active").json()
    assert list(listed) == ["activeNumbers"]
    for item in listed["activeNumbers"]:
        assert_same_shape(item, DOC_ACTIVE)
    deleted = api.delete(f"/numbers/active/{number}", params={"delete_immediately": "true"})
    assert deleted.json() == DOC_DELETE


def test_prepopulated_active_numbers_have_the_doc_shape() -> None:
    with SandboxProcess.start(active=300, seed=11) as other:
        numbers = other.active()
    assert len(numbers) == 300
    unconfigured = {
        "sms": {"number": [], "enabled": False},
        "email": {"address": [], "enabled": False},
    }
    for item in numbers:
        expected = dict(DOC_ACTIVE)
        if item["expires"] is not None:
            expected["expires"] = "2030-01-01 00:00:00"
        if item["forward_sms_mo"] == unconfigured:
            expected["forward_sms_mo"] = unconfigured
        assert_same_shape(item, expected)
        assert datetime.strptime(item["created"], SEVEN_TIME) < now_berlin()
    assert {n["billing"]["payment_interval"] for n in numbers} == {"monthly", "annually"}
    assert any(n["forward_sms_mo"] != unconfigured for n in numbers)


def test_inventory_is_deterministic_per_seed() -> None:
    def first(seed: int) -> list[str]:
        return [n.number for n in Inventory(seed).available(3)]

    assert first(7) == first(7)
    assert first(7) != first(8)


def test_hundred_thousand_active_numbers_start_and_list_fast() -> None:
    # Loose bounds: a guard against accidental quadratic work, not a benchmark (CI machines
    # are small and xdist runs this beside other tests).
    started = time.monotonic()
    with SandboxProcess.start(active=100_000) as big:
        startup = time.monotonic() - started
        listed_at = time.monotonic()
        raw = big.api("GET", "/numbers/active").content  # timed without client-side parsing
        listing = time.monotonic() - listed_at
    numbers = json.loads(raw)["activeNumbers"]
    assert len(numbers) == 100_000 == len({n["number"] for n in numbers})
    assert startup < 20, startup
    assert listing < 10, listing


# --------------------------------------------------------------------------- available


@pytest.mark.parametrize(
    ("flag", "on", "off"),
    [
        ("features_sms", "true", "false"),
        ("features_voice", "1", "0"),
        ("features_a2p_sms", "TRUE", ""),
    ],
)
def test_available_filters(sandbox: SandboxProcess, flag: str, on: str, off: str) -> None:
    feature = flag.removeprefix("features_")
    everything = sandbox.available(country="dk")
    assert everything and {n["country"] for n in everything} == {"DK"}
    only = sandbox.available(country="DK", **{flag: on})
    assert only and all(n["features"][feature] for n in only)
    assert len(only) < len(everything)  # the filter removed something
    assert sandbox.available(country="DK", **{flag: off}) == everything


def test_available_unknown_country_is_empty_and_bad_boolean_is_422(
    api: httpx.Client, sandbox: SandboxProcess
) -> None:
    assert sandbox.available(country="ZZ") == []
    answer = api.get("/numbers/available", params={"features_sms": "maybe"})
    assert answer.status_code == 422
    assert answer.json()["success"] is False


# --------------------------------------------------------------------------- order


@pytest.mark.parametrize("encoding", ["json", "form"])
@pytest.mark.parametrize("interval", ["monthly", "annually"])
def test_order_moves_number_with_interval_fees(
    api: httpx.Client, sandbox: SandboxProcess, encoding: str, interval: str
) -> None:
    item = offer(sandbox)
    body = {"number": item["number"], "payment_interval": interval}
    if encoding == "json":
        answer = api.post("/numbers/order", json=body)
    else:
        answer = api.post("/numbers/order", data=body)
    assert answer.json() == DOC_ORDER
    active = api.get(f"/numbers/active/{item['number']}").json()
    fees = item["fees"][interval]
    assert active["billing"] == {
        "fees": {
            "setup": fees["setup"],
            "basic_charge": fees["basic_charge"],
            "sms_mo": item["fees"]["sms_mo"],
            "voice_mo": item["fees"]["voice_mo"],
        },
        "payment_interval": interval,
    }
    assert active["features"] == item["features"]
    assert active["expires"] is None and active["friendly_name"] == ""
    created = datetime.strptime(active["created"], SEVEN_TIME)
    berlin_now = datetime.now(ZoneInfo("Europe/Berlin")).replace(tzinfo=None)
    assert abs(berlin_now - created) < timedelta(seconds=5)
    assert item["number"] not in {n["number"] for n in sandbox.available(country="DE")}
    assert [e["payment_interval"] for e in sandbox.ledger()[item["number"]]] == [interval]


def test_order_defaults_to_annually(api: httpx.Client, sandbox: SandboxProcess) -> None:
    number = offer(sandbox)["number"]
    api.post("/numbers/order", json={"number": number})
    assert sandbox.ledger()[number][0]["payment_interval"] == "annually"


@pytest.mark.parametrize(
    "body",
    [
        {"number": "4915170264838"},  # valid but not on offer
        {"number": "+49 151 70264838"},  # seven wants digits
        {"number": ""},
        {},
        {"number": "OFFER", "payment_interval": "weekly"},
    ],
)
def test_refused_orders_are_http_200_with_error(
    api: httpx.Client, sandbox: SandboxProcess, body: dict[str, str]
) -> None:
    if body.get("number") == "OFFER":
        body = body | {"number": offer(sandbox)["number"]}
    answer = api.post("/numbers/order", json=body)
    assert answer.status_code == 200
    assert answer.json()["success"] is False
    assert isinstance(answer.json()["error"], str) and answer.json()["error"]
    assert sandbox.ledger() == {}


def test_second_order_of_same_number_is_refused_and_not_charged(
    api: httpx.Client, sandbox: SandboxProcess
) -> None:
    number = ordered(api, sandbox)
    again = api.post("/numbers/order", json={"number": number}).json()
    assert again["success"] is False
    assert sandbox.orders_of(number) == 1


def test_ledger_survives_deletion_and_counts_reorders(
    api: httpx.Client, sandbox: SandboxProcess
) -> None:
    number = ordered(api, sandbox, "monthly")
    api.delete(f"/numbers/active/{number}", params={"delete_immediately": 1})
    assert sandbox.orders_of(number) == 1
    # A released number is back on sale; ordering it again is a second, paid order.
    assert api.post("/numbers/order", json={"number": number}).json() == DOC_ORDER
    entries = sandbox.ledger()[number]
    assert [e["payment_interval"] for e in entries] == ["monthly", "annually"]
    assert all(isinstance(e["basic_charge"], int | float) for e in entries)


# --------------------------------------------------------------------------- active


def test_unknown_number_is_404_with_error_body_or_200(
    api: httpx.Client, sandbox: SandboxProcess
) -> None:
    for method in ("GET", "PATCH", "DELETE"):
        answer = api.request(method, "/numbers/active/4915170264838")
        assert answer.status_code == 404
        assert answer.json() == {"success": False, "error": "Number not found."}
    sandbox.set_not_found("error_200")
    answer = api.get("/numbers/active/4915170264838")
    assert (answer.status_code, answer.json()["success"]) == (200, False)


def test_patch_json_changes_only_given_fields(api: httpx.Client, sandbox: SandboxProcess) -> None:
    number = ordered(api, sandbox)
    before = api.get(f"/numbers/active/{number}").json()
    answer = api.patch(
        f"/numbers/active/{number}",
        json={"friendly_name": "Support", "sms_forward": ["4917612345678", "4917612345679"]},
    )
    updated = answer.json()
    assert updated["friendly_name"] == "Support"
    assert updated["forward_sms_mo"]["sms"] == {
        "number": ["4917612345678", "4917612345679"],
        "enabled": True,
    }
    assert updated["forward_sms_mo"]["email"] == before["forward_sms_mo"]["email"]
    assert {k: v for k, v in updated.items() if k not in ("friendly_name", "forward_sms_mo")} == {
        k: v for k, v in before.items() if k not in ("friendly_name", "forward_sms_mo")
    }
    assert api.get(f"/numbers/active/{number}").json() == updated


@pytest.mark.parametrize(
    "form",
    [
        "sms_forward[0]=4917612345678&sms_forward[1]=4917612345679&email_forward[0]=a%40b.de",
        "sms_forward[]=4917612345678&sms_forward[]=4917612345679&email_forward[]=a%40b.de",
        "sms_forward=4917612345678&sms_forward=4917612345679&email_forward=a%40b.de",
        "sms_forward[1]=4917612345679&sms_forward[0]=4917612345678&email_forward=a%40b.de",
    ],
)
def test_patch_form_arrays(api: httpx.Client, sandbox: SandboxProcess, form: str) -> None:
    number = ordered(api, sandbox)
    answer = api.patch(
        f"/numbers/active/{number}",
        content=form,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.json()["forward_sms_mo"] == {
        "sms": {"number": ["4917612345678", "4917612345679"], "enabled": True},
        "email": {"address": ["a@b.de"], "enabled": True},
    }


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        ('{"sms_forward": [], "email_forward": []}', "application/json"),
        ("sms_forward=&email_forward=", "application/x-www-form-urlencoded"),
        ("sms_forward[]=&email_forward[]=", "application/x-www-form-urlencoded"),
    ],
)
def test_patch_empty_array_disables_forwarding(
    api: httpx.Client, sandbox: SandboxProcess, content: str, content_type: str
) -> None:
    number = ordered(api, sandbox)
    api.patch(
        f"/numbers/active/{number}",
        json={"sms_forward": ["4917612345678"], "email_forward": ["a@b.de"]},
    )
    answer = api.patch(
        f"/numbers/active/{number}", content=content, headers={"Content-Type": content_type}
    )
    assert answer.json()["forward_sms_mo"] == {
        "sms": {"number": [], "enabled": False},
        "email": {"address": [], "enabled": False},
    }


def test_patch_slack_and_validation(api: httpx.Client, sandbox: SandboxProcess) -> None:
    number = ordered(api, sandbox)
    slack = api.patch(f"/numbers/active/{number}", json={"slack_forward": "https://hooks.x/1"})
    assert slack.json()["forward_sms_mo"]["slack"] == {"uri": "https://hooks.x/1", "enabled": True}
    for bad in ({"sms_forward": ["+49 176"]}, {"email_forward": ["nobody"]}, {"friendly_name": 5}):
        answer = api.patch(f"/numbers/active/{number}", json=bad)
        assert answer.status_code == 422 and answer.json()["success"] is False


@pytest.mark.parametrize(
    "how",
    [
        {"params": {"delete_immediately": "true"}},
        {"params": {"delete_immediately": "1"}},
        {"json": {"delete_immediately": True}},
        {"data": {"delete_immediately": "1"}},
    ],
)
def test_delete_immediately_from_query_or_body(
    api: httpx.Client, sandbox: SandboxProcess, how: dict[str, Any]
) -> None:
    number = ordered(api, sandbox)
    answer = api.request("DELETE", f"/numbers/active/{number}", **how)
    assert answer.json() == DOC_DELETE
    assert number not in {n["number"] for n in sandbox.active()}
    assert api.get(f"/numbers/active/{number}").status_code == 404


@pytest.mark.parametrize(
    "how",
    [{}, {"params": {"delete_immediately": "false"}}, {"json": {"delete_immediately": False}}],
)
def test_delete_at_period_end_sets_expires_and_keeps_number(
    api: httpx.Client, sandbox: SandboxProcess, how: dict[str, Any]
) -> None:
    number = ordered(api, sandbox, "monthly")
    # Pretend it was ordered on 31 Jan 2024: monthly periods end on the 29th of Feb etc.
    sandbox.put_active(number, created="2024-01-31 17:06:27")
    assert api.request("DELETE", f"/numbers/active/{number}", **how).json() == DOC_DELETE
    active = api.get(f"/numbers/active/{number}").json()
    expires = datetime.strptime(active["expires"], SEVEN_TIME)
    assert now_berlin() < expires <= now_berlin() + timedelta(days=31)
    assert expires.time() == datetime.strptime("17:06:27", "%H:%M:%S").time()
    assert number in {n["number"] for n in sandbox.active()}
    # Asking again does not move the date.
    api.request("DELETE", f"/numbers/active/{number}", **how)
    assert api.get(f"/numbers/active/{number}").json()["expires"] == active["expires"]


def test_annual_period_end_and_expiry(api: httpx.Client, sandbox: SandboxProcess) -> None:
    number = ordered(api, sandbox, "annually")
    created = (now_berlin() - timedelta(days=400)).strftime(SEVEN_TIME)
    sandbox.put_active(number, created=created)
    api.delete(f"/numbers/active/{number}")
    expires = datetime.strptime(api.get(f"/numbers/active/{number}").json()["expires"], SEVEN_TIME)
    assert expires.strftime("%m-%d %H:%M:%S") == created[5:]
    assert now_berlin() < expires < now_berlin() + timedelta(days=366)
    # When the date has passed, the number is gone at the next request.
    sandbox.put_active(number, expires=(now_berlin() - timedelta(seconds=1)).strftime(SEVEN_TIME))
    assert api.get(f"/numbers/active/{number}").status_code == 404


# --------------------------------------------------------------------------- auth


ENDPOINTS = [
    ("GET", "/numbers/available"),
    ("POST", "/numbers/order"),
    ("GET", "/numbers/active"),
    ("GET", "/numbers/active/4915170264838"),
    ("PATCH", "/numbers/active/4915170264838"),
    ("DELETE", "/numbers/active/4915170264838"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Api-Key": "wrong"}, {"Authorization": "Basic wrong"}, {"Authorization": "wrong"}],
)
def test_wrong_or_missing_key_is_bare_900_with_http_200(
    sandbox: SandboxProcess, method: str, path: str, headers: dict[str, str]
) -> None:
    answer = httpx.request(method, sandbox.base_url + path, headers=headers)
    assert answer.status_code == 200
    assert answer.content == b"900"
    assert answer.headers["content-type"] == "application/json"


@pytest.mark.parametrize("header", ["X-Api-Key", "Basic", "basic", "Bearer"])
def test_accepted_key_headers(sandbox: SandboxProcess, header: str) -> None:
    headers = (
        {"X-Api-Key": sandbox.api_key}
        if header == "X-Api-Key"
        else {"Authorization": f"{header} {sandbox.api_key}"}
    )
    answer = httpx.get(sandbox.base_url + "/numbers/active", headers=headers)
    assert answer.json() == {"activeNumbers": []}


def test_order_with_wrong_key_changes_nothing(sandbox: SandboxProcess) -> None:
    number = offer(sandbox)["number"]
    answer = httpx.post(
        sandbox.base_url + "/numbers/order", json={"number": number}, headers={"X-Api-Key": "wrong"}
    )
    assert answer.content == b"900"
    assert sandbox.ledger() == {}
    assert sandbox.requests("order")[-1]["outcome"] == "900"


# --------------------------------------------------------------------------- signature


def signed(
    secret: str, request: httpx.Request, *, timestamp: int | None = None, nonce: str | None = None
) -> httpx.Request:
    """seven's signature computed here, independently of app.seven.signing."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or secrets.token_hex(16)
    digest = hashlib.md5(request.content).hexdigest()  # noqa: S324 - seven's choice
    message = "\n".join([stamp, nonce, request.method, str(request.url), digest])
    signature = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    request.headers.update({"X-Signature": signature, "X-Timestamp": stamp, "X-Nonce": nonce})
    return request


@pytest.fixture
def signed_client(signature_checking_sandbox: SandboxProcess) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=signature_checking_sandbox.base_url,
        headers={"X-Api-Key": signature_checking_sandbox.api_key},
    ) as client:
        yield client


def test_signed_requests_pass(
    signed_client: httpx.Client, signature_checking_sandbox: SandboxProcess
) -> None:
    query = signed_client.build_request(
        "GET", "/numbers/available", params={"country": "DE", "features_sms": "true"}
    )
    number = signed_client.send(signed(SIGNING_SECRET, query)).json()["availableNumbers"][0]
    order = signed_client.build_request("POST", "/numbers/order", json={"number": number["number"]})
    assert signed_client.send(signed(SIGNING_SECRET, order)).json() == DOC_ORDER
    form = signed_client.build_request(
        "PATCH", f"/numbers/active/{number['number']}", data={"friendly_name": "signed"}
    )
    assert signed_client.send(signed(SIGNING_SECRET, form)).json()["friendly_name"] == "signed"


def test_bad_signatures_are_bare_901(
    signed_client: httpx.Client, signature_checking_sandbox: SandboxProcess
) -> None:
    def attempt(request: httpx.Request) -> bytes:
        answer = signed_client.send(request)
        assert answer.status_code == 200
        return answer.content

    def build() -> httpx.Request:
        return signed_client.build_request("GET", "/numbers/active")

    assert attempt(build()) == b"901"  # unsigned
    assert attempt(signed("other-secret", build())) == b"901"
    assert attempt(signed(SIGNING_SECRET, build(), timestamp=int(time.time()) - 31)) == b"901"
    reused = "n" * 32
    assert attempt(signed(SIGNING_SECRET, build(), nonce=reused)).startswith(b"{")
    assert attempt(signed(SIGNING_SECRET, build(), nonce=reused)) == b"901"  # replay
    tampered = signed(
        SIGNING_SECRET,
        signed_client.build_request("POST", "/numbers/order", json={"number": "4915170264838"}),
    )
    tampered.stream = httpx.ByteStream(b'{"number":"4915170264839"}')
    assert attempt(tampered) == b"901"
    wrong_url = signed(SIGNING_SECRET, build())
    wrong_url.url = wrong_url.url.copy_with(query=b"x=1")
    assert attempt(wrong_url) == b"901"
    assert signature_checking_sandbox.ledger() == {}


# --------------------------------------------------------------------------- faults


def test_latency_fault(api: httpx.Client, sandbox: SandboxProcess) -> None:
    sandbox.add_fault("latency", "active_list", ms=400)
    started = time.monotonic()
    assert api.get("/numbers/active").status_code == 200
    assert time.monotonic() - started >= 0.4
    started = time.monotonic()
    api.get("/numbers/active")
    assert time.monotonic() - started < 0.4  # used up


@pytest.mark.parametrize("retry_after", [3, None])
def test_rate_limit_fault(api: httpx.Client, sandbox: SandboxProcess, retry_after: Any) -> None:
    sandbox.add_fault("rate_limit", "order", retry_after=retry_after)
    number = offer(sandbox)["number"]
    answer = api.post("/numbers/order", json={"number": number})
    assert answer.status_code == 429
    assert answer.headers.get("retry-after") == (None if retry_after is None else "3")
    assert sandbox.ledger() == {}
    assert api.post("/numbers/order", json={"number": number}).json() == DOC_ORDER


def test_server_error_fault_counts_down(api: httpx.Client, sandbox: SandboxProcess) -> None:
    sandbox.add_fault("server_error", "available", times=2, status=503)
    assert [api.get("/numbers/available").status_code for _ in range(3)] == [503, 503, 200]


def test_fault_forever_until_cleared_and_only_for_its_endpoint(
    api: httpx.Client, sandbox: SandboxProcess
) -> None:
    sandbox.add_fault("server_error", "active_list", times=None)
    assert [api.get("/numbers/active").status_code for _ in range(3)] == [500] * 3
    assert api.get("/numbers/available").status_code == 200
    sandbox.clear_faults()
    assert api.get("/numbers/active").status_code == 200


def test_faults_are_consumed_in_order(api: httpx.Client, sandbox: SandboxProcess) -> None:
    sandbox.add_fault("rate_limit", "*")
    sandbox.add_fault("bare_code", "active_list", code=903)
    sandbox.add_fault("server_error", "*")
    answers = [api.get("/numbers/active") for _ in range(4)]
    assert [(a.status_code, a.content[:3]) for a in answers[:3]] == [
        (429, b'{"m'),
        (200, b"903"),
        (500, b'{"m'),
    ]
    assert answers[3].json() == {"activeNumbers": []}
    assert sandbox.faults() == []


@pytest.mark.parametrize(
    ("code", "as_string", "body"),
    [(900, False, b"900"), (900, True, b'"900"'), (500, False, b"500"), (999, False, b"999")],
)
def test_bare_code_fault(
    api: httpx.Client, sandbox: SandboxProcess, code: int, as_string: bool, body: bytes
) -> None:
    sandbox.add_fault("bare_code", "order", code=code, as_string=as_string)
    answer = api.post("/numbers/order", json={"number": offer(sandbox)["number"]})
    assert (answer.status_code, answer.content) == (200, body)
    assert sandbox.ledger() == {}


def test_hang_fault_times_out_and_changes_nothing(
    api: httpx.Client, sandbox: SandboxProcess
) -> None:
    sandbox.add_fault("hang", "order", seconds=2)
    number = offer(sandbox)["number"]
    with pytest.raises(httpx.ReadTimeout):
        api.post("/numbers/order", json={"number": number}, timeout=0.5)
    assert sandbox.ledger() == {}


def test_hang_after_commit_times_out_but_order_went_through(
    api: httpx.Client, sandbox: SandboxProcess
) -> None:
    sandbox.add_fault("hang", "order", seconds=2, after_commit=True)
    number = offer(sandbox)["number"]
    with pytest.raises(httpx.ReadTimeout):
        api.post("/numbers/order", json={"number": number}, timeout=0.5)
    assert sandbox.orders_of(number) == 1


def test_drop_after_commit_on_order(api: httpx.Client, sandbox: SandboxProcess) -> None:
    sandbox.add_fault("drop_after_commit", "order")
    number = offer(sandbox)["number"]
    with pytest.raises(DROPPED):
        api.post("/numbers/order", json={"number": number})
    # The answer was lost but the money is gone: the read-before-write check sees it.
    assert sandbox.orders_of(number) == 1
    assert api.get(f"/numbers/active/{number}").status_code == 200
    assert "without completing response" in sandbox.log()


@pytest.mark.parametrize("endpoint", ["update", "delete"])
def test_drop_after_commit_on_update_and_delete(
    api: httpx.Client, sandbox: SandboxProcess, endpoint: str
) -> None:
    number = subject(api, sandbox, endpoint)
    sandbox.add_fault("drop_after_commit", endpoint)
    with pytest.raises(DROPPED):
        call(api, endpoint, number)
    assert committed(api, sandbox, endpoint, number)


@pytest.mark.parametrize("endpoint", ["update", "delete"])
def test_hang_after_commit_on_update_and_delete(
    api: httpx.Client, sandbox: SandboxProcess, endpoint: str
) -> None:
    number = subject(api, sandbox, endpoint)
    sandbox.add_fault("hang", endpoint, seconds=1, after_commit=True)
    with pytest.raises(httpx.ReadTimeout):
        call(api, endpoint, number, timeout=0.3)
    assert committed(api, sandbox, endpoint, number)


def test_hang_after_commit_answers_late_with_the_real_answer(
    api: httpx.Client, sandbox: SandboxProcess
) -> None:
    number = ordered(api, sandbox)
    sandbox.add_fault("hang", "update", seconds=0.5, after_commit=True)
    started = time.monotonic()
    answer = call(api, "update", number)
    assert time.monotonic() - started >= 0.5
    assert answer.json()["friendly_name"] == "changed"


def test_drop_and_hang_on_a_read_lose_or_delay_its_answer(
    api: httpx.Client, sandbox: SandboxProcess
) -> None:
    number = ordered(api, sandbox)
    sandbox.add_fault("drop_after_commit", "active_get")
    sandbox.add_fault("hang", "active_get", seconds=1, after_commit=True)
    with pytest.raises(DROPPED):
        api.get(f"/numbers/active/{number}")
    with pytest.raises(httpx.ReadTimeout):
        api.get(f"/numbers/active/{number}", timeout=0.3)
    assert api.get(f"/numbers/active/{number}").json()["number"] == number


def test_drop_before_commit_changes_nothing(api: httpx.Client, sandbox: SandboxProcess) -> None:
    sandbox.add_fault("drop_before_commit", "order")
    number = offer(sandbox)["number"]
    with pytest.raises(DROPPED):
        api.post("/numbers/order", json={"number": number})
    assert sandbox.ledger() == {}


async def test_drop_is_seen_by_async_httpx_too(sandbox: SandboxProcess) -> None:
    sandbox.add_fault("drop_after_commit", "active_list")
    async with httpx.AsyncClient(base_url=sandbox.base_url) as client:
        with pytest.raises(DROPPED):
            await client.get("/numbers/active", headers={"X-Api-Key": sandbox.api_key})


@pytest.mark.parametrize("endpoint", WRITES + READS)
@pytest.mark.parametrize("status", [None, 502])
def test_html_fault_answers_a_proxy_page_and_changes_nothing(
    api: httpx.Client, sandbox: SandboxProcess, endpoint: str, status: int | None
) -> None:
    number = subject(api, sandbox, endpoint)
    params: dict[str, Any] = {} if status is None else {"status": status}
    sandbox.add_fault("html", endpoint, **params)
    answer = call(api, endpoint, number)
    assert answer.status_code == (status or 200)
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.text.startswith("<!DOCTYPE html>")
    with pytest.raises(json.JSONDecodeError):
        answer.json()
    if endpoint in WRITES:
        assert not committed(api, sandbox, endpoint, number)


@pytest.mark.parametrize("endpoint", WRITES + READS)
def test_empty_object_fault_changes_nothing(
    api: httpx.Client, sandbox: SandboxProcess, endpoint: str
) -> None:
    number = subject(api, sandbox, endpoint)
    sandbox.add_fault("empty_object", endpoint)
    answer = call(api, endpoint, number)
    assert (answer.status_code, answer.headers["content-type"]) == (200, "application/json")
    assert answer.content == b"{}"
    if endpoint in WRITES:
        assert not committed(api, sandbox, endpoint, number)


@pytest.mark.parametrize(
    ("endpoint", "status"),
    [
        ("order", 200),
        ("delete", 200),
        ("update", 422),
        ("active_get", 403),
        ("active_list", 403),
        ("available", 403),
    ],
)
def test_refuse_fault_answers_the_routes_refusal_and_changes_nothing(
    api: httpx.Client, sandbox: SandboxProcess, endpoint: str, status: int
) -> None:
    number = subject(api, sandbox, endpoint)
    sandbox.add_fault("refuse", endpoint)
    sandbox.add_fault("refuse", endpoint, message="Number is locked.")
    answer = call(api, endpoint, number)
    assert answer.status_code == status
    assert answer.json()["success"] is False and answer.json()["error"]
    assert call(api, endpoint, number).json() == {"success": False, "error": "Number is locked."}
    if endpoint in WRITES:
        assert not committed(api, sandbox, endpoint, number)


@pytest.mark.parametrize("endpoint", WRITES)
@pytest.mark.parametrize(
    ("kind", "status", "start"),
    [
        ("server_error", 500, b'{"message":'),
        ("html", 502, b"<!DOCTYPE"),
        ("empty_object", 200, b"{}"),
    ],
)
def test_answer_replaced_after_commit(
    api: httpx.Client, sandbox: SandboxProcess, endpoint: str, kind: str, status: int, start: bytes
) -> None:
    number = subject(api, sandbox, endpoint)
    params: dict[str, Any] = {} if kind == "empty_object" else {"status": status}
    sandbox.add_fault(kind, endpoint, after_commit=True, **params)
    answer = call(api, endpoint, number)
    assert answer.status_code == status and answer.content.startswith(start)
    assert committed(api, sandbox, endpoint, number)


@pytest.mark.parametrize("endpoint", WRITES)
def test_visible_after_ms_shows_the_previous_state_until_then(
    api: httpx.Client, sandbox: SandboxProcess, endpoint: str
) -> None:
    number = subject(api, sandbox, endpoint)
    sandbox.add_fault("drop_after_commit", endpoint, visible_after_ms=1500)
    started = time.monotonic()
    with pytest.raises(DROPPED):
        call(api, endpoint, number)
    assert seen(api, endpoint, number) == (False, False)
    if endpoint == "order":  # seven has it: ordering again is refused, and not charged
        assert call(api, endpoint, number).json()["success"] is False
        assert sandbox.orders_of(number) == 1
        assert seen(api, endpoint, number) == (False, False)
    until_sync(lambda: seen(api, endpoint, number) == (True, True), "the write to show", every=0.05)
    assert time.monotonic() - started >= 1.5


@pytest.mark.parametrize(
    ("kind", "params"),
    [("hang", {"seconds": 1}), ("html", {"status": 502}), ("server_error", {})],
)
def test_visible_after_ms_on_other_faults_after_commit(
    api: httpx.Client, sandbox: SandboxProcess, kind: str, params: dict[str, Any]
) -> None:
    number = offer(sandbox)["number"]
    sandbox.add_fault(kind, "order", after_commit=True, visible_after_ms=60_000, **params)
    with contextlib.suppress(httpx.ReadTimeout):
        call(api, "order", number, timeout=0.3)
    assert sandbox.orders_of(number) == 1
    assert seen(api, "order", number) == (False, False)


def test_a_later_write_keeps_or_ends_the_previous_state_showing(
    api: httpx.Client, sandbox: SandboxProcess
) -> None:
    number = ordered(api, sandbox)
    for name in ("first", "second"):
        sandbox.add_fault("drop_after_commit", "update", visible_after_ms=60_000)
        with pytest.raises(DROPPED):
            api.patch(f"/numbers/active/{number}", json={"friendly_name": name})
        assert api.get(f"/numbers/active/{number}").json()["friendly_name"] == ""
    # Answered at once, so seven is done with the earlier writes too.
    api.patch(f"/numbers/active/{number}", json={"friendly_name": "third"})
    assert api.get(f"/numbers/active/{number}").json()["friendly_name"] == "third"
    assert sandbox.active()[0]["friendly_name"] == "third"


@pytest.mark.parametrize("encoding", ["json", "form"])
def test_fault_for_one_number_spares_the_others_when_ordering(
    api: httpx.Client, sandbox: SandboxProcess, encoding: str
) -> None:
    mine, other = (n["number"] for n in sandbox.available(country="DE")[:2])
    sandbox.add_fault("server_error", "order", times=2, number=mine)

    def order(number: str) -> int:
        if encoding == "json":
            return api.post("/numbers/order", json={"number": number}).status_code
        return api.post("/numbers/order", data={"number": number}).status_code

    assert order(other) == 200  # another number's request does not use up mine
    assert [order(mine), order(mine), order(mine)] == [500, 500, 200]
    assert set(sandbox.ledger()) == {mine, other}


def test_fault_for_one_number_on_the_number_routes(
    api: httpx.Client, sandbox: SandboxProcess
) -> None:
    mine, other = ordered(api, sandbox), ordered(api, sandbox)
    sandbox.add_fault("bare_code", "*", times=3, number=mine, code=902)
    assert api.get(f"/numbers/active/{other}").status_code == 200
    assert api.patch(f"/numbers/active/{other}", json={"friendly_name": "x"}).status_code == 200
    assert api.get("/numbers/active").json()["activeNumbers"]  # the lists name no number
    assert api.get(f"/numbers/active/{mine}").content == b"902"
    assert api.patch(f"/numbers/active/{mine}", json={"friendly_name": "y"}).content == b"902"
    assert api.delete(f"/numbers/active/{mine}").content == b"902"
    assert api.get(f"/numbers/active/{mine}").json()["friendly_name"] == ""
    assert sandbox.faults() == []


async def test_faults_for_many_numbers_at_once_each_strike_their_own(
    sandbox: SandboxProcess,
) -> None:
    numbers = [n["number"] for n in sandbox.available()[:12]]
    for number in numbers:
        sandbox.add_fault("server_error", "order", times=2, number=number, status=502)

    async def order_until_bought(client: httpx.AsyncClient, number: str) -> list[int]:
        statuses: list[int] = []
        while 200 not in statuses and len(statuses) < 5:
            answer = await client.post("/numbers/order", json={"number": number})
            statuses.append(answer.status_code)
        return statuses

    headers = {"X-Api-Key": sandbox.api_key}
    async with httpx.AsyncClient(base_url=sandbox.base_url, headers=headers) as client:
        results = await asyncio.gather(*(order_until_bought(client, n) for n in numbers))
    assert results == [[502, 502, 200]] * len(numbers)
    assert all(sandbox.order_requests(n) == 3 and sandbox.orders_of(n) == 1 for n in numbers)
    assert sandbox.faults() == []


def test_unknown_fault_kind_or_parameter_is_refused(sandbox: SandboxProcess) -> None:
    for bad in (
        {"kind": "explode"},
        {"kind": "latency", "millis": 5},
        {"kind": "latency", "times": 0},
        {"kind": "latency", "number": "+49 151 70264838"},
        {"kind": "latency", "endpoint": "active_list", "number": "4915170264838"},
        {"kind": "rate_limit", "after_commit": True},
        {"kind": "server_error", "visible_after_ms": 100},
        {"kind": "drop_after_commit", "visible_after_ms": -1},
    ):
        answer = httpx.post(sandbox.control_url + "/faults", json=bad)
        assert answer.status_code == 400


# --------------------------------------------------------------------------- control


def test_changes_outside_the_service(api: httpx.Client, sandbox: SandboxProcess) -> None:
    added = sandbox.put_active("4915112345678", friendly_name="from the web UI")
    assert added["country"] == "DE" and added["friendly_name"] == "from the web UI"
    assert_same_shape(added | {"forward_sms_mo": DOC_ACTIVE["forward_sms_mo"]}, DOC_ACTIVE)
    changed = sandbox.put_active("4915112345678", billing={"payment_interval": "monthly"})
    assert changed["billing"]["payment_interval"] == "monthly"
    assert changed["billing"]["fees"] == added["billing"]["fees"]  # nested merge
    assert api.get("/numbers/active/4915112345678").json() == changed
    sandbox.remove_active("4915112345678")
    assert api.get("/numbers/active").json() == {"activeNumbers": []}
    assert sandbox.ledger() == {}  # not ordered through the API


def test_put_active_refuses_invalid_number(sandbox: SandboxProcess) -> None:
    answer = httpx.post(sandbox.control_url + "/active", json={"number": "12"})
    assert answer.status_code == 400


def test_reset_restores_the_generated_state(api: httpx.Client, sandbox: SandboxProcess) -> None:
    before = sandbox.available()
    ordered(api, sandbox)
    sandbox.add_fault("server_error", times=None)
    sandbox.reset()
    assert sandbox.available() == before
    assert sandbox.ledger() == {} and sandbox.faults() == []
    state = sandbox.state()
    assert state["active"] == 0 and state["available"] == len(before)


def test_request_log_records_what_clients_sent(api: httpx.Client, sandbox: SandboxProcess) -> None:
    api.patch("/numbers/active/4915170264838", data={"friendly_name": "x"})
    [record] = sandbox.requests("update")
    assert record["method"] == "PATCH"
    assert record["content_type"] == "application/x-www-form-urlencoded"
    assert record["body"] == "friendly_name=x"


# --------------------------------------------------------------------------- request counts


def test_request_log_records_number_and_outcome(api: httpx.Client, sandbox: SandboxProcess) -> None:
    number = offer(sandbox)["number"]
    api.post("/numbers/order", data={"number": number})
    api.post("/numbers/order", json={"number": number})
    api.post("/numbers/order", json={"payment_interval": "weekly"})
    api.patch(f"/numbers/active/{number}", json={"friendly_name": 5})
    api.get("/numbers/active/4915170264838")
    api.get("/numbers/active")
    records = sandbox.requests()[1:]  # after offer()'s look at the available numbers
    assert [(r["endpoint"], r["number"], r["outcome"]) for r in records] == [
        ("order", number, "ok"),
        ("order", number, "refused"),  # already on the account
        ("order", None, "refused"),
        ("update", number, "invalid"),
        ("active_get", "4915170264838", "not_found"),
        ("active_list", None, "ok"),
    ]


def test_requests_are_counted_per_number_whatever_the_answer(
    api: httpx.Client, sandbox: SandboxProcess
) -> None:
    first, second = (n["number"] for n in sandbox.available(country="DE")[:2])
    sandbox.add_fault("rate_limit", "order")
    sandbox.add_fault("drop_before_commit", "order")
    api.post("/numbers/order", json={"number": first})  # 429
    with pytest.raises(DROPPED):
        api.post("/numbers/order", data={"number": first})
    httpx.post(sandbox.base_url + "/numbers/order", json={"number": first})  # 900
    api.post("/numbers/order", json={"number": f" {first} "})  # bought
    api.post("/numbers/order", json={"number": first})  # refused: already ours
    api.post("/numbers/order", json={"number": second})
    api.delete(f"/numbers/active/{first}")
    api.get("/numbers/active")
    assert sandbox.order_requests(first) == 5
    assert sandbox.order_requests(second) == 1
    assert sandbox.request_count("delete", first) == 1
    assert sandbox.request_count("delete", second) == 0
    assert sandbox.orders_of(first) == 1  # five tries, one purchase
    # Only the requests that reached seven's handling were processed: not the 429, the
    # drop before commit or the 900.
    processed = [r["processed"] for r in sandbox.requests("order") if r["number"] == first]
    assert processed == [False, False, False, True, True]
    counts = httpx.get(sandbox.control_url + "/requests/counts").json()
    assert counts == {"order": {first: 5, second: 1}, "delete": {first: 1}}
    assert httpx.get(sandbox.control_url + "/requests/counts?endpoint=ordr").status_code == 400
    sandbox.reset()
    assert sandbox.order_requests(first) == 0


def test_request_counts_outlive_the_capped_log(sandbox: SandboxProcess) -> None:
    number = "4915170264838"
    with httpx.Client(base_url=sandbox.base_url) as unauthorized:
        for _ in range(2001):
            assert unauthorized.get(f"/numbers/active/{number}").content == b"900"
    assert len(sandbox.requests()) == 2000
    assert sandbox.request_count("active_get", number) == 2001
