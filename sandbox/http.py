"""The sandbox's HTTP surface: seven's six numbers endpoints plus the ``/_sandbox`` control API.

Every ``/api`` request passes :func:`_guard` first (request log, base latency, API key,
signature, lazily expiring numbers, scripted faults); the handlers then do the work on
:class:`~sandbox.state.SandboxState` and answer through :func:`_finish`, which
shows a write's change to reads (now, or ``visible_after_ms`` later) and applies the faults
that must strike *after* the change was made.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import msgspec
from litestar import Litestar, Request, Response, Router, delete, get, patch, post, put
from litestar.response.base import ASGIResponse
from litestar.types import Receive, Scope, Send

from app.seven.signing import verify_signature
from app.seven.types import PaymentInterval
from sandbox.inbound import send_sms
from sandbox.persist import StateFile
from sandbox.state import (
    ENCODER,
    ENDPOINTS,
    Fault,
    OrderRefused,
    RequestRecord,
    SandboxState,
    UpdateRejected,
)

JSON = "application/json"
HTML = "text/html"
_TRUE = {"true", "1"}
_FALSE = {"false", "0", ""}
_WRITES = ("order", "update", "delete")
# How each route says no before doing anything: seven's JSON error body, with HTTP 200 on the
# writes whose answer is a "success" flag (order, delete), 422 on a PATCH, 403 on the reads.
_REFUSAL_STATUS = {
    "order": 200,
    "delete": 200,
    "update": 422,
    "active_get": 403,
    "active_list": 403,
    "available": 403,
}


@dataclass(frozen=True)
class SandboxConfig:
    api_key: str
    signing_secret: str | None = None
    latency_ms: int = 0


class BadRequest(Exception):
    """A request seven would answer with a JSON validation error (HTTP 422)."""


# --------------------------------------------------------------------------- helpers


def _sandbox(request: Request[Any, Any, Any]) -> SandboxState:
    return request.app.state["sandbox"]


def _config(request: Request[Any, Any, Any]) -> SandboxConfig:
    return request.app.state["config"]


def _json(
    payload: object, status: int = 200, headers: dict[str, str] | None = None
) -> Response[bytes]:
    body = payload if isinstance(payload, bytes) else ENCODER.encode(payload)
    return Response(body, status_code=status, media_type=JSON, headers=headers)


def _bare(code: int | str) -> Response[bytes]:
    """seven's error style: HTTP 200 and the whole body is a code, e.g. ``900``."""
    body = f'"{code}"' if isinstance(code, str) else str(code)
    return Response(body.encode(), status_code=200, media_type=JSON)


def _error(message: str, status: int) -> Response[bytes]:
    return _json({"success": False, "error": message}, status)


def _html_page(status: int) -> Response[bytes]:
    """What a proxy or load balancer in front of seven serves instead of seven's JSON."""
    try:
        title = f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        title = str(status)
    page = (
        f"<!DOCTYPE html>\n<html>\n<head><title>{title}</title></head>\n<body>\n"
        f"<center><h1>{title}</h1></center>\n<hr><center>nginx</center>\n</body>\n</html>\n"
    )
    return Response(page.encode(), status_code=status, media_type=HTML)


async def _not_found(request: Request[Any, Any, Any]) -> Response[bytes]:
    status = 200 if _sandbox(request).not_found == "error_200" else 404
    return await _finish(request, _error("Number not found.", status), "not_found")


async def _invalid(request: Request[Any, Any, Any], problem: Exception) -> Response[bytes]:
    return await _finish(request, _error(str(problem), 422), "invalid")


