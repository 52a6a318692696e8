"""seven's request signature (optional on requests, always on webhooks).

    X-Timestamp: unix seconds
    X-Nonce:     32 random characters
    X-Signature: hex(HMAC-SHA256(secret, message)) where message is the five lines
                 timestamp, nonce, METHOD, full URL, md5hex(body) joined by "\\n"

"Full URL" is the URL exactly as sent, query string included. The client signs the
``httpx.Request`` it is about to send (``str(request.url)`` and ``request.content``),
so what is signed is byte for byte what goes on the wire. The sandbox and the webhook
endpoint verify with :func:`verify_signature`.

The secret is trimmed first, as seven's PHP SDK does (``trim($signingSecret)``): a
secret pasted with a trailing newline signs and verifies like the clean one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
import time
from collections.abc import Mapping

__all__ = [
    "NONCE_HEADER",
    "NONCE_LENGTH",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "compute_signature",
    "sign_headers",
    "verify_signature",
]

SIGNATURE_HEADER = "X-Signature"
TIMESTAMP_HEADER = "X-Timestamp"
NONCE_HEADER = "X-Nonce"
NONCE_LENGTH = 32
_NONCE_ALPHABET = string.ascii_letters + string.digits
# PHP's trim() strips exactly these (seven's PHP SDK trims the secret before signing).
_PHP_TRIM = b" \t\n\r\0\x0b"


def _new_nonce() -> str:
    return "".join(secrets.choice(_NONCE_ALPHABET) for _ in range(NONCE_LENGTH))


def compute_signature(
    secret: str | bytes, method: str, url: str, body: bytes, timestamp: str, nonce: str
) -> str:
    """The hex HMAC-SHA256 of one request; the building block of sign and verify."""
    key = (secret.encode() if isinstance(secret, str) else secret).strip(_PHP_TRIM)
    # md5 is seven's choice for the body digest, not a security decision of ours.
    body_digest = hashlib.md5(body, usedforsecurity=False).hexdigest()
    message = "\n".join((timestamp, nonce, method.upper(), url, body_digest))
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def sign_headers(
    secret: str | bytes,
    method: str,
    url: str,
    body: bytes,
    *,
    timestamp: int | str | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """Headers that sign one request. ``timestamp``/``nonce`` are for tests only."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce = _new_nonce() if nonce is None else nonce
    return {
        SIGNATURE_HEADER: compute_signature(secret, method, url, body, ts, nonce),
        TIMESTAMP_HEADER: ts,
        NONCE_HEADER: nonce,
    }


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive lookup that works for plain dicts and httpx/Litestar headers."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, val in headers.items():
        if key.lower() == lowered:
            return val
    return None


def verify_signature(
    secret: str | bytes,
    method: str,
    url: str | tuple[str, ...],
    body: bytes,
    headers: Mapping[str, str],
    *,
    now: float | None = None,
    max_age: float = 30,
) -> bool:
    """True when ``headers`` carry a valid, fresh signature for this request.

    ``url`` may be several spellings of the one request's URL (a tuple): a signature
    over any of them is accepted. Rejects missing headers, a nonce of the wrong length,
    a timestamp more than ``max_age`` seconds old (or more than ``max_age`` in the
    future: clock skew is tolerated, replay from the future is not). Every digest is
    compared in constant time. Remembering nonces to refuse replays inside the window
    is the caller's job.
    """
    signature = _header(headers, SIGNATURE_HEADER)
    timestamp = _header(headers, TIMESTAMP_HEADER)
    nonce = _header(headers, NONCE_HEADER)
    if not signature or not timestamp or nonce is None or len(nonce) != NONCE_LENGTH:
        return False
    try:
        sent_at = int(timestamp)
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - sent_at) > max_age:
        return False
    given = signature.strip().lower().encode()
    # Every candidate is compared (no early exit), so timing does not tell which matched.
    matches = [
        hmac.compare_digest(
            compute_signature(secret, method, candidate, body, timestamp, nonce).encode(), given
        )
        for candidate in ((url,) if isinstance(url, str) else url)
    ]
    return any(matches)
