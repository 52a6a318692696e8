"""The sandbox's inbound SMS: seven's ``sms_mo`` webhook, sent to a URL as seven sends it.

The body is seven's: form-encoded with ``data`` nested PHP-style (``data[id]=...``, seven's
default ``request_method`` POST), or JSON when asked (seven's ``JSON``). It is signed as
seven signs webhooks (``X-Signature``/``X-Timestamp``/``X-Nonce`` over the full URL, see
app.seven.signing) when the sandbox has a signing secret. Like seven, it retries on 429,
5xx and connection errors and takes any other answer as final; seven waits minutes to
hours between attempts, the sandbox ``RETRY_WAITS`` (seconds), so a demo sees them.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlencode

import httpx

from app.seven.signing import sign_headers

Format = Literal["form", "json"]
RETRY_WAITS: tuple[float, ...] = (0.5, 1.0, 2.0)


@dataclass(frozen=True, slots=True)
class Sent:
    status: int | None
    """The last answer's status; None: no answer (a connection error)."""
    attempts: int
    id: str
    """The SMS's id (``data.id``), the same on every attempt."""


def sms_mo(to: str, text: str, sender: str, sms_id: str) -> dict[str, Any]:
    """An ``sms_mo`` event as seven documents it (every data value a string)."""
    now = time.time()
    return {
        "webhook_event": "sms_mo",
        "webhook_timestamp": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "data": {
            "id": sms_id,
            "sender": sender,
            "system": to,
            "text": text,
            "time": str(int(now)),
            "message_type": "SMS",
        },
    }


def encode(event: dict[str, Any], body_format: Format) -> tuple[bytes, str]:
    """The body and its content type."""
    if body_format == "json":
        return json.dumps(event).encode(), "application/json"
    fields = [(key, value) for key, value in event.items() if key != "data"]
    fields += [(f"data[{key}]", value) for key, value in event["data"].items()]
    return urlencode(fields).encode(), "application/x-www-form-urlencoded"


def _retried(status: int | None) -> bool:
    return status is None or status == 429 or status >= 500


async def send_sms(
    client: httpx.AsyncClient,
    url: str,
    *,
    to: str,
    text: str,
    sender: str = "4917612345678",
    signing_secret: str | None = None,
    body_format: Format = "form",
    waits: Sequence[float] = RETRY_WAITS,
) -> Sent:
    """Send one inbound SMS to ``url``, retried as seven retries; the last answer."""
    sms_id = secrets.token_hex(8)
    body, content_type = encode(sms_mo(to, text, sender, sms_id), body_format)
    status: int | None = None
    attempts = 0
    for wait in (0.0, *waits):
        await asyncio.sleep(wait)
        attempts += 1
        headers = {"Content-Type": content_type}
        if signing_secret:
            # Signed again on every attempt: a fresh timestamp and nonce, as seven does.
            headers |= sign_headers(signing_secret, "POST", url, body)
        try:
            status = (await client.post(url, content=body, headers=headers)).status_code
        except httpx.TransportError:
            status = None
        if not _retried(status):
            break
    return Sent(status, attempts, sms_id)
