"""seven's request signature: a known vector, freshness, tampering, header spelling."""

from __future__ import annotations

import hashlib
import hmac

import httpx
import pytest

from app.seven.signing import NONCE_LENGTH, sign_headers, verify_signature

SECRET = "signing-secret"
URL = "https://gateway.seven.io/api/numbers/active/4915170264838?delete_immediately=1"
BODY = b'{"delete_immediately":true}'
TS = 1_700_000_000
NONCE = "a" * 32


def _expected() -> str:
    # Written out independently of the module: the spec's five lines.
    md5 = hashlib.md5(BODY).hexdigest()  # noqa: S324 - seven's format
    message = f"{TS}\n{NONCE}\nDELETE\n{URL}\n{md5}".encode()
    return hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest()


def test_known_vector() -> None:
    headers = sign_headers(SECRET, "delete", URL, BODY, timestamp=TS, nonce=NONCE)
    assert headers == {"X-Signature": _expected(), "X-Timestamp": str(TS), "X-Nonce": NONCE}


def test_fresh_nonce_and_timestamp_by_default() -> None:
    first = sign_headers(SECRET, "GET", URL, b"")
    second = sign_headers(SECRET, "GET", URL, b"")
    assert len(first["X-Nonce"]) == NONCE_LENGTH == 32
    assert first["X-Nonce"] != second["X-Nonce"]
    assert verify_signature(SECRET, "GET", URL, b"", first)


def test_verify_accepts_own_signature_with_any_header_spelling() -> None:
    headers = sign_headers(SECRET, "DELETE", URL, BODY, timestamp=TS, nonce=NONCE)
    assert verify_signature(SECRET, "DELETE", URL, BODY, headers, now=TS + 5)
    lower = {k.lower(): v for k, v in headers.items()}
    assert verify_signature(SECRET, "DELETE", URL, BODY, lower, now=TS)
    assert verify_signature(SECRET, "DELETE", URL, BODY, httpx.Headers(lower), now=TS)
    assert verify_signature(SECRET.encode(), "delete", URL, BODY, headers, now=TS)


@pytest.mark.parametrize(
    ("secret", "method", "url", "body"),
    [
        ("other-secret", "DELETE", URL, BODY),
        (SECRET, "GET", URL, BODY),
        (SECRET, "DELETE", URL.replace("=1", "=0"), BODY),
        (SECRET, "DELETE", URL, b'{"delete_immediately":false}'),
    ],
)
def test_tampering_fails(secret: str, method: str, url: str, body: bytes) -> None:
    headers = sign_headers(SECRET, "DELETE", URL, BODY, timestamp=TS, nonce=NONCE)
    assert not verify_signature(secret, method, url, body, headers, now=TS)


@pytest.mark.parametrize("padded", [f" {SECRET}\n", f"\t{SECRET}\r\n", f"{SECRET}\x00\x0b"])
def test_the_secret_is_trimmed_as_the_php_sdk_does(padded: str) -> None:
    # seven's PHP SDK signs with trim($signingSecret): a pasted newline changes nothing.
    headers = sign_headers(padded, "DELETE", URL, BODY, timestamp=TS, nonce=NONCE)
    assert headers["X-Signature"] == _expected()
    assert verify_signature(padded.encode(), "DELETE", URL, BODY, headers, now=TS)
    # Only PHP's trim characters: an inner or other character is part of the secret.
    assert not verify_signature(f"{SECRET}\u00a0", "DELETE", URL, BODY, headers, now=TS)


def test_a_signature_over_any_spelling_of_the_url_is_accepted() -> None:
    path = "/api/numbers/active/4915170264838?delete_immediately=1"
    over_path = sign_headers(SECRET, "DELETE", path, BODY, timestamp=TS, nonce=NONCE)
    over_url = sign_headers(SECRET, "DELETE", URL, BODY, timestamp=TS, nonce=NONCE)
    for headers in (over_path, over_url):
        assert verify_signature(SECRET, "DELETE", (URL, path), BODY, headers, now=TS)
    assert not verify_signature(SECRET, "DELETE", URL, BODY, over_path, now=TS)
    assert not verify_signature(SECRET, "DELETE", (URL, "/api/other"), BODY, over_path, now=TS)
    assert not verify_signature(SECRET, "DELETE", (), BODY, over_url, now=TS)


def test_stale_and_future_timestamps_fail() -> None:
    headers = sign_headers(SECRET, "DELETE", URL, BODY, timestamp=TS, nonce=NONCE)
    assert verify_signature(SECRET, "DELETE", URL, BODY, headers, now=TS + 30)
    assert not verify_signature(SECRET, "DELETE", URL, BODY, headers, now=TS + 31)
    assert not verify_signature(SECRET, "DELETE", URL, BODY, headers, now=TS - 31)
    assert verify_signature(SECRET, "DELETE", URL, BODY, headers, now=TS + 100, max_age=120)


@pytest.mark.parametrize(
    "broken",
    [
        {},
        {"X-Signature": _expected(), "X-Timestamp": str(TS)},
        {"X-Signature": _expected(), "X-Timestamp": str(TS), "X-Nonce": "short"},
        {"X-Signature": _expected(), "X-Timestamp": "yesterday", "X-Nonce": NONCE},
        {"X-Signature": "", "X-Timestamp": str(TS), "X-Nonce": NONCE},
    ],
)
def test_missing_or_broken_headers_fail(broken: dict[str, str]) -> None:
    assert not verify_signature(SECRET, "DELETE", URL, BODY, broken, now=TS)
