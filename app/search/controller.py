"""``GET /v1/available-numbers``: thin HTTP over the search service."""

from __future__ import annotations

from typing import Annotated

from arq import ArqRedis
from litestar import get

from app.lib.errors import error_responses
from app.lib.params import COUNTRY, flag_parameter, parse_country, parse_flag
from app.search.schemas import AvailableNumbers, SearchQuery
from app.search.service import search_available
from app.settings import Settings
from app.seven.client import SevenClient


@get(
    "/available-numbers",
    summary="Live search for numbers to order at seven (briefly cached)",
    description=(
        "Each item is seven's AvailableNumber plus `monthly_equivalent`: what each payment "
        "interval costs per month (monthly: basic_charge; annually: basic_charge / 12)."
    ),
    tags=["numbers"],
    responses=error_responses(502, 503, 504),
)
async def available_numbers(
    seven: SevenClient,
    queue: ArqRedis,
    settings: Settings,
    country: Annotated[str | None, COUNTRY] = None,
    features_sms: Annotated[str | None, flag_parameter("true: must have SMS")] = None,
    features_a2p_sms: Annotated[str | None, flag_parameter("true: must have A2P SMS")] = None,
    features_voice: Annotated[str | None, flag_parameter("true: must have voice")] = None,
) -> AvailableNumbers:
    query = SearchQuery(
        country=parse_country(country),
        sms=parse_flag(features_sms, "features_sms"),
        a2p_sms=parse_flag(features_a2p_sms, "features_a2p_sms"),
        voice=parse_flag(features_voice, "features_voice"),
    )
    # The queue's connection is the process's Redis client; the cache shares it.
    items = await search_available(seven, queue, settings.search_cache_seconds, query)
    return AvailableNumbers(items=items)
