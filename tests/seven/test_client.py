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
    SevenAuthError,
    SevenClient,
    SevenError,
    UpstreamError,
    UpstreamUnavailable,
    parse_retry_after,
)
from app.seven.signing import verify_signature
from app.seven.types import ActiveNumber, NumberUpdate

KEY = "sk-live-DO-NOT-LEAK-4f1c2e"
SECRET = "sig-DO-NOT-LEAK-9a8b"
BASE = "https://seven.test/api"
NUMBER = "4915170264838"

AVAILABLE = {
    "availableNumbers": [
        {
            "country": "DK",
            "number": "4523854818",
            "number_parsed": "+45 23 85 48 18",
            "fees": {
                "monthly": {"basic_charge": 29.9, "setup": 19.9},
                "annually": {"basic_charge": 238.8, "setup": 9.9},
                "sms_mo": 0,
                "voice_mo": 0.01,
            },
            "features": {"sms": True, "a2p_sms": True, "voice": True},
        },
        {
            "country": "DK",
            "number": "4523854819",
            "number_parsed": "+45 23 85 48 19",
            "fees": {
                "monthly": {"basic_charge": 9.9, "setup": 0},
                "annually": {"basic_charge": 99, "setup": 0},
                "sms_mo": 0.05,
                "voice_mo": 0,
            },
            "features": {"sms": True, "a2p_sms": False, "voice": False},
        },
    ]
}