def _boolean(value: Any, name: str) -> bool:
    """seven's booleans: JSON true/false, or ``true/false/1/0`` in query and form."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise BadRequest(f"The {name} field must be true or false.")


def _parse_form(text: str) -> dict[str, Any]:
    """PHP-style form fields: ``a[0]=x&a[1]=y``, ``a[]=x&a[]=y`` and repeated ``a=x&a=y``."""
    fields: dict[str, Any] = {}
    indexed: dict[str, list[tuple[int, int, str]]] = {}
    for position, (key, value) in enumerate(parse_qsl(text, keep_blank_values=True)):
        name, bracket, rest = key.partition("[")
        if bracket and rest.endswith("]"):
            index = rest[:-1]
            order = int(index) if index.isdigit() else position
            indexed.setdefault(name, []).append((order, position, value))
        elif name in fields:
            previous = fields[name]
            fields[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            fields[name] = value
    for name, items in indexed.items():
        fields[name] = [value for _, _, value in sorted(items)]
    return fields


async def _params(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """Query string and body merged, body winning, as seven's PHP backend reads input."""
    params = _parse_form(request.scope["query_string"].decode("latin-1"))
    body = await request.body()
    if not body.strip():
        return params
    content_type = request.headers.get("content-type", "").lower()
    if "json" in content_type or (not content_type and body.lstrip()[:1] == b"{"):
        try:
            decoded = msgspec.json.decode(body)
        except msgspec.DecodeError as exc:
            raise BadRequest(f"The body is not valid JSON: {exc}") from None
        if not isinstance(decoded, dict):
            raise BadRequest("The JSON body must be an object.")
        return params | decoded
    return params | _parse_form(body.decode("utf-8", "replace"))


def _order_number(params: dict[str, Any]) -> str:
    return str(params.get("number") or "").strip()


async def _request_number(request: Request[Any, Any, Any], endpoint: str) -> str | None:
    """The number a request is about: the path's, or the ``number`` field of an order."""
    if number := request.path_params.get("number"):
        return str(number)
    if endpoint != "order":
        return None
    try:
        return _order_number(await _params(request)) or None
    except BadRequest:
        return None


def _full_url(request: Request[Any, Any, Any]) -> str:
    """The URL as the client sent it, which is what seven's signature covers."""
    scope = request.scope
    host = request.headers.get("host", "")
    path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
    query = scope["query_string"].decode("latin-1")
    return f"{scope['scheme']}://{host}{path}" + (f"?{query}" if query else "")


def _presented_key(request: Request[Any, Any, Any]) -> str | None:
    if key := request.headers.get("x-api-key"):
        return key
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    # seven takes the raw key after "Basic" (not base64 of user:pass), and OAuth tokens.
    return value.strip() if scheme.lower() in ("basic", "bearer") else None


def _signature_ok(request: Request[Any, Any, Any], secret: str, body: bytes) -> bool:
    sandbox = _sandbox(request)
    if not verify_signature(secret, request.method, _full_url(request), body, request.headers):
        return False
    # verify_signature leaves replays to us: a nonce counts once inside its 30 s window.
    now = int(time.time())
    nonce = request.headers["x-nonce"]
    if nonce in sandbox.seen_nonces:
        return False
    if len(sandbox.seen_nonces) > 10_000:
        sandbox.seen_nonces = {n: t for n, t in sandbox.seen_nonces.items() if now - t < 61}
    sandbox.seen_nonces[nonce] = now
    return True


