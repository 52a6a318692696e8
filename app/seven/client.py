"""The async client for seven's phone-number API.

One :class:`SevenClient` wraps one shared ``httpx.AsyncClient`` (passed in, or owned
and closed by ``aclose()`` / ``async with``). It imports nothing of the service.

Decisions worth knowing:

* **Three kinds of answer, decided here and nowhere else.** Every answer is a clear
  success (the documented success shape of that call: the method returns), a clear
  refusal (a :class:`~app.seven.errors.Refused`: seven's documented refusal shapes,
  bare auth/credit codes, 429, or a request that provably never went out) or unknown
  (an :class:`~app.seven.errors.OutcomeUnknown`: everything else, from a timeout after
  sending to an HTML page with HTTP 200, ``{}``, an unknown bare code or a number
  that is not the one asked about). Never trust HTTP 200 alone: seven answers errors
  as a bare number (``900`` or ``"900"``) with status 200, and a proxy's page may come
  with it too.
* **No retries here.** The worker is the single layer that retries (with backoff, and
  by reading seven before a paid or destructive write is sent again). Retrying in two
  layers multiplies attempts and can order a number twice.
* **Timeouts:** ``connect`` (TCP/TLS, also the pool wait), ``read`` (gap between
  bytes, also the write timeout) and ``total`` (``asyncio.timeout`` around the whole
  call, body included). A total timeout before the request headers went out is
  reported as :class:`UpstreamUnavailable`; after that (or when the transport does
  not report progress) as :class:`OutcomeUnknown`.
* **DELETE sends ``delete_immediately`` as seven's own SDKs do**: the PHP SDK appends
  ``?delete_immediately=true`` when it is true (and nothing otherwise: false is seven's
  default), the JS SDK sends a JSON body with the boolean. Both go out, so whichever
  seven reads, it reads a value its backend is known to understand; a true that seven
  did not read would keep the number, and its charges, until the end of the period.
* **Numbers** go out as digits via :func:`app.lib.phone.normalize_number` in lenient
  mode: a number seven offered must never be refused by our older metadata.
* **The API key** is sent per request (never set on a shared httpx client), redacted
  from every message, absent from ``repr`` and from logs (method, path, status and
  duration only).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import functools
import logging
import math
import re
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
import msgspec

from app.lib.phone import InvalidPhoneNumber, normalize_number
from app.seven.active_list import ActiveList
from app.seven.active_stream import ActiveSplitter
from app.seven.errors import (
    AUTH_CODES,
    INSUFFICIENT_CREDIT_CODE,
    InsufficientCredit,
    MalformedResponse,
    NumberNotOnAccount,
    OrderRefused,
    OutcomeUnknown,
    RateLimited,
    RequestRefused,
    SevenAuthError,
    SevenError,
    SevenServerError,
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
# A batch of the streamed list split into its items (checked to be JSON, not decoded).
_DECODE_RAW_ITEMS = msgspec.json.Decoder(list[msgspec.Raw])
_DECODE_SUCCESS = msgspec.json.Decoder(SuccessResponse)
_DECODE_ANY = msgspec.json.Decoder()
_ENCODE = msgspec.json.Encoder()
_NOT_DIGITS = re.compile(r"\D")
_REFUSAL_CODES = {"PATCH": "update_refused", "DELETE": "delete_refused"}

# A whole body that is just a number, optionally as a JSON string: ``900``, ``"900"``.
_BARE_CODE = re.compile(rb'\s*"?\s*(\d{1,6})\s*"?\s*')
_BARE_CODE_MAX_LEN = 32
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
    refusal: type[RequestRefused] = RequestRefused
    refusal_code: str | None = None  # the refusal's code when not the class's own

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


class _Waited:
    """The part of a call's total timeout not yet spent waiting for seven."""

    __slots__ = ("_left",)

    def __init__(self, total: float) -> None:
        self._left = total

    def deadline(self) -> float:
        return asyncio.get_running_loop().time() + self._left

    async def on(self, step: Awaitable[_T]) -> _T:
        """Await ``step``, counting the wait against the timeout."""
        started = time.monotonic()
        try:
            return await step
        finally:
            self._left -= time.monotonic() - started


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
        if http_client is not None:
            self.__dict__["_http"] = http_client
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

    @functools.cached_property
    def _http(self) -> httpx.AsyncClient:
        """The client this instance owns, built on the first call to seven: building it
        reads and parses the CA bundle for TLS (~0.1 s of CPU), which every process start
        (the worker's, the API's) would otherwise wait for, whether or not it calls seven."""
        return httpx.AsyncClient(timeout=self._timeout)

    async def aclose(self) -> None:
        """Close the httpx client if this instance created it; a passed-in one stays open."""
        if self._owns_http and "_http" in self.__dict__:
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

    async def order(self, number: str, payment_interval: PaymentInterval) -> None:
        """``POST /numbers/order``. Returns on success; raises :class:`OrderRefused` on no.

        Costs money and has no idempotency key: on :class:`OutcomeUnknown` check
        :meth:`get_active` before ordering again.
        """
        if payment_interval not in set(PaymentInterval):
            raise ValueError(
                f"payment_interval must be one of {', '.join(PaymentInterval)}: "
                f"{payment_interval!r}"
            )
        digits = _digits(number)
        call = _Call("POST", "/numbers/order", refusal=OrderRefused)
        payload = {"number": digits, "payment_interval": payment_interval}
        body = await self._send(call, json=payload)
        self._expect_success(call, body)

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

    async def find_active(self, number: str) -> ActiveNumber | None:
        """The number as ``GET /numbers/active`` lists it, or None when it does not.

        For a caller that must read the whole list to learn about one number (an
        operation settling after an answer that said nothing): the list is read as it
        arrives and left once the number is found, so at most a batch of it is held,
        and only the number itself is decoded. Raises as :meth:`stream_active` does.
        """
        wanted = _digits(number)
        async with contextlib.aclosing(self.stream_active()) as batches:
            async for batch in batches:
                found = batch.find(wanted)
                if found is not None:
                    return found
        return None

    async def stream_active(self) -> AsyncGenerator[ActiveList, None]:
        """``GET /numbers/active`` read as it arrives: its numbers in batches, in order.

        For a large account (the sync), where ``list_active`` would hold the whole body:
        only about one batch is held at once (``app/seven/active_stream.py``). Each batch
        is an ``ActiveList``: split into its items, each decoded when read, so a caller
        that knows an item's bytes already need not decode it. The same answers raise
        the same errors as ``list_active``, a malformed number when it is read. The
        total timeout counts the time spent waiting for seven, not the time the caller
        spends between batches (the sync's COPY of a million numbers may well outlast
        it): the body is read at the caller's pace. Iterate it inside
        ``contextlib.aclosing`` so that leaving early closes the connection.
        """
        call = _Call("GET", "/numbers/active")
        request = self._build(call, None, None)
        progress = _Progress()
        request.extensions["trace"] = progress.trace
        waited = _Waited(self._total_timeout)
        started = time.monotonic()
        outcome = "error"
        result = "transport_error"
        response: httpx.Response | None = None
        try:
            sending = self._http.send(request, stream=True)
            response = await waited.on(self._guarded(call, progress, waited.deadline(), sending))
            outcome = str(response.status_code)
            if not 200 <= response.status_code < 300:
                body = await self._guarded(call, progress, waited.deadline(), response.aread())
                self._raise_for_answer(call, response.status_code, response.headers, body)
            splitter = ActiveSplitter(decode=_DECODE_RAW_ITEMS.decode)
            decode = functools.partial(self._decode, call, decoder=_DECODE_ACTIVE)
            chunks = response.aiter_bytes()
            while True:
                try:
                    chunk = await waited.on(
                        self._guarded(call, progress, waited.deadline(), anext(chunks))
                    )
                except StopAsyncIteration:
                    break
                for items in self._batches(call, splitter.feed, chunk):
                    yield ActiveList(items, decode)
            if splitter.streaming:
                yield ActiveList(self._batches(call, splitter.close), decode)
            else:
                # Not the documented shape (a bare error code, say): read whole.
                body = splitter.held
                self._raise_for_answer(call, response.status_code, response.headers, body)
                items = self._decode(call, body, _DECODE_ACTIVE_ITEMS).active_numbers
                yield ActiveList(items, decode)
            result = "ok"
        except SevenError as exc:
            outcome = f"{outcome} {exc.code}"
            result = exc.code
            raise
        finally:
            if response is not None:
                await response.aclose()
            seconds = time.monotonic() - started
            self._log_call(call, outcome, seconds)
            if self._observer is not None:
                self._observer(call.endpoint, result, seconds)

    def _batches(self, call: _Call, split: Callable[..., _T], *args: Any) -> _T:
        """What ``split(*args)`` makes of the body; a malformed one is an unknown answer."""
        try:
            return split(*args)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise self._malformed(call, 200, str(exc)) from None

    async def get_active(self, number: str) -> ActiveNumber:
        """``GET /numbers/active/:number``; :class:`NumberNotOnAccount` when it isn't."""
        call = self._number_call("GET", number)
        body = await self._send(call)
        return self._decode_number(call, body)

    async def update(self, number: str, changes: NumberUpdate) -> ActiveNumber:
        """``PATCH /numbers/active/:number``; returns the number as seven now has it."""
        call = self._number_call("PATCH", number)
        if changes.sms_forward is not None:
            changes = msgspec.structs.replace(
                changes, sms_forward=[_digits(n) for n in changes.sms_forward]
            )
        body = await self._send(call, content=_ENCODE.encode(changes))
        return self._decode_number(call, body)

    async def delete(self, number: str, *, delete_immediately: bool) -> None:
        """``DELETE /numbers/active/:number``.

        ``delete_immediately=False`` keeps the number until the end of its billing
        period. The flag goes as seven's SDKs send it (module docstring).
        """
        call = self._number_call("DELETE", number)
        body = await self._send(
            call,
            params={"delete_immediately": "true"} if delete_immediately else None,
            json={"delete_immediately": delete_immediately},
        )
        self._expect_success(call, body)

    # -- transport ---------------------------------------------------------------

    def _number_call(self, method: str, number: str) -> _Call:
        digits = _digits(number)
        refusal_code = _REFUSAL_CODES.get(method)
        return _Call(method, f"/numbers/active/{digits}", number=digits, refusal_code=refusal_code)

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
            self._raise_for_answer(call, response.status_code, response.headers, body)
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
        deadline = asyncio.get_running_loop().time() + self._total_timeout
        return await self._guarded(call, progress, deadline, self._http.send(request))

    async def _guarded(
        self, call: _Call, progress: _Progress, deadline: float, step: Awaitable[_T]
    ) -> _T:
        """Await one step of a call by the call's deadline, every httpx/asyncio failure
        turned into a SevenError."""
        try:
            async with asyncio.timeout_at(deadline):
                return await step
        except TimeoutError:
            error: SevenError = self._total_timeout_error(call, progress)
        except httpx.TransportError as exc:
            error = self._transport_error(call, exc)
        raise error from None

    def _total_timeout_error(self, call: _Call, progress: _Progress) -> SevenError:
        message = f"seven did not answer within {self._total_timeout:g}s"
        if progress.surely_unsent:
            return UpstreamUnavailable(f"{message} (request not sent)", **call.context())
        return OutcomeUnknown(message, **call.context())

    def _transport_error(self, call: _Call, exc: httpx.TransportError) -> SevenError:
        detail = self._redact(f"{type(exc).__name__}: {exc}")[:_MAX_MESSAGE]
        if isinstance(exc, _NOT_SENT_ERRORS):
            return UpstreamUnavailable(f"seven is unreachable ({detail})", **call.context())
        return OutcomeUnknown(f"no complete answer from seven ({detail})", **call.context())

    # -- answers: success, refusal or unknown ----------------------------------------

    def _raise_for_answer(
        self, call: _Call, status: int, headers: httpx.Headers, body: bytes
    ) -> None:
        """Raise the refusal or unknown an answer is; return when only the body's shape
        is left to decide (HTTP 2xx, no bare code)."""
        if status == 429:
            retry_after = parse_retry_after(headers.get("Retry-After"))
            raise RateLimited(
                "seven is rate limiting"
                + (f"; retry after {retry_after:g}s" if retry_after is not None else ""),
                retry_after=retry_after,
                **call.context(status=status),
            )
        if status >= 500:
            raise SevenServerError(f"seven answered HTTP {status}", **call.context(status=status))
        code = _bare_code(body)
        if code is not None:
            raise self._bare_code_error(call, status, code)
        if status in (401, 403):
            reason = "invalid_api_key" if status == 401 else "access_denied"
            raise SevenAuthError(
                f"seven refused the request: {reason} (HTTP {status})",
                code=reason,
                **call.context(status=status),
            )
        if 200 <= status < 300:
            return
        text = self._error_text(body)
        if text is None:
            # A proxy's page, a redirect, an empty body: nothing says seven saw the request.
            raise self._malformed(call, status, f"HTTP {status} without seven's error body")
        if status == 404 and call.number is not None:
            raise NumberNotOnAccount(
                f"number {call.number} is not on the seven account: {text}",
                number=call.number,
                **call.context(status=status),
            )
        raise self._refused(call, status, text)

    def _bare_code_error(self, call: _Call, status: int, code: int) -> SevenError:
        ctx = call.context(status=status, seven_code=code)
        if code in AUTH_CODES:
            reason = AUTH_CODES[code]
            return SevenAuthError(
                f"seven refused the request: {reason} ({code})", code=reason, **ctx
            )
        if code == INSUFFICIENT_CREDIT_CODE:
            return InsufficientCredit("seven: insufficient credit on the account (500)", **ctx)
        return MalformedResponse(f"seven answered with the unknown code {code}", **ctx)

    def _refused(self, call: _Call, status: int, seven_message: str) -> RequestRefused:
        text = self._redact(seven_message)[:_MAX_MESSAGE]
        return call.refusal(
            f"seven refused the request (HTTP {status}): {text}",
            seven_message=text,
            code=call.refusal_code,
            **call.context(status=status),
        )

    def _expect_success(self, call: _Call, body: bytes) -> None:
        """``{"success": true}`` returns; ``{"success": false, "error": "<text>"}`` is a
        refusal; any other shape (``success: false`` without seven's text too) is unknown."""
        result = self._decode(call, body, _DECODE_SUCCESS)
        if result.success:
            return
        if result.error and result.error.strip():
            raise self._refused(call, 200, result.error)
        raise self._malformed(call, 200, "success false without seven's error text")

    def _decode_number(self, call: _Call, body: bytes) -> ActiveNumber:
        """An ActiveNumber, and the one asked about: an answer about another number says
        nothing about this one."""
        active = self._decode(call, body, _DECODE_ACTIVE)
        if _NOT_DIGITS.sub("", active.number) != call.number:
            raise self._malformed(call, 200, "the answer is about another number")
        return active

    def _decode(
        self, call: _Call, body: bytes | msgspec.Raw, decoder: msgspec.json.Decoder[_T]
    ) -> _T:
        """Decode a 2xx body into the call's success shape; anything else is unknown."""
        try:
            return decoder.decode(body)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise self._malformed(call, 200, str(exc)) from None

    def _malformed(self, call: _Call, status: int, detail: str) -> MalformedResponse:
        return MalformedResponse(
            f"unexpected answer from seven: {self._redact(detail)[:_MAX_MESSAGE]}",
            **call.context(status=status),
        )

    def _error_text(self, body: bytes) -> str | None:
        """seven's error text from its JSON error body, redacted and shortened."""
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


def _error_field(body: bytes) -> str | None:
    """The text of seven's JSON error body (an object with an ``error`` or ``message``
    string), or None when the body is not one."""
    data = _loads(body)
    if not isinstance(data, dict):
        return None
    for key in ("error", "message"):
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return value
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
