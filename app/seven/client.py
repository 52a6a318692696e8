"""The async client for seven's phone-number API.

One :class:`SevenClient` wraps one shared ``httpx.AsyncClient`` (passed in, or owned
and closed by ``aclose()`` / ``async with``). It imports nothing of the service.

Decisions worth knowing:

* **No retries here.** Every failure becomes one typed :mod:`app.seven.errors` error
  with ``retryable`` and ``maybe_processed``; the worker is the single layer that
  retries (with backoff and the read-before-write check for orders and deletes).
  Retrying in two layers multiplies attempts and can order a number twice.
* **Never trust HTTP 200.** seven answers errors as a bare number (``900`` or
  ``"900"``) with status 200, so every body is checked before it is decoded.
* **Timeouts:** ``connect`` (TCP/TLS, also the pool wait), ``read`` (gap between
  bytes, also the write timeout) and ``total`` (``asyncio.timeout`` around the whole
  call, body included). A total timeout before the request headers went out is
  reported as :class:`UpstreamUnavailable`; after that (or when the transport does
  not report progress) as :class:`OutcomeUnknown`.
* **DELETE sends ``delete_immediately`` twice**: in the query string as ``1``/``0``
  (exactly what seven's PHP SDK sends) and in a JSON body as a boolean (what the JS
  SDK sends). Both SDKs work in production, so whichever of the two seven reads, it
  reads the right value; a ``false`` silently dropped would keep a number (and its
  fees) until the end of the billing period, a ``true`` dropped the other way round.
* **Numbers** go out as digits via :func:`app.lib.phone.normalize_number` in lenient
  mode: a number seven offered must never be refused by our older metadata.
* **The API key** is sent per request (never set on a shared httpx client), redacted
  from every message, absent from ``repr`` and from logs (method, path, status and
  duration only).
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
import msgspec

from app.lib.phone import InvalidPhoneNumber, normalize_number
from app.seven.active_list import ActiveList
from app.seven.errors import (
    AUTH_CODES,
    INSUFFICIENT_CREDIT_CODE,
    InsufficientCredit,
    MalformedResponse,
    NumberNotOnAccount,
    OrderRefused,
    OutcomeUnknown,
    RateLimited,
    SevenAuthError,
    SevenError,
    UpstreamError,
    UpstreamUnavailable,
)
from app.seven.signing import sign_headers
from app.seven.types import (
    ActiveNumber,
    ActiveNumbersItems,
    AvailableNumber,
    AvailableNumbersResponse,
    NumberUpdate,
    PaymentInterval,
    SuccessResponse,
)

__all__ = ["DEFAULT_BASE_URL", "CallObserver", "SevenClient", "parse_retry_after"]

DEFAULT_BASE_URL = "https://gateway.seven.io/api"
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 30.0
# list_active has no pagination: a large account's whole list comes in one body.
DEFAULT_TOTAL_TIMEOUT = 60.0

_log = logging.getLogger("app.seven.client")

# Told of every call: (endpoint such as "POST /numbers/order", "ok" or the error's code,
# seconds). The service hangs its metrics here; the client knows nothing of them.
CallObserver = Callable[[str, str, float], None]
_T = TypeVar("_T")

# Typed decoders built once: bytes go straight into structs, fees straight into Decimal.
_DECODE_AVAILABLE = msgspec.json.Decoder(AvailableNumbersResponse)
_DECODE_ACTIVE_ITEMS = msgspec.json.Decoder(ActiveNumbersItems)
_DECODE_ACTIVE = msgspec.json.Decoder(ActiveNumber)
_DECODE_SUCCESS = msgspec.json.Decoder(SuccessResponse)
_DECODE_ANY = msgspec.json.Decoder()
_ENCODE = msgspec.json.Encoder()

# A whole body that is just a number, optionally as a JSON string: ``900``, ``"900"``.
_BARE_CODE = re.compile(rb'\s*"?\s*(\d{1,6})\s*"?\s*')
_BARE_CODE_MAX_LEN = 32
_WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
_NOT_SENT_ERRORS = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ProxyError,
    httpx.UnsupportedProtocol,
)
_MAX_MESSAGE = 300


@dataclass(frozen=True, slots=True)
class _Call:
    """Safe facts about one request, used to build errors and log lines."""

    method: str
    path: str
    number: str | None = None  # set for /numbers/active/:number
    is_order: bool = False

    @property
    def is_write(self) -> bool:
        return self.method in _WRITE_METHODS

    @property
    def endpoint(self) -> str:
        """``METHOD /path`` with the number as ``:number``: a label with few values."""
        path = self.path.replace(self.number, ":number") if self.number else self.path
        return f"{self.method} {path}"

    def context(self, **extra: Any) -> dict[str, Any]:
        return {"method": self.method, "path": self.path, **extra}


class _Progress:
    """httpcore ``trace`` hook: did the request headers start going out?"""

    __slots__ = ("observed", "sending")

    def __init__(self) -> None:
        self.observed = False  # the transport reports events at all
        self.sending = False

    async def trace(self, event: str, info: dict[str, Any]) -> None:
        self.observed = True
        if event.endswith("send_request_headers.started"):
            self.sending = True

    @property
    def surely_unsent(self) -> bool:
        return self.observed and not self.sending


class SevenClient:
    """Typed async access to seven's ``/numbers`` endpoints. See the module docstring."""

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        signing_secret: str | None = None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        total_timeout: float = DEFAULT_TOTAL_TIMEOUT,
        http_client: httpx.AsyncClient | None = None,
        logger: logging.Logger | None = _log,
        observer: CallObserver | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("api_key must not be empty")
        self._api_key = api_key
        self._signing_secret = signing_secret or None
        self._base_url = base_url.rstrip("/")
        self._timeout = httpx.Timeout(
            connect=connect_timeout, read=read_timeout, write=read_timeout, pool=connect_timeout
        )
        self._total_timeout = total_timeout
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=self._timeout)
        self._logger = logger
        self._observer = observer

    # -- lifecycle ---------------------------------------------------------------

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the httpx client if this instance created it; a passed-in one stays open."""
        if self._owns_http:
            await self._http.aclose()

    def __repr__(self) -> str:
        return (
            f"SevenClient(base_url={self._base_url!r}, "
            f"signing={self._signing_secret is not None}, "
            f"total_timeout={self._total_timeout})"
        )

    __str__ = __repr__

    # -- endpoints ---------------------------------------------------------------

    async def search_available(
        self,
        country: str | None = None,
        *,
        sms: bool | None = None,
        a2p_sms: bool | None = None,
        voice: bool | None = None,
    ) -> list[AvailableNumber]:
        """``GET /numbers/available``; ``True`` = must have the feature.

        seven only filters for a feature being present, so ``False`` ("must not have")
        is applied here on the result; ``None`` means "don't care".
        """
        params: dict[str, str] = {}
        if country:
            params["country"] = country.strip().upper()
        wanted = {"sms": sms, "a2p_sms": a2p_sms, "voice": voice}
        for feature, flag in wanted.items():
            if flag:
                params[f"features_{feature}"] = "1"
        call = _Call("GET", "/numbers/available")
        body = await self._send(call, params=params)
        numbers = self._decode(call, body, _DECODE_AVAILABLE).available_numbers
        excluded = [name for name, flag in wanted.items() if flag is False]
        if excluded:
            numbers = [n for n in numbers if not any(getattr(n.features, f) for f in excluded)]
        return numbers

    async def order(self, number: str, payment_interval: PaymentInterval = "annually") -> None:
        """``POST /numbers/order``. Returns on success; raises :class:`OrderRefused` on no.

        Costs money and has no idempotency key: on :class:`OutcomeUnknown` check
        :meth:`get_active` before ordering again.
        """
        if payment_interval not in ("monthly", "annually"):
            raise ValueError(f"payment_interval must be monthly or annually: {payment_interval!r}")
        digits = _digits(number)
        call = _Call("POST", "/numbers/order", is_order=True)
        payload = {"number": digits, "payment_interval": payment_interval}
        body = await self._send(call, json=payload)
        result = self._decode(call, body, _DECODE_SUCCESS)
        if not result.success:
            text = self._redact(result.error or "no reason given")
            raise OrderRefused(
                f"seven refused to order {digits}: {text[:_MAX_MESSAGE]}",
                seven_message=result.error,
                **call.context(status=200),
            )

    async def list_active(self) -> ActiveList:
        """``GET /numbers/active``: every number on the account, in one response.

        The body is checked and split into its items now; each number is decoded when
        it is read, and a malformed one raises ``MalformedResponse`` then (see
        ``app/seven/active_list.py``: the sync overlaps decoding with its writes).
        """
        call = _Call("GET", "/numbers/active")
        body = await self._send(call)
        items = self._decode(call, body, _DECODE_ACTIVE_ITEMS).active_numbers
        return ActiveList(items, lambda item: self._decode(call, item, _DECODE_ACTIVE))

    async def get_active(self, number: str) -> ActiveNumber:
        """``GET /numbers/active/:number``; :class:`NumberNotOnAccount` when it isn't."""
        call = self._number_call("GET", number)
        body = await self._send(call)
        return self._decode(call, body, _DECODE_ACTIVE)

    async def update(self, number: str, changes: NumberUpdate) -> ActiveNumber:
        """``PATCH /numbers/active/:number``; returns the number as seven now has it."""
        call = self._number_call("PATCH", number)
        if changes.sms_forward is not None:
            changes = msgspec.structs.replace(
                changes, sms_forward=[_digits(n) for n in changes.sms_forward]
            )
        body = await self._send(call, content=_ENCODE.encode(changes))
        return self._decode(call, body, _DECODE_ACTIVE)

    async def delete(self, number: str, *, delete_immediately: bool) -> None:
        """``DELETE /numbers/active/:number``.

        ``delete_immediately=False`` keeps the number until the end of its billing
        period. The flag goes in the query string and the JSON body (module docstring).
        """
        call = self._number_call("DELETE", number)
        body = await self._send(
            call,
            params={"delete_immediately": "1" if delete_immediately else "0"},
            json={"delete_immediately": delete_immediately},
            allow_empty=True,
        )
        if not body.strip():
            return  # 204 No Content: nothing to contradict success
        result = self._decode(call, body, _DECODE_SUCCESS)
        if not result.success:
            raise self._not_on_account(call, 200, result.error)

    # -- transport ---------------------------------------------------------------

    def _number_call(self, method: str, number: str) -> _Call:
        digits = _digits(number)
        return _Call(method, f"/numbers/active/{digits}", number=digits)

    def _build(
        self, call: _Call, params: dict[str, str] | None, content: bytes | None
    ) -> httpx.Request:
        headers = {"X-Api-Key": self._api_key, "Accept": "application/json"}
        if content is not None:
            headers["Content-Type"] = "application/json"
        request = self._http.build_request(
            call.method,
            self._base_url + call.path,
            params=params or None,
            content=content,
            headers=headers,
            timeout=self._timeout,
        )
        if self._signing_secret:
            # Sign what goes on the wire: the final URL (query included) and bytes.
            request.headers.update(
                sign_headers(self._signing_secret, call.method, str(request.url), request.content)
            )
        return request

    async def _send(
        self,
        call: _Call,
        *,
        params: dict[str, str] | None = None,
        json: Any = None,
        content: bytes | None = None,
        allow_empty: bool = False,
    ) -> bytes:
        """Send one request; return the body of a non-error answer, else raise."""
        if json is not None:
            content = _ENCODE.encode(json)
        request = self._build(call, params, content)
        progress = _Progress()
        request.extensions["trace"] = progress.trace
        started = time.monotonic()
        outcome = "error"
        result = "transport_error"
        try:
            response = await self._exchange(call, request, progress)
            outcome = str(response.status_code)
            body = response.content
            self._raise_for_answer(call, response.status_code, response.headers, body, allow_empty)
            result = "ok"
            return body
        except SevenError as exc:
            outcome = f"{outcome} {exc.code}"
            result = exc.code
            raise
        finally:
            seconds = time.monotonic() - started
            self._log_call(call, outcome, seconds)
            if self._observer is not None:
                self._observer(call.endpoint, result, seconds)

    async def _exchange(
        self, call: _Call, request: httpx.Request, progress: _Progress
    ) -> httpx.Response:
        """The network part, with every httpx/asyncio failure turned into a SevenError.

        Errors are raised ``from None``: httpx exceptions hold the request, and the
        request holds the API key header.
        """
        try:
            async with asyncio.timeout(self._total_timeout):
                return await self._http.send(request)
        except TimeoutError:
            error: SevenError = self._total_timeout_error(call, progress)
        except httpx.TransportError as exc:
            error = self._transport_error(call, exc)
        raise error from None

    def _total_timeout_error(self, call: _Call, progress: _Progress) -> SevenError:
        message = f"seven did not answer within {self._total_timeout:g}s"
        if progress.surely_unsent:
            return UpstreamUnavailable(f"{message} (request not sent)", **call.context())
        return OutcomeUnknown(message, retryable=not call.is_write, **call.context())

    def _transport_error(self, call: _Call, exc: httpx.TransportError) -> SevenError:
        detail = self._redact(f"{type(exc).__name__}: {exc}")[:_MAX_MESSAGE]
        if isinstance(exc, _NOT_SENT_ERRORS):
            return UpstreamUnavailable(f"seven is unreachable ({detail})", **call.context())
        return OutcomeUnknown(
            f"no complete answer from seven ({detail})",
            retryable=not call.is_write,
            **call.context(),
        )

    # -- answers -----------------------------------------------------------------

    def _raise_for_answer(
        self,
        call: _Call,
        status: int,
        headers: httpx.Headers,
        body: bytes,
        allow_empty: bool,
    ) -> None:
        """Raise the right error for a non-success answer; return for a success."""
        code = _bare_code(body)
        if status == 429:
            retry_after = parse_retry_after(headers.get("Retry-After"))
            raise RateLimited(
                "seven is rate limiting"
                + (f"; retry after {retry_after:g}s" if retry_after is not None else ""),
                retry_after=retry_after,
                **call.context(status=status, seven_code=code),
            )
        if status >= 500:
            raise UpstreamUnavailable(
                f"seven answered HTTP {status}", **call.context(status=status, seven_code=code)
            )
        if code is not None:
            raise self._bare_code_error(call, status, code)
        if 200 <= status < 300:
            if not body.strip() and not (allow_empty and status == 204):
                raise self._malformed(call, status, "empty body")
            return
        raise self._status_error(call, status, body)

    def _bare_code_error(self, call: _Call, status: int, code: int) -> SevenError:
        ctx = call.context(status=status, seven_code=code)
        if code in AUTH_CODES:
            reason = AUTH_CODES[code]
            return SevenAuthError(
                f"seven refused the request: {reason} ({code})", code=reason, **ctx
            )
        if code == INSUFFICIENT_CREDIT_CODE:
            return InsufficientCredit("seven: insufficient credit on the account (500)", **ctx)
        if call.number is not None:
            return self._not_on_account(call, status, f"seven error code {code}", seven_code=code)
        return UpstreamError(f"seven answered with error code {code}", **ctx)

    def _status_error(self, call: _Call, status: int, body: bytes) -> SevenError:
        text = self._error_text(body)
        ctx = call.context(status=status)
        if status in (401, 403):
            reason = "invalid_api_key" if status == 401 else "access_denied"
            return SevenAuthError(
                f"seven refused the request: {reason} (HTTP {status})", code=reason, **ctx
            )
        if status == 404 and call.number is not None:
            return self._not_on_account(call, status, text)
        if call.is_order and 400 <= status < 500:
            return OrderRefused(
                f"seven refused the order (HTTP {status}): {text or 'no reason given'}",
                seven_message=text,
                **ctx,
            )
        return UpstreamError(f"seven answered HTTP {status}: {text or 'no details'}", **ctx)

    def _not_on_account(
        self, call: _Call, status: int, detail: str | None, *, seven_code: int | None = None
    ) -> NumberNotOnAccount:
        why = f": {self._redact(detail)[:_MAX_MESSAGE]}" if detail else ""
        return NumberNotOnAccount(
            f"number {call.number} is not on the seven account{why}",
            number=call.number,
            **call.context(status=status, seven_code=seven_code),
        )

    def _decode(
        self, call: _Call, body: bytes | msgspec.Raw, decoder: msgspec.json.Decoder[_T]
    ) -> _T:
        """Decode a success body; an unexpected shape becomes a precise error."""
        try:
            return decoder.decode(body)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            if call.number is not None and _looks_like_error(body):
                raise self._not_on_account(call, 200, self._error_text(body)) from None
            raise self._malformed(call, 200, str(exc)) from None

    def _malformed(self, call: _Call, status: int, detail: str) -> MalformedResponse:
        return MalformedResponse(
            f"unexpected answer from seven: {self._redact(detail)[:_MAX_MESSAGE]}",
            maybe_processed=call.is_write,
            **call.context(status=status),
        )

    def _error_text(self, body: bytes) -> str | None:
        """seven's human error text from an error body, redacted and shortened."""
        text = _error_field(body)
        return self._redact(text)[:_MAX_MESSAGE] if text else None

    def _redact(self, text: str) -> str:
        for secret in (self._api_key, self._signing_secret):
            if secret:
                text = text.replace(secret, "***")
        return text

    def _log_call(self, call: _Call, outcome: str, seconds: float) -> None:
        if self._logger is None:
            return
        self._logger.info(
            "seven %s %s -> %s in %.0f ms",
            call.method,
            call.path,
            outcome,
            seconds * 1000,
            extra={
                "seven_method": call.method,
                "seven_path": call.path,
                "seven_outcome": outcome,
                "duration_ms": round(seconds * 1000, 1),
            },
        )