class _DropConnection(ASGIResponse):
    """Starts a response and stops halfway: the client sees a broken connection.

    uvicorn closes the socket when an app returns without finishing its response
    (and logs "ASGI callable returned without completing response"); httpx then
    raises ``RemoteProtocolError`` for the incomplete body.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", JSON.encode()), (b"content-length", b"64")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"succ', "more_body": True})


class _DroppedResponse(Response[bytes]):
    def __init__(self) -> None:
        super().__init__(b"")

    def to_asgi_response(self, *args: Any, **kwargs: Any) -> ASGIResponse:
        return _DropConnection()


# --------------------------------------------------------------------------- the guard


async def _guard(request: Request[Any, Any, Any]) -> Response[bytes] | None:
    """Runs before every ``/api`` handler; a returned response replaces the handler's."""
    sandbox, config = _sandbox(request), _config(request)
    endpoint: str = request.route_handler.opt["endpoint"]
    body = await request.body()  # Litestar caches it, so handlers can read it again
    record = RequestRecord(
        method=request.method,
        endpoint=endpoint,
        path=request.url.path,
        query=request.scope["query_string"].decode("latin-1"),
        content_type=request.headers.get("content-type", ""),
        body=body[:4000].decode("utf-8", "replace"),
        number=await _request_number(request, endpoint),
    )
    sandbox.log_request(record)
    request.state["record"] = record
    if config.latency_ms:
        await asyncio.sleep(config.latency_ms / 1000)
    presented = _presented_key(request)
    if presented is None or not hmac.compare_digest(presented.encode(), config.api_key.encode()):
        record.outcome = "900"
        return _bare(900)
    if config.signing_secret and not _signature_ok(request, config.signing_secret, body):
        record.outcome = "901"
        return _bare(901)
    sandbox.expire_due()
    fault = sandbox.take_fault(endpoint, record.number)
    if fault is not None:
        record.outcome = f"fault:{fault.kind}"
        answer = await _strike_before(request, fault, endpoint)
        if answer is not None:
            return answer
    if endpoint in _WRITES and record.number:
        # Nothing waits between here and the handler's change (the body is read already),
        # so this is the state the write finds; _finish compares it with the state after.
        request.state["before"] = sandbox.active.get(record.number)
    record.processed = True
    return None


async def _strike_before(
    request: Request[Any, Any, Any], fault: Fault, endpoint: str
) -> Response[bytes] | None:
    """Faults that hit before any change is made (``None`` = go on to the handler)."""
    if fault.strikes_after_commit():
        request.state["post_fault"] = fault  # the handler works first, _finish strikes
        return None
    match fault.kind:
        case "latency":
            await asyncio.sleep(fault.ms / 1000)
            return None
        case "drop_before_commit":
            return _DroppedResponse()
        case "hang":
            await asyncio.sleep(fault.seconds)
            # Nothing was done; whoever still listens learns so from a gateway timeout.
            return _json({"message": "Gateway Timeout"}, 504)
        case _:
            return _fault_answer(fault, endpoint)


def _fault_answer(fault: Fault, endpoint: str) -> Response[bytes]:
    """The answer a fault gives instead of the route's own."""
    match fault.kind:
        case "rate_limit":
            seconds = fault.retry_after
            headers = None if seconds is None else {"Retry-After": str(seconds)}
            return _json({"message": "Too Many Attempts."}, 429, headers)
        case "server_error":
            return _json({"message": "Server Error"}, fault.answer_status())
        case "html":
            return _html_page(fault.answer_status())
        case "empty_object":
            return _json({})
        case "refuse":
            return _error(fault.message, _REFUSAL_STATUS[endpoint])
        case "bare_code":
            return _bare(str(fault.code) if fault.as_string else fault.code)
    raise AssertionError(f"{fault.kind} faults do not replace the answer")


async def _finish(
    request: Request[Any, Any, Any], response: Response[bytes], outcome: str = "ok"
) -> Response[bytes]:
    """Deliver a handler's answer, unless a fault says to lose it after the change.

    Every handler answers through here, with ``outcome`` for the request log. A write's
    change becomes visible to reads now, or ``visible_after_ms`` later.
    """
    record: RequestRecord = request.state["record"]
    if not record.outcome.startswith("fault:"):
        record.outcome = outcome
    fault: Fault | None = request.state.get("post_fault")
    if record.number and "before" in request.state:
        delay = fault.visible_after_ms if fault else 0
        _sandbox(request).settle_write(record.number, request.state["before"], delay)
    if fault is None:
        return response
    match fault.kind:
        case "hang":
            await asyncio.sleep(fault.seconds)
            return response
        case "drop_after_commit":
            return _DroppedResponse()
        case _:
            return _fault_answer(fault, request.route_handler.opt["endpoint"])


# --------------------------------------------------------------------------- seven's API


