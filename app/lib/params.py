"""Query, path and body parameters: each one's rule, its error and its documentation, once.

Handlers take query parameters as text and pass them through these parsers, so a bad value
answers 422 whose code is ``invalid_<parameter>`` and whose details name the parameter and
what it expects, in the same words on every route (Litestar's own validation answers
``validation_error``; app.lib.validation says its problems in these words too). Absent
and empty (``?country=``) both mean "not given". app.lib.query_parameters documents each
parameter in the OpenAPI schema as its parser here reads it: the handler's annotation
stays ``str | None``, the schema says integer, UUID, one of, ...
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Annotated, Literal, get_args

import msgspec
import phonenumbers

from app.lib.errors import InvalidInput
from app.lib.phone import SEPARATORS, InvalidPhoneNumber, normalize_number, number_prefix

Feature = Literal["sms", "a2p_sms", "voice"]
FEATURES: tuple[Feature, ...] = get_args(Feature)
# ISO 3166-1 alpha-2 codes that have telephone numbers: a number can only live in one.
COUNTRIES = frozenset(phonenumbers.SUPPORTED_REGIONS)
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})
_SHOWN = 60  # characters of a bad value repeated in the message

EXPECTED_COUNTRY = "an ISO 3166-1 alpha-2 country code such as DE"
EXPECTED_NUMBER = "a phone number such as +4915170264838"
#: E.164's longest number; no part of one is longer.
MAX_NUMBER_DIGITS = 15
EXPECTED_PREFIX = (
    f"the first 1 to {MAX_NUMBER_DIGITS} digits of a number, country code first, such as +49151"
)
EXPECTED_DIGITS = f"1 to {MAX_NUMBER_DIGITS} digits, such as 1234"
#: A body's country, checked by :func:`parse_country` (a msgspec pattern would answer
#: ``validation_error``, not ``invalid_country``).
Country = Annotated[str, msgspec.Meta(description="ISO 3166-1 alpha-2", examples=["DE"])]


def invalid(
    parameter: str,
    value: object,
    expected: str,
    *,
    reason: str | None = None,
    code: str | None = None,
) -> InvalidInput:
    """The 422 for a bad ``value`` of ``parameter``: ``invalid_<parameter>`` unless ``code``."""
    why = f" ({reason})" if reason else ""
    return InvalidInput(
        f"invalid {parameter} {str(value)[:_SHOWN]!r}: expected {expected}{why}",
        code=code or f"invalid_{parameter}",
        details={"parameter": parameter, "expected": expected},
    )


def given(raw: str | None) -> str | None:
    """The value of a parameter, or None when it is absent or empty."""
    if raw is None:
        return None
    return raw.strip() or None


def parse_country(raw: str | None, parameter: str = "country") -> str | None:
    value = given(raw)
    if value is None:
        return None
    code = value.upper()
    if code not in COUNTRIES:
        raise invalid(parameter, value, EXPECTED_COUNTRY)
    return code


def parse_features(raw: Iterable[str] | None, parameter: str = "feature") -> tuple[str, ...]:
    """Repeatable (``feature=sms&feature=voice``), comma-separated too; in ``FEATURES`` order."""
    found = set()
    for item in raw or ():
        for part in item.split(","):
            name = part.strip().lower()
            if name and name not in FEATURES:
                raise invalid(parameter, part.strip(), f"any of {', '.join(FEATURES)}")
            found.add(name)
    return tuple(name for name in FEATURES if name in found)


def parse_feature_filter(
    feature: Iterable[str] | None, flags: Mapping[str, str | None]
) -> dict[str, bool]:
    """Both spellings of a feature filter as one: seven's ``features_<name>=true|false``
    (``flags``, by feature name) and the list's ``feature=<name>`` (the same as
    ``features_<name>=true``). Each feature given maps to True (must have it) or False
    (must not); one absent is "don't care". A feature asked for both ways with opposite
    answers is a 422 that names both parameters."""
    wanted: dict[str, bool] = dict.fromkeys(parse_features(feature), True)
    for name in FEATURES:
        flag = parse_flag(flags.get(name), f"features_{name}")
        if flag is None:
            continue
        if wanted.get(name, flag) != flag:
            raise invalid(
                f"features_{name}",
                flags.get(name),
                f"the same as feature={name} says (must have it)",
                reason=f"feature={name} and features_{name}=false contradict each other",
            )
        wanted[name] = flag
    return {name: wanted[name] for name in FEATURES if name in wanted}


def parse_choice(raw: str | None, parameter: str, choices: Sequence[str]) -> str | None:
    """One of ``choices`` (all lower case), in any case."""
    value = given(raw)
    if value is None:
        return None
    if value.lower() not in choices:
        raise invalid(parameter, value, f"one of {', '.join(choices)}")
    return value.lower()


def parse_uuid(raw: str | None, parameter: str) -> uuid.UUID | None:
    value = given(raw)
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise invalid(parameter, value, "a UUID") from None


def parse_flag(raw: str | None, parameter: str) -> bool | None:
    """``true``/``false`` (also ``1``/``0``, ``yes``/``no``); None when not given."""
    value = given(raw)
    if value is None:
        return None
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise invalid(parameter, value, "true or false")


def parse_count(raw: str | None, parameter: str, *, default: int, maximum: int) -> int:
    """A whole number from 1 to ``maximum`` (a page's ``limit``, ...), written in digits."""
    value = given(raw)
    if value is None:
        return default
    if not (value.isascii() and value.isdigit() and 1 <= int(value) <= maximum):
        raise invalid(parameter, value, f"a whole number from 1 to {maximum}")
    return int(value)


EXPECTED_AMOUNT = 'EUR as a decimal string >= 0 with at most 4 places, such as "50.00"'
_AMOUNT = re.compile(r"(0|[1-9][0-9]{0,7})(\.[0-9]{1,4})?", re.ASCII)


def parse_amount(raw: str, parameter: str) -> Decimal:
    """An amount of EUR a caller sets (a budget): what the mirror's money columns hold."""
    if not _AMOUNT.fullmatch(raw):
        raise invalid(parameter, raw, EXPECTED_AMOUNT)
    return Decimal(raw)


def parse_text(raw: str | None, parameter: str, *, max_length: int) -> str | None:
    value = given(raw)
    if value is not None and len(value) > max_length:
        raise invalid(parameter, value, f"at most {max_length} characters")
    return value


def parse_number(raw: str, parameter: str = "number", *, strict: bool = False) -> str:
    """Any common written form (``+49 151 702 648 38``, ``004915170264838``) as digits.

    Lenient by default: seven hands out numbers that libphonenumber's range data calls
    possible but not valid, and such a number must still be found (see app.lib.phone).
    ``strict`` for numbers people give us to order or forward to. The code is always
    ``invalid_number``, also for a list entry such as ``sms_forward[0]``.
    """
    try:
        return normalize_number(raw, strict=strict)
    except InvalidPhoneNumber as error:
        raise invalid(
            parameter, raw, EXPECTED_NUMBER, reason=error.reason, code="invalid_number"
        ) from None


def parse_number_prefix(raw: str | None, parameter: str = "prefix") -> str | None:
    """The start of a number, written as a number is (``+49 151``, ``0049151``, ``49151``),
    as digits country code first; None when not given."""
    value = given(raw)
    if value is None:
        return None
    try:
        digits = number_prefix(value)
    except InvalidPhoneNumber as error:
        raise invalid(parameter, value, EXPECTED_PREFIX, reason=error.reason) from None
    if len(digits) > MAX_NUMBER_DIGITS:
        raise invalid(parameter, value, EXPECTED_PREFIX)
    return digits


def parse_digits(raw: str | None, parameter: str) -> str | None:
    """A run of digits inside a number (separators such as spaces dropped); None when not
    given."""
    value = given(raw)
    if value is None:
        return None
    digits = value.translate(SEPARATORS)
    if not (digits.isascii() and digits.isdigit() and len(digits) <= MAX_NUMBER_DIGITS):
        raise invalid(parameter, value, EXPECTED_DIGITS)
    return digits


def number_filter(raw: str | None) -> str | None:
    """The optional ``number`` query parameter of a list."""
    value = given(raw)
    return None if value is None else parse_number(value)
