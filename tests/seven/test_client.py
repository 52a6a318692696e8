"""SevenClient against scripted answers and faults (httpx.MockTransport, raw sockets).

Every error the client raises in these tests goes through ``_raised``, which also
checks that the API key appears nowhere: not in ``str``, ``repr``, the formatted
traceback, nor in a chained cause.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime
from typing import Any, TypeVar

import httpx
import pytest

from app.seven import (
    InsufficientCredit,
    MalformedResponse,
    NumberNotOnAccount,
    OrderRefused,
    OutcomeUnknown,
    RateLimited,
    RequestRefused,
    SevenAuthError,
    SevenClient,
    SevenError,
    SevenServerError,
    UpstreamUnavailable,
    parse_retry_after,
)
from app.seven.signing import verify_signature
from app.seven.types import ActiveNumber, NumberUpdate
from tests.support.seven_docs import DOC_ACTIVE, DOC_AVAILABLE

KEY = "sk-live-DO-NOT-LEAK-4f1c2e"
SECRET = "sig-DO-NOT-LEAK-9a8b"
BASE = "https://seven.test/api"
NUMBER = "4915170264838"

AVAILABLE = {
    "availableNumbers": [
        DOC_AVAILABLE,
        {
            **DOC_AVAILABLE,
            "number": "4523854819",
            "number_parsed": "+45 23 85 48 19",
            # The documented fees; only the features tell the two apart.
            "features": {"sms": True, "a2p_sms": False, "voice": False},
        },
    ]
}

ACTIVE = {
    **DOC_ACTIVE,
    "forward_sms_mo": {
        "sms": {"number": ["4917612345678"], "enabled": True},
        "email": {"address": ["j.doe@acme.inc"], "enabled": True},
        "slack": {"uri": "https://hooks.slack.test/x", "enabled": False},
    },
    "some_new_field": {"seven": "adds fields without notice"},
}

Handler = Callable[[httpx.Request], httpx.Response]
E = TypeVar("E", bound=SevenError)


def _client(handler: Handler, **kwargs: Any) -> SevenClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return SevenClient(KEY, base_url=BASE, http_client=http, **kwargs)


def _json(data: Any, status: int = 200, **kwargs: Any) -> httpx.Response:
    return httpx.Response(status, json=data, **kwargs)


def _recording(seen: list[httpx.Request], data: Any) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _json(data)

    return handler


def _raw(body: bytes | str, status: int = 200, **kwargs: Any) -> Handler:
    content = body.encode() if isinstance(body, str) else body
    return lambda request: httpx.Response(status, content=content, **kwargs)


def _assert_no_secret(exc: BaseException) -> None:
    texts = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    chained = exc.__cause__ or exc.__context__
    if chained is not None and not exc.__suppress_context__:
        texts.append(repr(chained))
    for text in texts:
        assert KEY not in text
        assert SECRET not in text


async def _raised(cls: type[E], call: Awaitable[Any]) -> E:
    """Await ``call``, expect ``cls``, and check the error leaks no secret."""
    with pytest.raises(cls) as info:
        await call
    _assert_no_secret(info.value)
    assert info.value.__cause__ is None  # httpx exceptions (holding headers) not chained
    return info.value


# -- the six endpoints -------------------------------------------------------------


async def test_search_available_sends_filters_and_parses_decimal_fees() -> None:
    seen: list[httpx.Request] = []

    async with _client(_recording(seen, AVAILABLE)) as client:
        numbers = await client.search_available("dk", sms=True, voice=None)
    request = seen[0]
    assert request.method == "GET"
    assert request.url.path == "/api/numbers/available"
    assert dict(request.url.params) == {"country": "DK", "features_sms": "1"}
    assert request.headers["X-Api-Key"] == KEY
    assert [n.number for n in numbers] == ["4523854818", "4523854819"]
    fees = numbers[0].fees
    assert fees.monthly.basic_charge == Decimal("29.9")
    assert fees.voice_mo == Decimal("0.01")
    assert isinstance(fees.annually.basic_charge, Decimal)


async def test_search_available_false_means_must_not_have() -> None:
    async with _client(lambda r: _json(AVAILABLE)) as client:
        numbers = await client.search_available(voice=False)
    assert [n.number for n in numbers] == ["4523854819"]


async def test_order_sends_normalized_number_as_json() -> None:
    seen: list[httpx.Request] = []

    async with _client(_recording(seen, {"success": True, "error": None})) as client:
        await client.order("+45 23 85 48 18", "monthly")
    assert seen[0].method == "POST"
    assert seen[0].url.path == "/api/numbers/order"
    assert seen[0].headers["content-type"] == "application/json"
    assert json.loads(seen[0].content) == {"number": "4523854818", "payment_interval": "monthly"}


async def test_order_refused_carries_sevens_message() -> None:
    handler = _raw('{"success": false, "error": "Number no longer available"}')
    async with _client(handler) as client:
        error = await _raised(OrderRefused, client.order(NUMBER, "annually"))
    assert error.code == "order_refused"
    assert error.seven_message == "Number no longer available"
    assert "Number no longer available" in str(error)
    assert error.refused and not error.transient


async def test_order_rejects_bad_input_before_any_request() -> None:
    calls: list[httpx.Request] = []
    async with _client(_recording(calls, {})) as client:
        with pytest.raises(ValueError, match="not a valid phone number"):
            await client.order("12", "annually")
        with pytest.raises(ValueError, match="payment_interval"):
            await client.order(NUMBER, "weekly")  # type: ignore[arg-type]
    assert calls == []


async def test_list_active_parses_all_and_tolerates_unknown_fields() -> None:
    body = {"activeNumbers": [ACTIVE, {**ACTIVE, "number": "4915170264839"}]}
    async with _client(lambda r: _json(body)) as client:
        numbers = await client.list_active()
    assert [n.number for n in numbers] == [NUMBER, "4915170264839"]
    first = numbers[0]
    assert first.billing.fees.basic_charge == Decimal("238.8")
    assert first.forward_sms_mo.sms.number == ["4917612345678"]
    assert first.forward_sms_mo.slack is not None
    assert first.created == "2024-01-31 17:06:27"


async def test_get_active_uses_normalized_number_in_path() -> None:
    seen: list[httpx.Request] = []

    async with _client(_recording(seen, ACTIVE)) as client:
        number = await client.get_active("+49 151 702 648 38")
    assert seen[0].url.path == f"/api/numbers/active/{NUMBER}"
    assert number.number == NUMBER
    assert number.billing.payment_interval == "annually"


async def test_update_sends_only_given_fields_and_normalized_forwards() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _json({**ACTIVE, "friendly_name": "Support"})

    changes = NumberUpdate(friendly_name="Support", sms_forward=["+49 176 1234 5678"])
    async with _client(handler) as client:
        updated = await client.update(NUMBER, changes)
    assert seen[0].method == "PATCH"
    assert json.loads(seen[0].content) == {
        "friendly_name": "Support",
        "sms_forward": ["4917612345678"],
    }
    assert updated.friendly_name == "Support"


@pytest.mark.parametrize(("flag", "query"), [(True, "true"), (False, None)])
async def test_delete_sends_the_flag_as_sevens_sdks_do(flag: bool, query: str | None) -> None:
    # The PHP SDK appends ?delete_immediately=true (nothing for false, seven's default);
    # the JS SDK sends the boolean in a JSON body.
    seen: list[httpx.Request] = []

    async with _client(_recording(seen, {"success": True})) as client:
        await client.delete(NUMBER, delete_immediately=flag)
    request = seen[0]
    assert request.method == "DELETE"
    assert request.url.path == f"/api/numbers/active/{NUMBER}"
    assert request.url.params.get("delete_immediately") == query
    assert json.loads(request.content) == {"delete_immediately": flag}


# -- every answer is a success, a refusal or unknown ---------------------------------

CALLS = ("search_available", "order", "list_active", "get_active", "update", "delete")
PER_NUMBER = ("get_active", "update", "delete")
SUCCESS_BODIES: dict[str, Any] = {
    "search_available": AVAILABLE,
    "order": {"success": True, "error": None},
    "list_active": {"activeNumbers": [ACTIVE]},
    "get_active": ACTIVE,
    "update": ACTIVE,
    "delete": {"success": True},
}
HTML = "<html><body><h1>502 Bad Gateway</h1><hr>nginx</body></html>"
SEVEN_ERROR = '{"success": false, "error": "The number field is invalid."}'


def _call(client: SevenClient, name: str) -> Awaitable[Any]:
    """One call of each method, reading every item a list holds."""
    if name == "search_available":
        return client.search_available("DE")
    if name == "order":
        return client.order(NUMBER, "annually")
    if name == "list_active":
        return _read_active(client)
    if name == "get_active":
        return client.get_active(NUMBER)
    if name == "update":
        return client.update(NUMBER, NumberUpdate(friendly_name="x"))
    return client.delete(NUMBER, delete_immediately=True)


async def _read_active(client: SevenClient) -> list[ActiveNumber]:
    """Every number of ``list_active``, each decoded (the list decodes them when read)."""
    return list(await client.list_active())


@pytest.mark.parametrize("name", CALLS)
async def test_the_documented_success_shape_is_success(name: str) -> None:
    async with _client(lambda r: _json(SUCCESS_BODIES[name])) as client:
        await _call(client, name)


# Answers that say nothing about what seven did: unknown on every call.
UNKNOWN_ANSWERS: dict[str, tuple[int, str, type[SevenError]]] = {
    "http 200 html": (200, HTML, MalformedResponse),
    "http 200 {}": (200, "{}", MalformedResponse),
    "http 200 null": (200, "null", MalformedResponse),
    "http 200 []": (200, "[]", MalformedResponse),
    "http 200 empty": (200, "", MalformedResponse),
    "http 200 not json": (200, "{garbled", MalformedResponse),
    "http 200 json string": (200, '"Number not found"', MalformedResponse),
    "unknown bare code": (200, "999", MalformedResponse),
    "unknown bare code as string": (200, '"1001"', MalformedResponse),
    "http 204": (204, "", MalformedResponse),
    "http 301": (301, "", MalformedResponse),
    "http 500 json": (500, '{"message": "Server Error"}', SevenServerError),
    "http 502 html": (502, HTML, SevenServerError),
    "http 503": (503, "", SevenServerError),
    "http 504 html": (504, HTML, SevenServerError),
    "http 422 html": (422, HTML, MalformedResponse),
    "http 404 html": (404, HTML, MalformedResponse),
    "http 404 {}": (404, "{}", MalformedResponse),
}


@pytest.mark.parametrize("name", CALLS)
@pytest.mark.parametrize("answer", UNKNOWN_ANSWERS)
async def test_an_answer_of_no_documented_shape_is_unknown(name: str, answer: str) -> None:
    status, body, expected = UNKNOWN_ANSWERS[answer]
    async with _client(_raw(body, status)) as client:
        error = await _raised(expected, _call(client, name))
    assert error.outcome == "unknown" and not error.refused
    assert error.transient  # ask again; for a write, read seven first


@pytest.mark.parametrize("name", ["order", "delete"])
@pytest.mark.parametrize("body", ['{"success": false}', '{"success": false, "error": ""}'])
async def test_success_false_without_sevens_text_is_unknown(name: str, body: str) -> None:
    async with _client(_raw(body)) as client:
        await _raised(MalformedResponse, _call(client, name))


@pytest.mark.parametrize("name", ["get_active", "update"])
async def test_an_answer_about_another_number_is_unknown(name: str) -> None:
    other = {**ACTIVE, "number": "4915170264839"}
    async with _client(lambda r: _json(other)) as client:
        await _raised(MalformedResponse, _call(client, name))


@pytest.mark.parametrize(
    ("name", "expected", "code"),
    [("order", OrderRefused, "order_refused"), ("delete", RequestRefused, "delete_refused")],
)
async def test_success_false_with_sevens_text_is_a_refusal(
    name: str, expected: type[RequestRefused], code: str
) -> None:
    async with _client(_raw(SEVEN_ERROR)) as client:
        error = await _raised(expected, _call(client, name))
    assert (error.code, error.seven_message) == (code, "The number field is invalid.")
    assert error.refused and not error.transient


@pytest.mark.parametrize("name", ["search_available", "list_active", "get_active"])
async def test_success_false_on_a_read_is_unknown(name: str) -> None:
    # The documented refusal shape of order and delete; a read has its own success shape.
    async with _client(_raw(SEVEN_ERROR)) as client:
        await _raised(MalformedResponse, _call(client, name))


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("search_available", "request_refused"),
        ("order", "order_refused"),
        ("list_active", "request_refused"),
        ("get_active", "request_refused"),
        ("update", "update_refused"),
        ("delete", "delete_refused"),
    ],
)
@pytest.mark.parametrize("status", [400, 409, 422])
async def test_a_4xx_with_sevens_error_body_is_a_refusal(name: str, code: str, status: int) -> None:
    async with _client(_raw('{"message": "number is invalid"}', status)) as client:
        error = await _raised(RequestRefused, _call(client, name))
    assert (error.code, error.seven_message, error.status) == (code, "number is invalid", status)
    assert error.refused and not error.transient


@pytest.mark.parametrize("name", PER_NUMBER)
async def test_a_404_with_sevens_error_body_is_number_not_on_account(name: str) -> None:
    async with _client(_raw('{"success": false, "error": "Number not found."}', 404)) as client:
        error = await _raised(NumberNotOnAccount, _call(client, name))
    assert (error.code, error.number, error.status) == ("number_not_on_account", NUMBER, 404)
    assert error.refused
    assert "Number not found." in str(error)


@pytest.mark.parametrize("name", PER_NUMBER)
@pytest.mark.parametrize(
    "body", ['{"success": false, "error": "Number not found"}', '"404"', "1001", "null", "{}"]
)
async def test_nothing_but_the_documented_404_says_not_on_the_account(name: str, body: str) -> None:
    async with _client(_raw(body)) as client:
        error = await _raised(SevenError, _call(client, name))
    assert not isinstance(error, NumberNotOnAccount)
    # seven's refusal of a DELETE: the number stays, whatever the text says.
    refused_delete = name == "delete" and body.startswith('{"success"')
    assert error.outcome == ("refused" if refused_delete else "unknown")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("900", "invalid_api_key"),
        ('"900"', "invalid_api_key"),
        ("901\n", "signature_invalid"),
        ('"902"', "access_denied"),
        (" 903 ", "ip_not_whitelisted"),
    ],
)
async def test_bare_auth_codes_with_http_200_are_refusals(body: str, reason: str) -> None:
    async with _client(_raw(body)) as client:
        error = await _raised(SevenAuthError, client.list_active())
    assert error.code == reason == error.reason
    assert error.status == 200
    assert error.seven_code == int(body.strip().strip('"'))
    assert error.refused and not error.transient


@pytest.mark.parametrize("name", CALLS)
async def test_bare_code_never_becomes_data_on_any_call(name: str) -> None:
    async with _client(_raw('"900"')) as client:
        await _raised(SevenAuthError, _call(client, name))


@pytest.mark.parametrize("body", ["500", '"500"'])
async def test_bare_500_is_insufficient_credit(body: str) -> None:
    async with _client(_raw(body)) as client:
        error = await _raised(InsufficientCredit, client.order(NUMBER, "annually"))
    assert error.code == "insufficient_credit"
    assert error.refused and not error.transient


@pytest.mark.parametrize(("status", "reason"), [(401, "invalid_api_key"), (403, "access_denied")])
async def test_http_auth_statuses(status: int, reason: str) -> None:
    async with _client(_raw("Unauthorized", status)) as client:
        error = await _raised(SevenAuthError, client.list_active())
    assert error.code == reason
    assert error.refused


async def test_429_with_retry_after_seconds() -> None:
    async with _client(_raw("slow down", 429, headers={"Retry-After": "7"})) as client:
        error = await _raised(RateLimited, client.list_active())
    assert error.retry_after == 7.0
    assert error.refused and error.transient  # not processed: safe to send again
    assert error.code == "rate_limited"
    assert error.status == 429


async def test_429_with_http_date_and_without_header() -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    async with _client(_raw("", 429, headers={"Retry-After": later})) as client:
        error = await _raised(RateLimited, client.order(NUMBER, "annually"))
    assert error.retry_after is not None
    assert 100 < error.retry_after <= 120
    async with _client(_raw("", 429)) as client:
        error = await _raised(RateLimited, client.order(NUMBER, "annually"))
    assert error.retry_after is None


def test_parse_retry_after_edge_cases() -> None:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("Mon, 01 Jan 2024 00:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Sun, 31 Dec 2023 23:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after("nan") is None
    assert parse_retry_after(None) is None


# -- errors from the transport --------------------------------------------------------


def _raising(exc_type: type[httpx.TransportError]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        # The real exception carries the request and so the X-Api-Key header.
        raise exc_type(f"boom talking to {request.url} with {request.headers}", request=request)

    return handler


@pytest.mark.parametrize(
    "exc_type", [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError]
)
async def test_not_sent_failures_are_unavailable(exc_type: type[httpx.TransportError]) -> None:
    async with _client(_raising(exc_type)) as client:
        error = await _raised(UpstreamUnavailable, client.order(NUMBER, "annually"))
    assert error.refused and error.transient  # nothing went out


@pytest.mark.parametrize(
    "exc_type",
    [
        httpx.ReadTimeout,
        httpx.WriteTimeout,
        httpx.ReadError,
        httpx.WriteError,
        httpx.RemoteProtocolError,
    ],
)
async def test_sent_failures_are_outcome_unknown(exc_type: type[httpx.TransportError]) -> None:
    async with _client(_raising(exc_type)) as client:
        write = await _raised(OutcomeUnknown, client.order(NUMBER, "annually"))
        read = await _raised(OutcomeUnknown, client.get_active(NUMBER))
    assert write.code == read.code == "outcome_unknown"
    assert write.outcome == read.outcome == "unknown"  # a write: read seven before resending


class _TracingHangTransport(httpx.AsyncBaseTransport):
    """Reports the trace events a real connection would, then never answers."""

    def __init__(self, events: list[str]) -> None:
        self.events = events

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        trace = request.extensions["trace"]
        for event in self.events:
            await trace(event, {})
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        (["connection.connect_tcp.started"], UpstreamUnavailable),
        (
            ["connection.connect_tcp.started", "http11.send_request_headers.started"],
            OutcomeUnknown,
        ),
        ([], OutcomeUnknown),  # no progress reports: assume the worst
    ],
)
async def test_total_timeout_depends_on_whether_the_request_went_out(
    events: list[str], expected: type[SevenError]
) -> None:
    http = httpx.AsyncClient(transport=_TracingHangTransport(events))
    client = SevenClient(KEY, base_url=BASE, http_client=http, total_timeout=0.1)
    await _raised(expected, client.order(NUMBER, "annually"))
    await http.aclose()


# -- over real sockets: refused, hang, drop ------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def raw_server() -> AsyncIterator[Callable[[str], Awaitable[str]]]:
    """Start a TCP server that reads a request and then hangs or drops the connection."""
    servers: list[asyncio.Server] = []
    writers: list[asyncio.StreamWriter] = []

    async def start(mode: str) -> str:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writers.append(writer)
            await reader.readuntil(b"\r\n\r\n")
            if mode == "drop":
                writer.close()  # "processed", then the connection is lost
                return
            await asyncio.sleep(3600)

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/api"

    yield start
    for writer in writers:
        writer.close()
    for server in servers:
        server.close()


async def test_connection_refused_on_closed_port_is_unavailable() -> None:
    base = f"http://127.0.0.1:{_closed_port()}/api"
    async with SevenClient(KEY, base_url=base, connect_timeout=1) as client:
        error = await _raised(UpstreamUnavailable, client.order(NUMBER, "annually"))
    assert error.refused


async def test_hang_past_total_timeout_is_outcome_unknown(raw_server: Any) -> None:
    base = await raw_server("hang")
    async with SevenClient(KEY, base_url=base, read_timeout=10, total_timeout=0.3) as client:
        error = await _raised(OutcomeUnknown, client.order(NUMBER, "annually"))
    assert error.outcome == "unknown"
    assert "0.3s" in str(error)


async def test_hang_past_read_timeout_is_outcome_unknown(raw_server: Any) -> None:
    base = await raw_server("hang")
    async with SevenClient(KEY, base_url=base, read_timeout=0.2, total_timeout=10) as client:
        error = await _raised(OutcomeUnknown, client.delete(NUMBER, delete_immediately=True))
    assert "ReadTimeout" in str(error)


async def test_dropped_connection_after_request_is_outcome_unknown(raw_server: Any) -> None:
    base = await raw_server("drop")
    async with SevenClient(KEY, base_url=base) as client:
        error = await _raised(OutcomeUnknown, client.order(NUMBER, "annually"))
    assert error.outcome == "unknown"


# -- signing, secrets, lifecycle ----------------------------------------------------


async def test_requests_are_signed_over_the_url_as_sent() -> None:
    verified: list[bool] = []

    def handler(request: httpx.Request) -> httpx.Response:
        verified.append(
            verify_signature(
                SECRET, request.method, str(request.url), request.content, request.headers
            )
        )
        assert len(request.headers["X-Nonce"]) == 32
        if request.method == "DELETE":
            return _json({"success": True})
        return _json(ACTIVE if request.method == "PATCH" else AVAILABLE)

    async with _client(handler, signing_secret=SECRET) as client:
        await client.search_available("DE", sms=True)
        await client.update(NUMBER, NumberUpdate(email_forward=["a@b.test"]))
        await client.delete(NUMBER, delete_immediately=False)
    assert verified == [True, True, True]


async def test_unsigned_without_secret() -> None:
    seen: list[httpx.Request] = []
    async with _client(_recording(seen, AVAILABLE)) as client:
        await client.search_available()
    assert "X-Signature" not in seen[0].headers


def test_repr_and_str_hide_the_key_and_secret() -> None:
    client = SevenClient(KEY, signing_secret=SECRET)
    for text in (repr(client), str(client), repr(vars(client).get("_timeout"))):
        assert KEY not in text
        assert SECRET not in text
    assert "signing=True" in repr(client)


async def test_seven_echoing_the_key_is_redacted() -> None:
    handler = _raw(json.dumps({"success": False, "error": f"bad key {KEY}"}))
    async with _client(handler) as client:
        error = await _raised(OrderRefused, client.order(NUMBER, "annually"))
    assert "***" in str(error)


async def test_log_lines_carry_method_path_status_but_no_secrets(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with _client(_raw("900"), signing_secret=SECRET) as client:
        await _raised(SevenAuthError, client.get_active(NUMBER))
    ours = [r for r in caplog.records if r.name == "app.seven.client"]
    assert len(ours) == 1
    message = ours[0].getMessage()
    assert f"GET /numbers/active/{NUMBER} -> 200 invalid_api_key" in message
    for record in caplog.records:
        assert KEY not in record.getMessage()
        assert SECRET not in record.getMessage()


async def test_owned_http_client_is_built_on_first_use() -> None:
    """Its TLS context costs every process start ~0.1 s; one that never calls seven skips it."""
    unused = SevenClient(KEY)
    assert "_http" not in vars(unused)
    await unused.aclose()
    assert "_http" not in vars(unused)

    http = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: _json(AVAILABLE)))
    async with SevenClient(KEY, base_url=BASE, http_client=http) as given:
        assert given._http is http


async def test_owned_http_client_is_closed_passed_one_is_not() -> None:
    owned = SevenClient(KEY)
    built = owned._http
    await owned.aclose()
    assert built.is_closed

    http = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: _json(AVAILABLE)))
    async with SevenClient(KEY, base_url=BASE, http_client=http) as client:
        await client.search_available()
    assert not http.is_closed
    await http.aclose()


def test_empty_api_key_is_refused() -> None:
    with pytest.raises(ValueError, match="api_key"):
        SevenClient("")


async def test_list_active_decodes_each_number_when_it_is_read() -> None:
    later, bad, earlier = "4915170264839", "4915170264838", "4915170264830"
    body = {
        "activeNumbers": [
            {**ACTIVE, "number": later},
            {**ACTIVE, "number": bad, "billing": "monthly"},
            {**ACTIVE, "number": earlier},
        ]
    }
    async with _client(lambda r: _json(body)) as client:
        numbers = await client.list_active()  # the malformed number is not read yet
    assert len(numbers) == 3
    assert numbers[0].number == later
    error = await _raised(MalformedResponse, _decoded(lambda: numbers[1]))
    assert "billing" in error.message
    assert numbers[2].number == earlier
    with pytest.raises(MalformedResponse):
        list(numbers)


async def _decoded(read: Callable[[], ActiveNumber]) -> ActiveNumber:
    return read()


async def test_a_large_list_is_split_at_once_and_a_truncated_one_fails() -> None:
    items = [{**ACTIVE, "number": str(4915170000000 + i)} for i in range(3000)]
    body = json.dumps({"activeNumbers": items}).encode()
    async with _client(_raw(body)) as client:
        numbers = await client.list_active()
    assert len(numbers) == 3000
    assert [n.number for n in numbers][-1] == "4915170002999"
    async with _client(_raw(body[:-10])) as client:  # truncated: fails as it is split
        await _raised(MalformedResponse, client.list_active())
