"""``GET /v1/available-numbers``: thin HTTP over the search service."""

from __future__ import annotations

from typing import Annotated

from arq import ArqRedis
from litestar import get

from app.lib.error_answers import error_responses
from app.lib.params import parse_country, parse_digits, parse_feature_filter, parse_number_prefix
from app.lib.query_parameters import (
    COUNTRY,
    FEATURE,
    NUMBER_CONTAINS,
    NUMBER_PREFIX,
    feature_flag_parameter,
)
from app.search.schemas import AvailableNumbers, SearchQuery
from app.search.service import matching, search_available
from app.settings import Settings
from app.seven.client import SevenClient


@get(
    "/available-numbers",
    summary="Live search for numbers to order at seven (briefly cached)",
    description=(
        "Each item is seven's AvailableNumber plus `monthly_equivalent`: what each payment "
        "interval costs per month (monthly: basic_charge; annually: basic_charge / 12). "
        "`prefix` and `contains` are applied here, not at seven (whose search has no such "
        "filter): they narrow the numbers seven returned for the other parameters (the "
        "same cached answer), so they find only among what seven offers on that page."
    ),
    tags=["numbers"],
    responses=error_responses(502, 503, 504),
)
async def available_numbers(
    seven: SevenClient,
    queue: ArqRedis,
    settings: Settings,
    country: Annotated[str | None, COUNTRY] = None,
    features_sms: Annotated[str | None, feature_flag_parameter("sms")] = None,
    features_a2p_sms: Annotated[str | None, feature_flag_parameter("a2p_sms")] = None,
    features_voice: Annotated[str | None, feature_flag_parameter("voice")] = None,
    # The spelling GET /v1/numbers had first; filters the same as features_<name>=true.
    feature: Annotated[list[str] | None, FEATURE] = None,
    prefix: Annotated[str | None, NUMBER_PREFIX] = None,
    contains: Annotated[str | None, NUMBER_CONTAINS] = None,
) -> AvailableNumbers:
    starts, digits = parse_number_prefix(prefix), parse_digits(contains, "contains")
    wanted = parse_feature_filter(
        feature, {"sms": features_sms, "a2p_sms": features_a2p_sms, "voice": features_voice}
    )
    query = SearchQuery(
        country=parse_country(country),
        sms=wanted.get("sms"),
        a2p_sms=wanted.get("a2p_sms"),
        voice=wanted.get("voice"),
    )
    # The queue's connection is the process's Redis client; the cache shares it.
    items = await search_available(seven, queue, settings.search_cache_seconds, query)
    return AvailableNumbers(items=matching(items, starts, digits))