@get("/numbers/available", opt={"endpoint": "available"})
async def list_available(request: Request[Any, Any, Any]) -> Response[bytes]:
    query = _parse_form(request.scope["query_string"].decode("latin-1"))
    try:
        flags = [
            _boolean(query.get(f"features_{f}", False), f"features_{f}")
            for f in ("sms", "a2p_sms", "voice")
        ]
    except BadRequest as exc:
        return await _invalid(request, exc)
    country = query.get("country")
    found = _sandbox(request).list_available(str(country) if country else None, *flags)
    return await _finish(request, _json({"availableNumbers": found}))


@post("/numbers/order", opt={"endpoint": "order"}, status_code=200)
async def order_number(request: Request[Any, Any, Any]) -> Response[bytes]:
    try:
        params = await _params(request)
        interval = str(params.get("payment_interval") or PaymentInterval.ANNUALLY)
        _sandbox(request).order(_order_number(params), interval)
    except BadRequest as exc:
        return await _invalid(request, exc)
    except OrderRefused as exc:
        return await _finish(request, _error(str(exc), 200), "refused")
    return await _finish(request, _json({"success": True, "error": None}))


@get("/numbers/active", opt={"endpoint": "active_list"})
async def list_active(request: Request[Any, Any, Any]) -> Response[bytes]:
    return await _finish(request, _json(_sandbox(request).active_json()))


@get("/numbers/active/{number:str}", opt={"endpoint": "active_get"})
async def get_active(request: Request[Any, Any, Any], number: str) -> Response[bytes]:
    found = _sandbox(request).visible(number)
    if found is None:
        return await _not_found(request)
    return await _finish(request, _json(found))


@patch("/numbers/active/{number:str}", opt={"endpoint": "update"})
async def update_active(request: Request[Any, Any, Any], number: str) -> Response[bytes]:
    sandbox = _sandbox(request)
    if number not in sandbox.active:
        return await _not_found(request)
    try:
        updated = sandbox.update(number, await _params(request))
    except (BadRequest, UpdateRejected) as exc:
        return await _invalid(request, exc)
    return await _finish(request, _json(updated))


@delete("/numbers/active/{number:str}", opt={"endpoint": "delete"}, status_code=200)
async def delete_active(request: Request[Any, Any, Any], number: str) -> Response[bytes]:
    sandbox = _sandbox(request)
    if number not in sandbox.active:
        return await _not_found(request)
    try:
        params = await _params(request)
        immediately = _boolean(params.get("delete_immediately", False), "delete_immediately")
    except BadRequest as exc:
        return await _invalid(request, exc)
    sandbox.delete(number, immediately)
    return await _finish(request, _json({"success": True}))


# --------------------------------------------------------------------------- control API


class ConfigUpdate(msgspec.Struct):
    not_found: str = "http_404"


@post("/faults", status_code=201)
async def add_fault(request: Request[Any, Any, Any]) -> Response[bytes]:
    try:
        fault = msgspec.json.decode(await request.body(), type=Fault)
    except msgspec.DecodeError as exc:
        return _error(str(exc), 400)
    return _json(_sandbox(request).add_fault(fault), 201)


@get("/faults")
async def list_faults(request: Request[Any, Any, Any]) -> Response[bytes]:
    return _json(_sandbox(request).faults)


@delete("/faults", status_code=200)
async def clear_faults(request: Request[Any, Any, Any]) -> Response[bytes]:
    sandbox = _sandbox(request)
    cleared, sandbox.faults = len(sandbox.faults), []
    return _json({"cleared": cleared})


@get("/ledger")
async def ledger(request: Request[Any, Any, Any]) -> Response[bytes]:
    return _json(_sandbox(request).ledger)


@get("/requests")
async def requests_log(request: Request[Any, Any, Any]) -> Response[bytes]:
    endpoint = request.query_params.get("endpoint")
    records = [r for r in _sandbox(request).requests if endpoint in (None, r.endpoint)]
    return _json(records)


@get("/requests/counts")
async def request_counts(request: Request[Any, Any, Any]) -> Response[bytes]:
    counts = _sandbox(request).request_counts
    endpoint = request.query_params.get("endpoint")
    if endpoint is None:
        return _json(counts)
    if endpoint not in ENDPOINTS:
        return _error(f"endpoint must be one of {', '.join(ENDPOINTS)}", 400)
    return _json(counts.get(endpoint, {}))