# -- helpers ---------------------------------------------------------------------


def _digits(number: str) -> str:
    try:
        return normalize_number(number, strict=False)
    except InvalidPhoneNumber as exc:
        raise ValueError(str(exc)) from None


def _bare_code(body: bytes) -> int | None:
    """The code of a body that is only a number (``900``, ``"900"``), else None."""
    if len(body) > _BARE_CODE_MAX_LEN:
        return None  # cheap exit: list_active bodies can be tens of megabytes
    match = _BARE_CODE.fullmatch(body)
    return int(match.group(1)) if match else None


def _loads(body: bytes) -> Any:
    try:
        return _DECODE_ANY.decode(body)
    except msgspec.DecodeError:
        return None


def _looks_like_error(body: bytes) -> bool:
    """An error-ish JSON answer: null, empty, ``success: false`` or an error field."""
    data = _loads(body)
    if data in (None, {}, [], ""):
        return True
    return isinstance(data, dict) and (
        data.get("success") is False or bool(data.get("error")) or bool(data.get("message"))
    )


def _error_field(body: bytes) -> str | None:
    data = _loads(body)
    if isinstance(data, dict):
        for key in ("error", "message", "detail"):
            value = data.get(key)
            if value:
                return str(value)
        return None
    if isinstance(data, str):
        return data
    return None


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or HTTP-date), or None."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)
