"""Verifying a webhook delivery as the Standard Webhooks spec has it (standardwebhooks.com).

The signed content is ``{webhook-id}.{webhook-timestamp}.{body}``; ``webhook-signature``
lists space-separated ``v1,<base64 HMAC-SHA256>`` signatures (several while a secret is
rotated), keyed with the base64 part of the ``whsec_`` secret. A timestamp further than the
tolerance from now is refused, so a captured delivery cannot be replayed later.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping

import msgspec

from seven_numbers_client.errors import WebhookVerificationError
from seven_numbers_client.models import EventOut

SECRET_PREFIX = "whsec_"  # noqa: S105 (the marker of a secret, not one)
#: Five minutes either way, the spec's suggestion.
DEFAULT_TOLERANCE_SECONDS = 300.0


def verify(
    body: bytes | str,
    headers: Mapping[str, str],
    secret: str,
    *,
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> EventOut:
    """The delivered event, or ``WebhookVerificationError`` naming what did not verify."""
    raw = body.encode() if isinstance(body, str) else body
    lowered = {name.lower(): value for name, value in headers.items()}
    try:
        message_id = lowered["webhook-id"]
        timestamp_text = lowered["webhook-timestamp"]
        signatures = lowered["webhook-signature"]
    except KeyError as missing:
        raise WebhookVerificationError(f"the {missing.args[0]} header is missing") from None
    try:
        timestamp = int(timestamp_text)
    except ValueError:
        raise WebhookVerificationError("webhook-timestamp is not unix seconds") from None
    if abs((time.time() if now is None else now) - timestamp) > tolerance_seconds:
        raise WebhookVerificationError("webhook-timestamp is outside the tolerance")
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except binascii.Error:
        raise WebhookVerificationError("the secret is not a whsec_ secret") from None
    signed = f"{message_id}.{timestamp}.".encode() + raw
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    offered = (
        signature.removeprefix("v1,")
        for signature in signatures.split()
        if signature.startswith("v1,")
    )
    if not any(hmac.compare_digest(expected, candidate) for candidate in offered):
        raise WebhookVerificationError("no webhook-signature matches")
    try:
        return msgspec.json.decode(raw, type=EventOut)
    except msgspec.ValidationError as error:
        raise WebhookVerificationError(f"the body is not an event: {error}") from None
