"""Searching seven's available numbers, with each distinct query cached in Redis.

seven's list changes slowly and every search is a round trip to it, so an answer is
kept for ``search_cache_seconds``: the same query again within that time does not
reach seven. Redis is only a courier here: when it is down the search still works,
uncached.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec
import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.search.schemas import AvailableNumberOut, SearchQuery, available_out
from app.seven.client import SevenClient
from app.seven.types import AvailableFees, AvailableNumber, IntervalFees, PaymentInterval

log = structlog.get_logger(__name__)

_ENCODE = msgspec.json.Encoder()
_DECODE = msgspec.json.Decoder(list[AvailableNumberOut])


async def search_available(
    seven: SevenClient, cache: Redis, ttl_seconds: int, query: SearchQuery
) -> list[AvailableNumberOut]:
    key = query.cache_key()
    cached = await _cached(cache, key)
    if cached is not None:
        return _DECODE.decode(cached)
    found = await seven.search_available(
        query.country, sms=query.sms, a2p_sms=query.a2p_sms, voice=query.voice
    )
    items = [available_out(number) for number in found]
    await _store(cache, key, _ENCODE.encode(items), ttl_seconds)
    return items


async def fitting_offer(seven: SevenClient, query: SearchQuery) -> list[AvailableNumber]:
    """seven's offer for ``query`` now (not from the cache: for picking numbers to order),
    the numbers that fit it only."""
    found = await seven.search_available(
        query.country, sms=query.sms, a2p_sms=query.a2p_sms, voice=query.voice
    )
    return [number for number in found if query.fits(number)]


def matching(
    items: list[AvailableNumberOut], prefix: str | None, contains: str | None
) -> list[AvailableNumberOut]:
    """The offered numbers (digits, country code first) starting with ``prefix`` and
    containing ``contains``. seven's search has no such filter: this narrows the page(s)
    seven returned (and the cache holds), it never asks seven for more."""
    return [
        item
        for item in items
        if (prefix is None or item.number.startswith(prefix))
        and (contains is None or contains in item.number)
    ]


async def offered_fees(
    seven: SevenClient, cache: Redis, ttl_seconds: int, number: str, country: str
) -> AvailableFees | None:
    """seven's fees for ``number`` (digits) if seven offers it now, else None: its
    country's search, cached like any."""
    found = await search_available(seven, cache, ttl_seconds, SearchQuery(country=country))
    for item in found:
        if item.number == number:
            return msgspec.convert(msgspec.to_builtins(item.fees), AvailableFees, strict=False)
    return None


async def _cached(cache: Redis, key: str) -> bytes | None:
    try:
        value: bytes | None = await cache.get(key)
    except RedisError as exc:
        log.warning("search_cache_unavailable", error_type=type(exc).__name__)
        return None
    return value


async def _store(cache: Redis, key: str, value: bytes, ttl_seconds: int) -> None:
    try:
        await cache.set(key, value, ex=ttl_seconds)
    except RedisError as exc:
        log.warning("search_cache_unavailable", error_type=type(exc).__name__)


async def dearest_offered_fees(
    seven: SevenClient,
    cache: Redis,
    ttl_seconds: int,
    country: str,
    features: Iterable[str],
    interval: PaymentInterval,
) -> IntervalFees | None:
    """seven's dearest fees for ``interval`` (setup and basic charge together) among the
    numbers it offers now in ``country`` with every one of ``features``: the price of a
    number not yet picked (a bulk order's). None when it offers none."""
    query = SearchQuery.wanting(country, features)
    prices = [
        msgspec.convert(
            msgspec.to_builtins(
                item.fees.monthly if interval == PaymentInterval.MONTHLY else item.fees.annually
            ),
            IntervalFees,
            strict=False,
        )
        for item in await search_available(seven, cache, ttl_seconds, query)
        if query.fits(item)
    ]
    return max(prices, key=lambda fees: fees.setup + fees.basic_charge, default=None)
