"""Phone number normalization: one spelling (seven's digits) for every input form."""

from __future__ import annotations

import pytest

from app.lib.phone import (
    InvalidPhoneNumber,
    is_valid_number,
    normalize_number,
    region_of,
    to_international,
)


@pytest.mark.parametrize(
    "text",
    [
        "+49 151 702 648 38",
        "004915170264838",
        "4915170264838",
        " +49 (151) 702-648-38 ",
        "+49.151.70264838",
    ],
)
def test_all_input_forms_give_seven_digits(text: str) -> None:
    assert normalize_number(text) == "4915170264838"


def test_other_countries_and_italian_leading_zero() -> None:
    assert normalize_number("+45 23 85 48 18") == "4523854818"
    # Italian landlines keep their leading 0 after the country code.
    assert normalize_number("+39 06 1234 5678") == "390612345678"


def test_national_format_needs_a_region() -> None:
    with pytest.raises(InvalidPhoneNumber, match="start with \\+ or 00"):
        normalize_number("0151 70264838")
    assert normalize_number("0151 70264838", default_region="DE") == "4915170264838"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("abc", "only contain digits"),
        ("+49 151 abc", "only contain digits"),
        ("123", "too short"),
        ("+999 1234567", "unknown country code"),
        ("+49 1517026483812345678", "too long"),
    ],
)
def test_impossible_numbers_raise_readable_errors(text: str, reason: str) -> None:
    with pytest.raises(InvalidPhoneNumber) as info:
        normalize_number(text)
    assert reason in str(info.value)
    assert isinstance(info.value, ValueError)


def test_strict_rejects_possible_but_unassigned_lenient_accepts() -> None:
    # seven's own documentation uses this number; libphonenumber says "not valid".
    with pytest.raises(InvalidPhoneNumber, match="not an assigned number range in DE"):
        normalize_number("49176123456789")
    assert normalize_number("49176123456789", strict=False) == "49176123456789"


def test_is_valid_number() -> None:
    assert is_valid_number("+49 151 702 648 38")
    assert not is_valid_number("12")
    assert not is_valid_number("49176123456789")
    assert is_valid_number("49176123456789", strict=False)


def test_non_string_input_is_invalid() -> None:
    with pytest.raises(InvalidPhoneNumber):
        normalize_number(4915170264838)  # type: ignore[arg-type]


def test_region_of_and_display_form() -> None:
    assert region_of("4915170264838") == "DE"
    assert region_of("4523854818") == "DK"
    assert region_of("garbage") is None
    assert to_international("4523854818") == "+45 23 85 48 18"
    assert to_international("nope") == "nope"
