"""``/v1/webhooks/seven``: seven's inbound-SMS events, the one /v1 route without a key.

seven cannot send our API key; its signature (``SEVEN_SIGNING_SECRET``) proves the
sender instead. The event comes as seven's hook was registered: a form-encoded POST
(seven's default), a JSON POST, or a GET with the fields in the query string
(app/webhooks/formats.py).

The signature may cover the full URL (seven's signing page) or the path and query
(what seven's JS SDK verifier is handed, ``req.originalUrl``): either is accepted.
Behind a proxy that rewrites the host or scheme the full URL differs from what we see:
forward the original Host and scheme (uvicorn ``--proxy-headers``).

seven retries a delivery answered 429 or 5xx (for about 3.5 days) and takes any other
4xx as final: a bad or forged event is answered 4xx, a fault on our side (the database,
the secret not configured) 5xx, so seven delivers the event again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import msgspec
import structlog
from arq import ArqRedis
from litestar import Request, get, post
from litestar.datastructures import URL
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import (
    Encoding,
    Example,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    Parameter,
    RequestBody,
    Schema,
)
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from app.lib.error_answers import ErrorBody
from app.lib.errors import InvalidInput, ServiceError, Unauthorized
from app.lib.strict_query import OPEN_QUERY
from app.settings import Settings
from app.seven.signing import NONCE_HEADER, verify_signature
from app.webhooks.formats import decode_event
from app.webhooks.nonces import ReplayedNonce, nonce_taken
from app.webhooks.service import (
    CLOCK_WINDOW,
    BadEvent,
    check_age,
    count_sms_mo,
    parse_sms_mo,
)

WEBHOOK_PATH = "/webhooks/seven"


class WebhookOut(msgspec.Struct):
    status: Literal["counted", "duplicate", "ignored"]


class SigningSecretMissing(ServiceError):
    """No secret to check signatures with: our configuration, so seven should retry."""

    status_code = 503
    code = "webhook_signing_not_configured"


def warn_if_unsigned(settings: Settings) -> None:
    """At API start-up: say once that webhooks are refused, or taken unsigned."""
    if settings.seven_signing_secret:
        return
    log = structlog.get_logger(__name__)
    if settings.webhooks_allow_unsigned:
        log.warning(
            "webhooks_accepted_unsigned",
            detail="SEVEN_SIGNING_SECRET is unset and WEBHOOKS_ALLOW_UNSIGNED=true: anyone who "
            "can reach /v1/webhooks/seven can add inbound usage",
        )
    else:
        log.warning(
            "webhooks_refused",
            detail="SEVEN_SIGNING_SECRET is unset: /v1/webhooks/seven answers every call 503 "
            "until it is set (or WEBHOOKS_ALLOW_UNSIGNED=true, for development only)",
        )


async def receive(
    request: Request[Any, Any, Any], session: AsyncSession, settings: Settings, redis: Redis
) -> WebhookOut:
    body = await request.body()
    secret = settings.seven_signing_secret
    if not secret:
        if not settings.webhooks_allow_unsigned:
            raise SigningSecretMissing(
                "Webhooks are not configured: SEVEN_SIGNING_SECRET is unset.",
            )
        return await _take(request, body, session, settings)
    urls = _signed_urls(request.url)
    window = CLOCK_WINDOW.total_seconds()
    if not verify_signature(secret, request.method, urls, body, request.headers, max_age=window):
        raise Unauthorized(
            f"The webhook's signature is missing, wrong or more than {window:.0f} seconds "
            "from our clock.",
            code="invalid_signature",
        )
    try:
        async with nonce_taken(redis, request.headers[NONCE_HEADER]):
            return await _take(request, body, session, settings)
    except ReplayedNonce:
        raise Unauthorized(
            "This signed request was received before (its nonce is taken).",
            code="replayed_nonce",
        ) from None


def _signed_urls(url: URL) -> tuple[str, str]:
    """The full URL as we see it, and the path and query alone."""
    return str(url), f"{url.path}?{url.query}" if url.query else url.path


async def _take(
    request: Request[Any, Any, Any], body: bytes, session: AsyncSession, settings: Settings
) -> WebhookOut:
    try:
        payload = decode_event(request.method, request.content_type[0], body, request.url.query)
        if payload.webhook_event != "sms_mo":
            return WebhookOut("ignored")
        sms = parse_sms_mo(payload.data)
        check_age(
            sms,
            now=datetime.now(UTC),
            max_age=timedelta(seconds=settings.webhook_max_age_seconds),
        )
    except BadEvent as error:
        raise InvalidInput(f"The event is refused: {error}", code=error.code) from None
    counted = await count_sms_mo(session, sms)
    return WebhookOut("counted" if counted else "duplicate")


_STRING = Schema(type=OpenAPIType.STRING)
_SMS_MO_EXAMPLE = {
    "webhook_event": "sms_mo",
    "webhook_timestamp": "2026-11-27 12:00:00",
    "data": {
        "id": "123456",
        "sender": "4917612345678",
        "system": "4915170000000",
        "text": "Hi",
        "time": "1795780800",
        "message_type": "SMS",
    },
}
_DATA = Schema(
    type=OpenAPIType.OBJECT,
    description="`sms_mo`: `id`, `system` (the receiving number) and `time` (unix seconds) "
    "are read",
)
_EVENT = Schema(
    type=OpenAPIType.OBJECT,
    required=["webhook_event"],
    properties={
        "webhook_event": _STRING,
        "webhook_timestamp": Schema(one_of=[_STRING, Schema(type=OpenAPIType.INTEGER)]),
        "data": _DATA,
    },
    examples=[_SMS_MO_EXAMPLE],
)


@dataclass
class _PostOperation(Operation):
    """The handler reads the body raw (the signature covers its bytes), so Litestar sees
    no body to document; this documents seven's event instead, and that no key is sent."""

    def __post_init__(self) -> None:
        self.security = []
        self.request_body = RequestBody(
            required=True,
            description="seven's event; only `sms_mo` is counted, others are ignored",
            content={
                # seven's default (request_method POST): data[id]=...&data[system]=...
                "application/x-www-form-urlencoded": OpenAPIMediaType(
                    schema=_EVENT,
                    encoding={"data": Encoding(style="deepObject", explode=True)},
                ),
                # request_method JSON
                "application/json": OpenAPIMediaType(schema=_EVENT),
            },
        )


