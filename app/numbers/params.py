"""Query and path parameters of the number reads, checked before any query runs.

Each parser takes the raw text and either returns a clean value or raises
``InvalidInput`` (422) whose code is ``invalid_<parameter>`` and whose details name
the parameter, so a caller can tell exactly which one to fix. Parsing by hand (the
handlers take strings) keeps these codes stable instead of Litestar's generic ones.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import phonenumbers

from app.db.models import NUMBER_STATES
from app.lib.errors import InvalidInput
from app.lib.phone import InvalidPhoneNumber, normalize_number

FEATURES = ("sms", "a2p_sms", "voice")
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_Q_LENGTH = 200
# ISO 3166-1 alpha-2 codes that have telephone numbers: a number can only live in one.
_REGIONS = frozenset(phonenumbers.SUPPORTED_REGIONS)
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


@dataclass(frozen=True, slots=True)
class NumberQuery:
    """A validated ``GET /v1/numbers`` request."""

    country: str | None = None
    features: tuple[str, ...] = ()
    tenant: uuid.UUID | None = None
    pool: uuid.UUID | None = None
    state: str | None = None
    q: str | None = None
    limit: int = DEFAULT_LIMIT
    after: str | None = None
    """The last number of the previous page (decoded from the cursor)."""


def invalid(parameter: str, value: object, expected: str) -> InvalidInput:
    shown = str(value)[:60]
    return InvalidInput(
        f"invalid {parameter} {shown!r}: expected {expected}",
        code=f"invalid_{parameter}",
        details={"parameter": parameter, "expected": expected},
    )


def _given(raw: str | None) -> str | None:
    """Absent and empty (``?country=``) both mean "not given"."""
    if raw is None:
        return None
    return raw.strip() or None


def parse_country(raw: str | None, parameter: str = "country") -> str | None:
    value = _given(raw)
    if value is None:
        return None
    code = value.upper()
    if len(code) != 2 or code not in _REGIONS:
        raise invalid(parameter, value, "an ISO 3166-1 alpha-2 country code such as DE")
    return code


def parse_features(raw: Iterable[str] | None) -> tuple[str, ...]:
    """Repeatable (``feature=sms&feature=voice``); a comma-separated list works too."""
    found: list[str] = []
    for item in raw or ():
        for part in item.split(","):
            name = part.strip().lower()
            if not name:
                continue
            if name not in FEATURES:
                raise invalid("feature", part.strip(), f"any of {', '.join(FEATURES)}")
            if name not in found:
                found.append(name)
    return tuple(found)


def parse_state(raw: str | None) -> str | None:
    value = _given(raw)
    if value is None:
        return None
    if value.lower() not in NUMBER_STATES:
        raise invalid("state", value, f"one of {', '.join(NUMBER_STATES)}")
    return value.lower()


def parse_uuid(raw: str | None, parameter: str) -> uuid.UUID | None:
    value = _given(raw)
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise invalid(parameter, value, "a UUID") from None


def parse_limit(raw: str | None) -> int:
    value = _given(raw)
    if value is None:
        return DEFAULT_LIMIT
    expected = f"a whole number from 1 to {MAX_LIMIT}"
    try:
        limit = int(value)
    except ValueError:
        raise invalid("limit", value, expected) from None
    if not 1 <= limit <= MAX_LIMIT:
        raise invalid("limit", value, expected)
    return limit


def parse_q(raw: str | None) -> str | None:
    value = _given(raw)
    if value is not None and len(value) > MAX_Q_LENGTH:
        raise invalid("q", value, f"at most {MAX_Q_LENGTH} characters")
    return value


def encode_cursor(last_number: str) -> str:
    """Opaque to callers: the last number of a page, base64url without padding."""
    return base64.urlsafe_b64encode(last_number.encode()).rstrip(b"=").decode()


def decode_cursor(raw: str | None) -> str | None:
    value = _given(raw)
    if value is None:
        return None
    expected = "a next_cursor value from a previous page"
    try:
        padded = value + "=" * (-len(value) % 4)
        number = base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii")
    except (binascii.Error, UnicodeError, ValueError):
        raise invalid("cursor", value, expected) from None
    # Every mirrored number is digits only; anything else was not made by encode_cursor.
    if not (number.isascii() and number.isdigit() and len(number) <= 20):
        raise invalid("cursor", value, expected)
    return number


def parse_number(raw: str) -> str:
    """Any common written form (``+49 151 702 648 38``, ``004915170264838``) as digits.

    Lenient on purpose: seven hands out numbers that libphonenumber's range data calls
    possible but not valid, and such a number must still be found (see app.lib.phone).
    """
    try:
        return normalize_number(raw, strict=False)
    except InvalidPhoneNumber as exc:
        raise InvalidInput(
            f"invalid number {raw[:40]!r}: {exc.reason}",
            code="invalid_number",
            details={"parameter": "number", "expected": "a phone number such as +4915170264838"},
        ) from None


def parse_flag(raw: str | None, parameter: str) -> bool | None:
    """``true``/``false`` (also ``1``/``0``, ``yes``/``no``); absent means "don't care"."""
    value = _given(raw)
    if value is None:
        return None
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise invalid(parameter, value, "true or false")


def number_query(
    *,
    country: str | None = None,
    feature: Iterable[str] | None = None,
    tenant: str | None = None,
    pool: str | None = None,
    state: str | None = None,
    q: str | None = None,
    limit: str | None = None,
    cursor: str | None = None,
) -> NumberQuery:
    return NumberQuery(
        country=parse_country(country),
        features=parse_features(feature),
        tenant=parse_uuid(tenant, "tenant"),
        pool=parse_uuid(pool, "pool"),
        state=parse_state(state),
        q=parse_q(q),
        limit=parse_limit(limit),
        after=decode_cursor(cursor),
    )
