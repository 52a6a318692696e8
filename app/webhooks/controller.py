"""``POST /v1/webhooks/seven``: seven's inbound-SMS events, the one /v1 route without a key.

seven cannot send our API key; when ``SEVEN_SIGNING_SECRET`` is set, its signature
(over the URL as seven called it and the raw body, at most 30 s old) is what proves the
sender instead. Behind a proxy that rewrites the host or scheme the signed URL differs
from what we see: forward the original Host and scheme (uvicorn ``--proxy-headers``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import msgspec
from litestar import Request, post
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema
from sqlalchemy.ext.asyncio import AsyncSession

from app.lib.errors import InvalidInput, Unauthorized, error_responses
from app.settings import Settings
from app.seven.signing import verify_signature
from app.webhooks.service import BadEvent, WebhookPayload, count_sms_mo, parse_sms_mo

WEBHOOK_PATH = "/webhooks/seven"


class WebhookOut(msgspec.Struct):
    status: Literal["counted", "duplicate", "ignored"]


_STRING = Schema(type=OpenAPIType.STRING)
_SMS_MO_EXAMPLE = {
    "webhook_event": "sms_mo",
    "webhook_timestamp": "2026-11-27 12:00:00",
    "data": {"id": "123456", "system": "4915170000000", "time": 1795780800, "text": "Hi"},
}


@dataclass
class _WebhookOperation(Operation):
    """The handler reads the body raw (the signature covers its bytes), so Litestar sees
    no body to document; this documents seven's event instead, and that no key is sent."""

    def __post_init__(self) -> None:
        self.security = []
        self.request_body = RequestBody(
            required=True,
            description="seven's event; only `sms_mo` is counted, others are ignored",
            content={
                "application/json": OpenAPIMediaType(
                    schema=Schema(
                        type=OpenAPIType.OBJECT,
                        required=["webhook_event", "data"],
                        properties={
                            "webhook_event": _STRING,
                            "webhook_timestamp": Schema(
                                one_of=[_STRING, Schema(type=OpenAPIType.INTEGER)]
                            ),
                            "data": Schema(type=OpenAPIType.OBJECT),
                        },
                        examples=[_SMS_MO_EXAMPLE],
                    )
                )
            },
        )


@post(
    WEBHOOK_PATH,
    operation_class=_WebhookOperation,
    status_code=200,
    summary="seven's webhook events (sms_mo)",
    description=(
        "Called by seven, not by services: signed with the signing secret (401 when the "
        "signature is missing, stale or wrong), no API key needed. A replayed event is "
        "counted once."
    ),
    tags=["webhooks"],
    responses=error_responses(400, 422),
)
async def seven_webhook(
    request: Request[Any, Any, Any], db_session: AsyncSession, settings: Settings
) -> WebhookOut:
    body = await request.body()
    secret = settings.seven_signing_secret
    if secret and not verify_signature(
        secret, request.method, str(request.url), body, request.headers
    ):
        raise Unauthorized(
            "The webhook's signature is missing, wrong or older than 30 seconds.",
            code="invalid_signature",
        )
    try:
        payload = msgspec.json.decode(body, type=WebhookPayload)
        if payload.webhook_event != "sms_mo":
            return WebhookOut("ignored")
        event_id, number, day = parse_sms_mo(payload.data)
    except (msgspec.DecodeError, BadEvent) as error:
        raise InvalidInput(
            f"Not a webhook event seven sends: {error}", code="invalid_event"
        ) from None
    counted = await count_sms_mo(db_session, event_id, number, day)
    return WebhookOut("counted" if counted else "duplicate")
