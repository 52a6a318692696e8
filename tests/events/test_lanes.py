"""Delivery lanes: one HTTP client per POST in flight, kept for the next ones."""

from __future__ import annotations

from app.events.delivery import Lanes


async def test_each_post_in_flight_has_a_client_of_its_own_and_clients_are_kept() -> None:
    lanes = Lanes()
    async with lanes.client() as first, lanes.client() as second:
        assert first is not second
    async with lanes.client() as again:
        assert again in (first, second)
    await lanes.aclose()
    assert first.is_closed and second.is_closed