@post("/reset", status_code=200)
async def reset(request: Request[Any, Any, Any]) -> Response[bytes]:
    _sandbox(request).reset()
    return _json(_sandbox(request).summary())


@get("/state")
async def state(request: Request[Any, Any, Any]) -> Response[bytes]:
    return _json(_sandbox(request).summary())


@put("/config")
async def set_config(request: Request[Any, Any, Any]) -> Response[bytes]:
    try:
        update = msgspec.json.decode(await request.body(), type=ConfigUpdate)
    except msgspec.DecodeError as exc:
        return _error(str(exc), 400)
    if update.not_found not in ("http_404", "error_200"):
        return _error("not_found must be http_404 or error_200", 400)
    _sandbox(request).not_found = update.not_found  # type: ignore[assignment]
    return _json(_sandbox(request).summary())


@post("/active", status_code=200)
async def put_active(request: Request[Any, Any, Any]) -> Response[bytes]:
    try:
        fields = msgspec.json.decode(await request.body(), type=dict[str, Any])
        return _json(_sandbox(request).put_active(fields))
    except (msgspec.DecodeError, msgspec.ValidationError, UpdateRejected) as exc:
        return _error(str(exc), 400)


@delete("/active/{number:str}", status_code=200)
async def remove_active(request: Request[Any, Any, Any], number: str) -> Response[bytes]:
    if not _sandbox(request).remove_active(number):
        return _error("Number not found.", 404)
    return _json({"removed": number})


class InboundSms(msgspec.Struct, forbid_unknown_fields=True):
    url: str
    to: str
    text: str
    sender: str = "4917612345678"
    format: str = "form"


@post("/sms", status_code=200)
async def send_inbound_sms(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Send seven's sms_mo webhook for an SMS to ``to`` to ``url`` (sandbox.inbound)."""
    try:
        sms = msgspec.json.decode(await request.body(), type=InboundSms)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        return _error(str(exc), 400)
    if sms.format not in ("form", "json"):
        return _error("format must be form or json", 400)
    async with httpx.AsyncClient(timeout=10, follow_redirects=False) as client:
        sent = await send_sms(
            client,
            sms.url,
            to=sms.to,
            text=sms.text,
            sender=sms.sender,
            signing_secret=_config(request).signing_secret,
            body_format=sms.format,  # type: ignore[arg-type]
        )
    return _json({"status": sent.status, "attempts": sent.attempts, "id": sent.id})


# --------------------------------------------------------------------------- the app


def create_sandbox_app(
    api_key: str,
    *,
    signing_secret: str | None = None,
    seed: int = 7,
    active_count: int = 0,
    available_per_country: int = 25,
    latency_ms: int = 0,
    state_dir: Path | None = None,
) -> Litestar:
    """A Litestar app that behaves like seven's numbers API (see the package docstring).

    With ``state_dir`` the account is kept there between runs (:mod:`sandbox.persist`);
    without it, it lives in memory only and every start generates it anew."""
    api = Router(
        path="/api",
        route_handlers=[
            list_available,
            order_number,
            list_active,
            get_active,
            update_active,
            delete_active,
        ],
        before_request=_guard,
    )
    control = Router(
        path="/_sandbox",
        route_handlers=[
            add_fault,
            list_faults,
            clear_faults,
            ledger,
            requests_log,
            request_counts,
            reset,
            state,
            set_config,
            put_active,
            remove_active,
            send_inbound_sms,
        ],
    )
    app = Litestar(route_handlers=[api, control], openapi_config=None)
    app.state["config"] = SandboxConfig(api_key, signing_secret, latency_ms)
    if state_dir is None:
        account = SandboxState(
            seed=seed, active_count=active_count, available_per_country=available_per_country
        )
    else:
        account = StateFile(state_dir).open(seed, active_count, available_per_country)
    app.state["sandbox"] = account
    return app
