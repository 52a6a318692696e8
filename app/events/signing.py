"""Signing deliveries as the Standard Webhooks spec has it (standardwebhooks.com).

The secret is ``whsec_`` + base64 of random bytes; the signature is
``v1,`` + base64(HMAC-SHA256(key, f"{webhook-id}.{webhook-timestamp}.{body}")), where
``webhook-id`` is the event's id (the same on every attempt, so a receiver can drop
repeats) and ``webhook-timestamp`` the attempt's time in unix seconds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

PREFIX = "whsec_"
#: 24 bytes, within the 24 to 64 bytes the spec recommends.
SECRET_BYTES = 24


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signature_headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three headers of one attempt."""
    key = base64.b64decode(secret.removeprefix(PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
    }
