"""The one money format: at least two places, no trailing zeros beyond, no precision lost."""

from __future__ import annotations

import re
from decimal import Decimal

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.lib.money import MONEY_PATTERN, Money, _reformatted, money, optional_money


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        ("4.9", "4.90"),
        ("118.8", "118.80"),
        ("0", "0.00"),
        ("0E-4", "0.00"),
        ("-0", "0.00"),
        ("-0.00", "0.00"),
        ("4.9000", "4.90"),
        ("4.90", "4.90"),
        ("19", "19.00"),
        ("1E+1", "10.00"),
        ("0.0075", "0.0075"),
        ("0.0100", "0.01"),
        ("0.0001", "0.0001"),
        ("238.8000", "238.80"),
        ("1234567.5", "1234567.50"),
        ("-4.9", "-4.90"),
        ("-0.0075", "-0.0075"),
    ],
)
def test_money_table(amount: str, text: str) -> None:
    assert money(Decimal(amount)) == text


@given(st.decimals(min_value=-(10**9), max_value=10**9, places=6, allow_nan=False))
def test_money_keeps_the_amount_and_writes_the_one_format(amount: Decimal) -> None:
    text = money(amount)
    assert re.fullmatch(MONEY_PATTERN, text)
    assert Decimal(text) == amount
    places = len(text.partition(".")[2])
    assert places == max(2, -amount.normalize().as_tuple().exponent)  # type: ignore[operator]


def test_negative_zero_is_zero_when_first_formatted() -> None:
    # Formats are remembered by value and -0 == 0: a 0 met first would answer for -0.
    _reformatted.cache_clear()
    assert money(Decimal("-0.0000")) == "0.00"


def test_cents_are_written_as_they_are() -> None:
    # Report figures are rounded to cents already: str() is their format, no more work.
    _reformatted.cache_clear()
    assert [money(Decimal(v)) for v in ("4.90", "0.00", "118.80")] == ["4.90", "0.00", "118.80"]
    assert _reformatted.cache_info().misses == 0


def test_not_a_number_is_refused() -> None:
    for value in ("NaN", "Infinity"):
        with pytest.raises(ValueError, match="not an amount"):
            money(Decimal(value))


def test_none_stays_none() -> None:
    assert optional_money(None) is None
    assert optional_money(Decimal("4.9")) == "4.90"


def test_the_type_refuses_other_forms_when_decoded() -> None:
    assert msgspec.json.decode(b'"4.90"', type=Money) == "4.90"
    for bad in (b'"4.9"', b'"4.900"', b'"04.90"', b"4.9"):
        with pytest.raises(msgspec.ValidationError):
            msgspec.json.decode(bad, type=Money)
