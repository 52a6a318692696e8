"""What both clients share: building requests, the retry loop, decoding answers.

The loops are written once, as generators that know no I/O: they yield an
``httpx.Request`` to send (and receive the ``httpx.Response`` or the ``httpx.TransportError``)
or a number of seconds to sleep (and receive None). ``Client`` runs them with blocking
calls, ``AsyncClient`` with awaits (``transports.py``); nothing else differs between them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import msgspec

from seven_numbers_client.errors import ApiError, Unreachable, error_class
from seven_numbers_client.models import UNSET, ErrorBody
from seven_numbers_client.retry import (
    RETRIED_STATUSES,
    RetryPolicy,
    retry_after_seconds,
    retryable_failure,
)

T = TypeVar("T")

#: What a plan yields: a request to send, or seconds to sleep.
Step = httpx.Request | float
#: What a plan is sent back: the answer, the failure, or None after a sleep.
Outcome = httpx.Response | httpx.TransportError | None
Plan = Generator[Step, Outcome, T]

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
USER_AGENT = "seven-numbers-client/0.1"


@dataclass(frozen=True)
class Route:
    """One ``/v1`` operation as the OpenAPI schema has it (the drift test compares them)."""

    method: str
    path: str
    #: The decoded type of each success status (None: no body; ``str``: text).
    answers: Mapping[int, Any]
    #: The body's type: a struct, or ``dict[str, str]`` for a bare map (a number's tags).
    body: Any = None
    query: tuple[str, ...] = ()

    def call(
        self,
        *,
        path: Mapping[str, object] | None = None,
        query: Mapping[str, object] | None = None,
        body: msgspec.Struct | Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        accept: str = "application/json",
    ) -> Call:
        unknown = set(query or ()) - set(self.query)
        if unknown:
            raise TypeError(f"{self.method} {self.path} takes no {', '.join(sorted(unknown))}")
        if self.method in WRITES and idempotency_key is None:
            # One key per logical call: every retry of this call sends the same one.
            idempotency_key = str(uuid.uuid4())
        return Call(
            route=self,
            url_path=self.path.format_map(
                {name: quote(str(value), safe="") for name, value in (path or {}).items()}
            ),
            params={
                name: _query_value(value)
                for name, value in (query or {}).items()
                if value is not None
            },
            body=body,
            idempotency_key=idempotency_key,
            accept=accept,
        )


def _query_value(value: object) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_query_value(item) for item in value]
    return str(value)


@dataclass(frozen=True)
class Call:
    """One logical call: sent once, or again by the retry loop with the same key."""

    route: Route
    url_path: str
    params: Mapping[str, Any] = field(default_factory=dict)
    body: msgspec.Struct | Mapping[str, str] | None = None
    idempotency_key: str | None = None
    accept: str = "application/json"

    @property
    def name(self) -> str:
        return f"{self.route.method} {self.url_path}"


class Core:
    """The settings of one client and the plans it runs; holds the key, never shows it."""

    def __init__(self, base_url: str, api_key: str, retry: RetryPolicy) -> None:
        if not api_key:
            raise ValueError("an API key is required")
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.retry = retry

    def __repr__(self) -> str:
        return f"Core(base_url={self.base_url!r})"

    def request(self, call: Call) -> httpx.Request:
        headers = {"X-Api-Key": self._api_key, "Accept": call.accept, "User-Agent": USER_AGENT}
        content = None
        if call.body is not None:
            content = msgspec.json.encode(call.body)
            headers["Content-Type"] = "application/json"
        if call.idempotency_key is not None:
            headers["Idempotency-Key"] = call.idempotency_key
        return httpx.Request(
            call.route.method,
            self.base_url + call.url_path,
            params=dict(call.params),
            content=content,
            headers=headers,
        )

    def send(self, call: Call) -> Plan[httpx.Response]:
        """The answer to ``call``, retried within the budget; an ``ApiError`` for an error."""
        request = self.request(call)
        started = time.monotonic()
        attempt = 1
        while True:
            outcome = yield request
            assert outcome is not None
            wait = self._retry_wait(call, outcome, attempt)
            if wait is None or time.monotonic() + wait - started > self.retry.max_total_seconds:
                return self._settle(call, outcome)
            yield wait
            attempt += 1

    def _retry_wait(self, call: Call, outcome: Outcome, attempt: int) -> float | None:
        """Seconds to wait before the next attempt, or None when there is none."""
        if attempt >= self.retry.max_attempts:
            return None
        if isinstance(outcome, httpx.TransportError):
            if not retryable_failure(outcome, call.route.method):
                return None
            return self.retry.backoff(attempt - 1)
        assert isinstance(outcome, httpx.Response)
        if outcome.status_code not in RETRIED_STATUSES:
            return None
        asked = retry_after_seconds(outcome.headers.get("Retry-After"))
        return asked if asked is not None else self.retry.backoff(attempt - 1)

    def _settle(self, call: Call, outcome: Outcome) -> httpx.Response:
        if isinstance(outcome, httpx.TransportError):
            raise Unreachable(f"{call.name}: {type(outcome).__name__}: {outcome}") from outcome
        assert isinstance(outcome, httpx.Response)
        if outcome.status_code >= 400:
            raise _api_error(call, outcome)
        return outcome

    def decode(self, call: Call, response: httpx.Response) -> Any:
        answer = call.route.answers.get(response.status_code, Any)
        if answer is None:
            return None
        if answer is str:
            return response.text
        return msgspec.json.decode(response.content, type=answer)

    def run(self, call: Call) -> Plan[Any]:
        """Send ``call`` and decode its answer as its route says."""
        response = yield from self.send(call)
        return self.decode(call, response)


def _api_error(call: Call, response: httpx.Response) -> ApiError:
    try:
        body = msgspec.json.decode(response.content, type=ErrorBody)
    except msgspec.DecodeError:
        # Not the service's error body (a proxy's page): said by its status alone.
        body = ErrorBody(
            status=response.status_code, code="http_error", message=response.reason_phrase
        )
    cls = error_class(response.status_code, body.code)
    return cls(
        body.message,
        status=response.status_code,
        code=body.code,
        details=None if body.details is UNSET else body.details,
        retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        request=call.name,
    )