ACTIVE = {
    "country": "DE",
    "number": NUMBER,
    "friendly_name": "",
    "billing": {
        "fees": {"setup": 19.9, "basic_charge": 238.8, "sms_mo": 0, "voice_mo": 0},
        "payment_interval": "annually",
    },
    "features": {"sms": True, "a2p_sms": False, "voice": True},
    "forward_sms_mo": {
        "sms": {"number": ["4917612345678"], "enabled": True},
        "email": {"address": ["j.doe@acme.inc"], "enabled": True},
        "slack": {"uri": "https://hooks.slack.test/x", "enabled": False},
    },
    "expires": None,
    "created": "2024-01-31 17:06:27",
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

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _json(AVAILABLE)

    async with _client(handler) as client:
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

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _json({"success": True, "error": None})

    async with _client(handler) as client:
        await client.order("+45 23 85 48 18", "monthly")
    assert seen[0].method == "POST"
    assert seen[0].url.path == "/api/numbers/order"
    assert seen[0].headers["content-type"] == "application/json"
    assert json.loads(seen[0].content) == {"number": "4523854818", "payment_interval": "monthly"}


async def test_order_refused_carries_sevens_message() -> None:
    handler = _raw('{"success": false, "error": "Number no longer available"}')
    async with _client(handler) as client:
        error = await _raised(OrderRefused, client.order(NUMBER))
    assert error.code == "order_refused"
    assert error.seven_message == "Number no longer available"
    assert "Number no longer available" in str(error)
    assert not error.retryable


async def test_order_rejects_bad_input_before_any_request() -> None:
    calls: list[httpx.Request] = []
    async with _client(_recording(calls, {})) as client:
        with pytest.raises(ValueError, match="not a valid phone number"):
            await client.order("12")
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

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _json(ACTIVE)

    async with _client(handler) as client:
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


@pytest.mark.parametrize(("flag", "query"), [(True, "1"), (False, "0")])
async def test_delete_sends_flag_in_query_and_body(flag: bool, query: str) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _json({"success": True})

    async with _client(handler) as client:
        await client.delete(NUMBER, delete_immediately=flag)
    request = seen[0]
    assert request.method == "DELETE"
    assert request.url.path == f"/api/numbers/active/{NUMBER}"
    assert request.url.params["delete_immediately"] == query
    assert json.loads(request.content) == {"delete_immediately": flag}


async def test_delete_accepts_204() -> None:
    async with _client(_raw(b"", 204)) as client:
        await client.delete(NUMBER, delete_immediately=True)


# -- errors from answers -------------------------------------------------------------


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
async def test_bare_auth_codes_with_http_200_are_errors(body: str, reason: str) -> None:
    async with _client(_raw(body)) as client:
        error = await _raised(SevenAuthError, client.list_active())
    assert error.code == reason == error.reason
    assert error.status == 200
    assert error.seven_code == int(body.strip().strip('"'))
    assert not error.retryable


@pytest.mark.parametrize("method", ["search_available", "list_active", "get_active", "order"])
async def test_bare_code_never_becomes_data_on_any_endpoint(method: str) -> None:
    async with _client(_raw('"900"')) as client:
        call = getattr(client, method)
        args = (NUMBER,) if method in ("get_active", "order") else ()
        await _raised(SevenAuthError, call(*args))


@pytest.mark.parametrize("body", ["500", '"500"'])
async def test_bare_500_is_insufficient_credit(body: str) -> None:
    async with _client(_raw(body)) as client:
        error = await _raised(InsufficientCredit, client.order(NUMBER))
    assert error.code == "insufficient_credit"
    assert not error.retryable


@pytest.mark.parametrize(("status", "reason"), [(401, "invalid_api_key"), (403, "access_denied")])
async def test_http_auth_statuses(status: int, reason: str) -> None:
    async with _client(_raw("Unauthorized", status)) as client:
        error = await _raised(SevenAuthError, client.list_active())
    assert error.code == reason


async def test_429_with_retry_after_seconds() -> None:
    async with _client(_raw("slow down", 429, headers={"Retry-After": "7"})) as client:
        error = await _raised(RateLimited, client.list_active())
    assert error.retry_after == 7.0
    assert error.retryable
    assert error.code == "rate_limited"
    assert error.status == 429


async def test_429_with_http_date_and_without_header() -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    async with _client(_raw("", 429, headers={"Retry-After": later})) as client:
        error = await _raised(RateLimited, client.order(NUMBER))
    assert error.retry_after is not None
    assert 100 < error.retry_after <= 120
    async with _client(_raw("", 429)) as client:
        error = await _raised(RateLimited, client.order(NUMBER))
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


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_5xx_is_upstream_unavailable_and_retryable(status: int) -> None:
    async with _client(_raw("<html>oops</html>", status)) as client:
        error = await _raised(UpstreamUnavailable, client.order(NUMBER))
    assert error.code == "upstream_unavailable"
    assert error.retryable
    assert not error.maybe_processed
    assert error.status == status


async def _read_active(client: SevenClient) -> list[ActiveNumber]:
    """Every number of ``list_active``, each decoded (the list decodes them when read)."""
    return list(await client.list_active())


@pytest.mark.parametrize(
    "body", ["{not json", '{"activeNumbers": [{"number": 1}]}', "[]", "<html></html>", ""]
)
async def test_malformed_bodies(body: str) -> None:
    async with _client(_raw(body)) as client:
        error = await _raised(MalformedResponse, _read_active(client))
    assert error.code == "malformed_response"
    assert not error.retryable
    assert not error.maybe_processed  # a read: nothing can have happened


async def test_malformed_answer_to_an_order_may_have_been_processed() -> None:
    async with _client(_raw("{garbled")) as client:
        error = await _raised(MalformedResponse, client.order(NUMBER))
    assert error.maybe_processed


@pytest.mark.parametrize("method", ["get_active", "update", "delete"])
async def test_404_is_number_not_on_account(method: str) -> None:
    handler = _raw('{"error": "Not Found"}', 404)
    async with _client(handler) as client:
        error = await _raised(NumberNotOnAccount, _call_number_endpoint(client, method))
    assert error.code == "number_not_on_account"
    assert error.number == NUMBER
    assert error.status == 404
    assert "Not Found" in str(error)


@pytest.mark.parametrize("method", ["get_active", "update", "delete"])
@pytest.mark.parametrize(
    "body",
    ['{"success": false, "error": "Number not found"}', '"404"', "1001", "null", "{}"],
)
async def test_error_body_or_bare_code_is_number_not_on_account(method: str, body: str) -> None:
    async with _client(_raw(body)) as client:
        error = await _raised(NumberNotOnAccount, _call_number_endpoint(client, method))
    assert error.number == NUMBER


async def test_unknown_bare_code_elsewhere_is_upstream_error() -> None:
    async with _client(_raw("1001")) as client:
        error = await _raised(UpstreamError, client.list_active())
    assert error.seven_code == 1001
    assert error.code == "upstream_error"


async def test_order_4xx_is_refusal_other_4xx_is_upstream_error() -> None:
    async with _client(_raw('{"message": "number is invalid"}', 422)) as client:
        refused = await _raised(OrderRefused, client.order(NUMBER))
        other = await _raised(UpstreamError, client.list_active())
    assert refused.seven_message == "number is invalid"
    assert other.status == 422


def _call_number_endpoint(client: SevenClient, method: str) -> Awaitable[Any]:
    if method == "get_active":
        return client.get_active(NUMBER)
    if method == "update":
        return client.update(NUMBER, NumberUpdate(friendly_name="x"))
    return client.delete(NUMBER, delete_immediately=True)


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
        error = await _raised(UpstreamUnavailable, client.order(NUMBER))
    assert error.retryable
    assert not error.maybe_processed


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
        write = await _raised(OutcomeUnknown, client.order(NUMBER))
        read = await _raised(OutcomeUnknown, client.get_active(NUMBER))
    assert write.code == read.code == "outcome_unknown"
    assert write.maybe_processed and not write.retryable  # check before ordering again
    assert read.retryable  # a read can simply be repeated


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
    await _raised(expected, client.order(NUMBER))
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
        error = await _raised(UpstreamUnavailable, client.order(NUMBER))
    assert error.retryable


async def test_hang_past_total_timeout_is_outcome_unknown(raw_server: Any) -> None:
    base = await raw_server("hang")
    async with SevenClient(KEY, base_url=base, read_timeout=10, total_timeout=0.3) as client:
        error = await _raised(OutcomeUnknown, client.order(NUMBER))
    assert error.maybe_processed
    assert "0.3s" in str(error)


async def test_hang_past_read_timeout_is_outcome_unknown(raw_server: Any) -> None:
    base = await raw_server("hang")
    async with SevenClient(KEY, base_url=base, read_timeout=0.2, total_timeout=10) as client:
        error = await _raised(OutcomeUnknown, client.delete(NUMBER, delete_immediately=True))
    assert "ReadTimeout" in str(error)


async def test_dropped_connection_after_request_is_outcome_unknown(raw_server: Any) -> None:
    base = await raw_server("drop")
    async with SevenClient(KEY, base_url=base) as client:
        error = await _raised(OutcomeUnknown, client.order(NUMBER))
    assert error.maybe_processed and not error.retryable


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
        error = await _raised(OrderRefused, client.order(NUMBER))
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


async def test_owned_http_client_is_closed_passed_one_is_not() -> None:
    owned = SevenClient(KEY)
    await owned.aclose()
    assert owned._http.is_closed

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
    ordered = numbers.by_number()
    assert [ordered[i].number for i in (0, 2)] == [earlier, later]
    with pytest.raises(MalformedResponse):
        list(ordered)


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
