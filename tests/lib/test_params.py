"""The parameter parsers: clean values, or a 422 that names the parameter, in one wording."""

from __future__ import annotations

import uuid

import pytest

from app.lib.errors import InvalidInput
from app.lib.params import (
    invalid,
    number_filter,
    parse_choice,
    parse_count,
    parse_country,
    parse_features,
    parse_flag,
    parse_number,
    parse_text,
    parse_uuid,
)
from app.search.schemas import SearchQuery


def rejects(parameter: str) -> pytest.RaisesExc[InvalidInput]:
    return pytest.raises(InvalidInput, match=f"invalid {parameter}")


def test_one_wording_and_shape_for_every_bad_value() -> None:
    error = invalid("limit", "x" * 100, "a whole number from 1 to 5")
    assert (error.status_code, error.code) == (422, "invalid_limit")
    assert error.details == {"parameter": "limit", "expected": "a whole number from 1 to 5"}
    assert error.message == f"invalid limit {'x' * 60!r}: expected a whole number from 1 to 5"
    because = invalid("sms_forward[0]", "1", "a phone number", reason="too short", code="x")
    assert because.code == "x"
    assert because.message.endswith("expected a phone number (too short)")


def test_absent_and_empty_mean_not_given() -> None:
    for parse in (parse_country, lambda raw: parse_uuid(raw, "pool")):
        assert parse(None) is None
        assert parse("") is None
        assert parse("  ") is None
    assert parse_count("", "limit", default=7, maximum=9) == 7
    assert parse_features(["", ","]) == ()
    assert number_filter("") is None


def test_country_is_iso_alpha_2_of_a_country_with_numbers_in_any_case() -> None:
    assert parse_country("de") == "DE"
    assert parse_country(" DK ") == "DK"
    # XX and ZZ are two letters, but no country's.
    for bad in ("XX", "ZZ", "DEU", "D", "49", "Germany"):
        with rejects("country") as caught:
            parse_country(bad)
        assert caught.value.code == "invalid_country"
        assert caught.value.details["parameter"] == "country"


def test_features_are_repeatable_or_comma_separated_in_one_order() -> None:
    assert parse_features(None) == ()
    assert parse_features(["voice", "SMS"]) == ("sms", "voice")
    assert parse_features(["voice,a2p_sms", "sms", "voice"]) == ("sms", "a2p_sms", "voice")
    with rejects("feature"):
        parse_features(["sms", "fax"])
    # A body's list is named as the body names it.
    with rejects("features") as caught:
        parse_features(["fax"], "features")
    assert caught.value.code == "invalid_features"


def test_a_choice_is_one_of_them_in_any_case() -> None:
    assert parse_choice("Deleting", "state", ("active", "deleting")) == "deleting"
    with rejects("state") as caught:
        parse_choice("gone", "state", ("active", "deleting"))
    assert caught.value.details["expected"] == "one of active, deleting"


@pytest.mark.parametrize("bad", ["0", "501", "-1", "+5", "1.5", "ten", "\u00b2", "1_0"])
def test_a_count_is_a_whole_number_from_1_to_its_maximum(bad: str) -> None:
    assert parse_count(None, "limit", default=50, maximum=500) == 50
    assert parse_count("1", "limit", default=50, maximum=500) == 1
    assert parse_count(" 500 ", "limit", default=50, maximum=500) == 500
    with rejects("limit"):
        parse_count(bad, "limit", default=50, maximum=500)


def test_uuid() -> None:
    tenant = uuid.uuid4()
    assert parse_uuid(str(tenant), "tenant") == tenant
    with rejects("pool"):
        parse_uuid("not-a-uuid", "pool")


def test_text_has_a_maximum_length() -> None:
    assert parse_text(" abc ", "q", max_length=3) == "abc"
    with rejects("q"):
        parse_text("abcd", "q", max_length=3)


@pytest.mark.parametrize(
    "written", ["+49 151 702 648 38", "004915170264838", "4915170264838", "+49 (151) 702-648-38"]
)
def test_numbers_in_any_written_form(written: str) -> None:
    assert parse_number(written) == "4915170264838"
    assert number_filter(written) == "4915170264838"


def test_a_malformed_number_names_the_parameter_and_says_why() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_number("0151 702")
    assert caught.value.code == "invalid_number"
    assert caught.value.details["parameter"] == "number"
    assert "national format" in caught.value.message
    # Strict: a possible number outside every assigned range, which seven may still hand out.
    assert parse_number("49176123456789") == "49176123456789"
    with pytest.raises(InvalidInput) as strict:
        parse_number("49176123456789", "sms_forward[2]", strict=True)
    assert strict.value.code == "invalid_number"
    assert strict.value.details["parameter"] == "sms_forward[2]"


def test_flags() -> None:
    assert parse_flag(None, "features_sms") is None
    assert parse_flag("TRUE", "features_sms") is True
    assert parse_flag("0", "features_sms") is False
    assert parse_flag("no", "features_sms") is False
    with rejects("features_sms"):
        parse_flag("maybe", "features_sms")


def test_the_search_cache_key_tells_flags_apart() -> None:
    same = SearchQuery(country="DE", sms=True)
    assert same.cache_key() == SearchQuery(country="DE", sms=True).cache_key()
    assert same.cache_key() != SearchQuery(country="DE", sms=False).cache_key()
    assert same.cache_key() != SearchQuery(country="DE").cache_key()
