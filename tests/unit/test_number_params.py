"""The parsers behind the number reads: clean values, or a 422 that names the parameter."""

from __future__ import annotations

import uuid

import pytest

from app.lib.errors import InvalidInput
from app.numbers.params import (
    DEFAULT_LIMIT,
    NumberQuery,
    decode_cursor,
    encode_cursor,
    number_query,
    parse_country,
    parse_features,
    parse_flag,
    parse_limit,
    parse_number,
    parse_state,
)
from app.search.schemas import SearchQuery


def rejects(parameter: str) -> pytest.RaisesExc[InvalidInput]:
    return pytest.raises(InvalidInput, match=f"invalid {parameter}")


def test_nothing_given_is_the_default_query() -> None:
    assert number_query() == NumberQuery()
    assert number_query(country="", state=" ", limit="", cursor="") == NumberQuery()
    assert NumberQuery().limit == DEFAULT_LIMIT


def test_country_is_iso_alpha_2_in_any_case() -> None:
    assert parse_country("de") == "DE"
    assert parse_country(" DK ") == "DK"
    for bad in ("XX", "DEU", "D", "49", "Germany"):
        with rejects("country") as caught:
            parse_country(bad)
        assert caught.value.code == "invalid_country"
        assert caught.value.details["parameter"] == "country"


def test_features_are_repeatable_or_comma_separated_without_duplicates() -> None:
    assert parse_features(None) == ()
    assert parse_features(["sms", "VOICE"]) == ("sms", "voice")
    assert parse_features(["sms,a2p_sms", "sms"]) == ("sms", "a2p_sms")
    with rejects("feature"):
        parse_features(["sms", "fax"])


def test_state_is_one_of_the_five() -> None:
    assert parse_state("Deleting") == "deleting"
    with rejects("state"):
        parse_state("gone")


@pytest.mark.parametrize("bad", ["0", "501", "-1", "1.5", "ten"])
def test_limit_is_1_to_500(bad: str) -> None:
    assert parse_limit(None) == 50
    assert parse_limit("1") == 1
    assert parse_limit("500") == 500
    with rejects("limit"):
        parse_limit(bad)


def test_cursor_round_trips_and_rejects_anything_it_did_not_make() -> None:
    assert decode_cursor(encode_cursor("4915170264838")) == "4915170264838"
    assert "=" not in encode_cursor("49151")  # URL-safe, no padding
    for bad in ("***", encode_cursor("abc"), encode_cursor("1" * 21), "\u00e9"):
        with rejects("cursor"):
            decode_cursor(bad)


def test_uuid_filters() -> None:
    tenant = uuid.uuid4()
    assert number_query(tenant=str(tenant)).tenant == tenant
    with rejects("pool"):
        number_query(pool="not-a-uuid")


@pytest.mark.parametrize(
    "written", ["+49 151 702 648 38", "004915170264838", "4915170264838", "+49 (151) 702-648-38"]
)
def test_numbers_in_any_written_form(written: str) -> None:
    assert parse_number(written) == "4915170264838"


def test_a_malformed_number_names_the_parameter() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_number("0151 702")
    assert caught.value.code == "invalid_number"
    assert caught.value.details["parameter"] == "number"


def test_flags_and_the_search_cache_key() -> None:
    assert parse_flag(None, "features_sms") is None
    assert parse_flag("TRUE", "features_sms") is True
    assert parse_flag("0", "features_sms") is False
    with rejects("features_sms"):
        parse_flag("maybe", "features_sms")
    same = SearchQuery(country="DE", sms=True)
    assert same.cache_key() == SearchQuery(country="DE", sms=True).cache_key()
    assert same.cache_key() != SearchQuery(country="DE", sms=False).cache_key()
    assert same.cache_key() != SearchQuery(country="DE").cache_key()
