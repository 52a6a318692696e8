"""Phone numbers as seven wants them: digits only, country code first, no ``+``.

People type ``+49 151 702 648 38``, ``004915170264838`` or ``4915170264838``; seven
sends and expects ``4915170264838``. Everything that crosses into or out of the
service goes through :func:`normalize_number`, so one number has one spelling in the
database, in job payloads and on the wire.

Two strictness levels, on purpose:

* ``strict=True`` (the default, for input from people): the number must be *valid*
  according to libphonenumber's metadata (a real, assigned number range).
* ``strict=False`` (for numbers seven itself handed us): the number only has to be
  *possible* (plausible length for its country). libphonenumber's range metadata lags
  behind carriers, and seven's own documentation uses ``49176123456789``, which
  libphonenumber calls possible but not valid. The seven client must never refuse to
  order or delete a number seven offered just because our metadata is older.
"""

from __future__ import annotations

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber

# Characters people put between digits; anything else (letters, ...) is an error.
SEPARATORS = str.maketrans("", "", " \t-./()\u00a0")


class InvalidPhoneNumber(ValueError):
    """The text is not a phone number we can send to seven (message says why)."""

    def __init__(self, text: str, reason: str) -> None:
        self.text = text
        self.reason = reason
        super().__init__(f"{text!r} is not a valid phone number: {reason}")


def number_prefix(text: str) -> str:
    """The first digits of a number as seven writes it (country code first):
    ``+49 151``, ``0049151`` and ``49151`` are all ``49151``. A national start (``0151``)
    is refused, as :func:`normalize_number` refuses it without a region."""
    compact = text.strip().translate(SEPARATORS)
    if compact.startswith("00"):
        compact = compact[2:]
    elif compact.startswith("+"):
        compact = compact[1:]
    elif compact.startswith("0"):
        raise InvalidPhoneNumber(text, "national format: start with + or 00 and the country code")
    if not (compact.isascii() and compact.isdigit()):
        raise InvalidPhoneNumber(text, "it may only contain digits, spaces and a leading +")
    return compact


def _parse(text: str, default_region: str | None) -> PhoneNumber:
    """Parse ``text`` into a PhoneNumber, treating bare digits as international.

    Bare digits without ``+``/``00`` are seven's own format (country code first), so
    they are read as international unless they start with a single ``0`` (a national
    trunk prefix) and a ``default_region`` was given.
    """
    if not isinstance(text, str):
        raise InvalidPhoneNumber(repr(text), "expected a string")
    compact = text.strip().translate(SEPARATORS)
    if not compact:
        raise InvalidPhoneNumber(text, "it is empty")
    if compact.startswith("00"):
        candidate = "+" + compact[2:]
    elif compact.startswith("+"):
        candidate = compact
    elif compact.startswith("0"):
        if not default_region:
            reason = "national format: start with + or 00 and the country code"
            raise InvalidPhoneNumber(text, reason)
        candidate = compact
    else:
        candidate = "+" + compact
    if not candidate.lstrip("+").isdigit():
        raise InvalidPhoneNumber(text, "it may only contain digits, spaces and a leading +")
    try:
        return phonenumbers.parse(candidate, default_region)
    except NumberParseException as exc:
        raise InvalidPhoneNumber(text, _parse_reason(exc)) from None


def _parse_reason(exc: NumberParseException) -> str:
    reasons = {
        NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
        NumberParseException.NOT_A_NUMBER: "it is not a phone number",
        NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
        NumberParseException.TOO_SHORT_NSN: "too short",
        NumberParseException.TOO_LONG: "too long",
    }
    return reasons.get(exc.error_type, "it cannot be parsed")


def _check(text: str, parsed: PhoneNumber, strict: bool) -> None:
    if not phonenumbers.is_possible_number(parsed):
        reason = phonenumbers.is_possible_number_with_reason(parsed)
        why = {
            phonenumbers.ValidationResult.TOO_SHORT: "too short",
            phonenumbers.ValidationResult.TOO_LONG: "too long",
            phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "unknown country code",
        }.get(reason, "impossible length for its country")
        raise InvalidPhoneNumber(text, why)
    if strict and not phonenumbers.is_valid_number(parsed):
        region = phonenumbers.region_code_for_number(parsed) or "its country"
        raise InvalidPhoneNumber(text, f"not an assigned number range in {region}")


def normalize_number(text: str, *, strict: bool = True, default_region: str | None = None) -> str:
    """Return ``text`` as digits, country code first, no ``+`` (``4915170264838``).

    Raises :class:`InvalidPhoneNumber` with a readable reason when the text cannot be
    parsed, has an impossible length, or (``strict``) is not a valid number.
    """
    parsed = _parse(text, default_region)
    _check(text, parsed, strict)
    # E.164 without the "+"; E.164 formatting keeps Italian leading zeros.
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)[1:]


def is_valid_number(text: str, *, strict: bool = True) -> bool:
    """True when :func:`normalize_number` would accept ``text``."""
    try:
        normalize_number(text, strict=strict)
    except InvalidPhoneNumber:
        return False
    return True


def region_of(digits: str) -> str | None:
    """ISO 3166-1 alpha-2 region of a number (``"DE"``), or None when unknown."""
    try:
        parsed = _parse(digits, None)
    except InvalidPhoneNumber:
        return None
    region = phonenumbers.region_code_for_number(parsed)
    return None if region in (None, "ZZ", "001") else region


def to_international(digits: str) -> str:
    """Human form for display (``+49 1517 0264838``); the input is returned on failure."""
    try:
        parsed = _parse(digits, None)
    except InvalidPhoneNumber:
        return digits
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