@dataclass
class _GetOperation(Operation):
    """request_method GET: the same fields in the query string, ``data`` nested."""

    def __post_init__(self) -> None:
        self.security = []
        self.parameters = [
            Parameter(name="webhook_event", param_in="query", required=True, schema=_STRING),
            Parameter(name="webhook_timestamp", param_in="query", schema=_STRING),
            Parameter(
                name="data", param_in="query", style="deepObject", explode=True, schema=_DATA
            ),
        ]


def _error(status: int, code: str, description: str, message: str) -> ResponseSpec:
    return ResponseSpec(
        ErrorBody,
        description=description,
        generate_examples=False,
        examples=[Example(value={"status": status, "code": code, "message": message})],
    )


_RESPONSES = {
    401: _error(
        401,
        "invalid_signature",
        "Not signed by seven (`invalid_signature`), or a replay (`replayed_nonce`); seven "
        "does not retry",
        "The webhook's signature is missing, wrong or more than 300 seconds from our clock.",
    ),
    422: _error(
        422,
        "event_too_old",
        "An event that cannot be counted: `invalid_event`, `event_id_too_long` (over 128 "
        "characters), `event_too_old` (data.time older than WEBHOOK_MAX_AGE_SECONDS), "
        "`event_time_in_future`; seven does not retry",
        "The event is refused: the SMS is 3600 s old (data.time); events older than 600 s "
        "are refused",
    ),
    503: _error(
        503,
        "webhook_signing_not_configured",
        "SEVEN_SIGNING_SECRET is unset (and WEBHOOKS_ALLOW_UNSIGNED is not true); seven retries",
        "Webhooks are not configured: SEVEN_SIGNING_SECRET is unset.",
    ),
}
# What the POST and the GET of the one webhook endpoint declare alike.
_ROUTE: dict[str, Any] = {
    "path": WEBHOOK_PATH,
    "description": (
        "Called by seven, not by services: no API key, signed with the account's signing "
        "secret. A replayed event is counted once."
    ),
    "tags": ["webhooks"],
    "responses": _RESPONSES,
    # seven's fields arrive in the GET's query string, and seven may add fields.
    "opt": OPEN_QUERY,
}


@post(
    operation_class=_PostOperation,
    status_code=200,
    summary="seven's webhook events, POSTed (form-encoded or JSON)",
    **_ROUTE,
)
async def seven_webhook(
    request: Request[Any, Any, Any], db_session: AsyncSession, settings: Settings, queue: ArqRedis
) -> WebhookOut:
    # The queue's connection is the process's Redis client; the nonces share it.
    return await receive(request, db_session, settings, queue)


@get(
    operation_class=_GetOperation,
    summary="seven's webhook events, as a GET with the fields in the query string",
    **_ROUTE,
)
async def seven_webhook_get(
    request: Request[Any, Any, Any], db_session: AsyncSession, settings: Settings, queue: ArqRedis
) -> WebhookOut:
    return await receive(request, db_session, settings, queue)
