"""SevenClient against the sandbox over real HTTP: every method and the scripted faults.

The fault tests check the sandbox's ledger too: an order whose answer was lost after
the sandbox committed it *did* happen, which is why an unknown answer to a write is
settled by reading seven before the worker orders again.
"""

from __future__ import annotations

import traceback
from collections.abc import AsyncIterator, Awaitable
from decimal import Decimal
from typing import Any, TypeVar

import pytest

from app.seven import (
    InsufficientCredit,
    NumberNotOnAccount,
    OrderRefused,
    OutcomeUnknown,
    RateLimited,
    SevenAuthError,
    SevenClient,
    SevenError,
    SevenServerError,
)
from app.seven.types import AvailableNumber, NumberUpdate
from tests.support.sandbox import SIGNING_SECRET, SandboxProcess

E = TypeVar("E", bound=SevenError)


@pytest.fixture
async def client(fresh_sandbox: SandboxProcess) -> AsyncIterator[SevenClient]:
    async with SevenClient(
        fresh_sandbox.api_key,
        base_url=fresh_sandbox.base_url,
        connect_timeout=2,
        read_timeout=5,
        total_timeout=5,
    ) as seven:
        yield seven


async def _raised(cls: type[E], call: Awaitable[Any], key: str) -> E:
    with pytest.raises(cls) as info:
        await call
    error = info.value
    for text in (str(error), repr(error), "".join(traceback.format_exception(error))):
        assert key not in text
    return error


async def _an_available(client: SevenClient, country: str = "DE") -> AvailableNumber:
    numbers = await client.search_available(country)
    assert numbers, f"the sandbox offers no {country} numbers"
    return numbers[0]


# -- every method ---------------------------------------------------------------------


async def test_search_available_filters(client: SevenClient) -> None:
    everything = await client.search_available()
    assert {n.country for n in everything} >= {"DE", "DK"}
    german_sms = await client.search_available("de", sms=True, voice=True)
    assert german_sms
    assert all(n.country == "DE" and n.features.sms and n.features.voice for n in german_sms)
    assert all(isinstance(n.fees.monthly.basic_charge, Decimal) for n in german_sms)
    no_voice = await client.search_available("DE", voice=False)
    assert no_voice and all(not n.features.voice for n in no_voice)


async def test_order_lifecycle(client: SevenClient, fresh_sandbox: SandboxProcess) -> None:
    offer = await _an_available(client)
    await client.order("+" + offer.number, "monthly")
    assert offer.number in fresh_sandbox.ledger()

    active = await client.get_active(offer.number)
    assert active.billing.payment_interval == "monthly"
    assert active.billing.fees.basic_charge == offer.fees.monthly.basic_charge
    assert offer.number in {n.number for n in await client.list_active()}

    changes = NumberUpdate(
        friendly_name="Support line",
        sms_forward=["+49 176 1234 5678"],
        email_forward=["ops@example.com"],
        slack_forward=["https://hooks.slack.test/T1"],
    )
    updated = await client.update(offer.number, changes)
    assert updated.friendly_name == "Support line"
    assert updated.forward_sms_mo.sms.number == ["4917612345678"]
    assert updated.forward_sms_mo.email.address == ["ops@example.com"]
    assert updated.forward_sms_mo.slack is not None
    assert (updated.forward_sms_mo.slack.uri, updated.forward_sms_mo.slack.enabled) == (
        "https://hooks.slack.test/T1",
        True,
    )
    # Empty values clear every channel and the name (what a release sends).
    cleared = await client.update(
        offer.number,
        NumberUpdate(friendly_name="", sms_forward=[], email_forward=[], slack_forward=[]),
    )
    assert cleared.friendly_name == ""
    forward = cleared.forward_sms_mo
    assert (forward.sms.number, forward.sms.enabled) == ([], False)
    assert (forward.email.address, forward.email.enabled) == ([], False)
    assert forward.slack is not None and (forward.slack.uri, forward.slack.enabled) == (
        None,
        False,
    )

    # End of period: still active, now with an expiry date.
    await client.delete(offer.number, delete_immediately=False)
    assert (await client.get_active(offer.number)).expires is not None

    await client.delete(offer.number, delete_immediately=True)
    error = await _raised(
        NumberNotOnAccount, client.get_active(offer.number), fresh_sandbox.api_key
    )
    assert error.number == offer.number


async def test_ordering_twice_is_refused(
    client: SevenClient, fresh_sandbox: SandboxProcess
) -> None:
    offer = await _an_available(client)
    await client.order(offer.number, "annually")
    error = await _raised(
        OrderRefused, client.order(offer.number, "annually"), fresh_sandbox.api_key
    )
    assert error.seven_message
    assert len(fresh_sandbox.ledger()[offer.number]) == 1


async def test_unknown_number_404_and_200_error_body(
    client: SevenClient, fresh_sandbox: SandboxProcess
) -> None:
    unknown = "4915170264838"
    for call in (
        client.get_active(unknown),
        client.update(unknown, NumberUpdate(friendly_name="x")),
        client.delete(unknown, delete_immediately=True),
    ):
        error = await _raised(NumberNotOnAccount, call, fresh_sandbox.api_key)
        assert error.status == 404
    fresh_sandbox.set_not_found("error_200")
    try:
        # Not the documented not-found answer: it says nothing about the number.
        error = await _raised(OutcomeUnknown, client.get_active(unknown), fresh_sandbox.api_key)
        assert error.status == 200
    finally:
        fresh_sandbox.set_not_found("http_404")


async def test_wrong_key_is_auth_error(fresh_sandbox: SandboxProcess) -> None:
    wrong = "wrong-key-that-must-not-leak"
    async with SevenClient(wrong, base_url=fresh_sandbox.base_url) as seven:
        error = await _raised(SevenAuthError, seven.list_active(), wrong)
    assert error.code == "invalid_api_key"


# -- scripted faults ------------------------------------------------------------------


async def test_rate_limit_with_retry_after(
    client: SevenClient, fresh_sandbox: SandboxProcess
) -> None:
    fresh_sandbox.add_fault("rate_limit", "available", retry_after=3)
    error = await _raised(RateLimited, client.search_available(), fresh_sandbox.api_key)
    assert error.retry_after == 3.0
    assert error.refused and error.transient


async def test_a_server_error_is_unknown_whether_or_not_anything_happened(
    client: SevenClient, fresh_sandbox: SandboxProcess
) -> None:
    offer = await _an_available(client)
    fresh_sandbox.add_fault("server_error", "order", status=503)
    error = await _raised(
        SevenServerError, client.order(offer.number, "annually"), fresh_sandbox.api_key
    )
    assert error.outcome == "unknown" and error.status == 503
    # Here nothing happened; a gateway could as well have answered 503 after seven ordered.
    assert offer.number not in fresh_sandbox.ledger()


@pytest.mark.parametrize(
    ("code", "as_string", "expected", "reason"),
    [
        (900, False, SevenAuthError, "invalid_api_key"),
        (901, True, SevenAuthError, "signature_invalid"),
        (902, False, SevenAuthError, "access_denied"),
        (903, True, SevenAuthError, "ip_not_whitelisted"),
        (500, False, InsufficientCredit, "insufficient_credit"),
    ],
)
async def test_bare_codes(
    client: SevenClient,
    fresh_sandbox: SandboxProcess,
    code: int,
    as_string: bool,
    expected: type[SevenError],
    reason: str,
) -> None:
    offer = await _an_available(client)
    fresh_sandbox.add_fault("bare_code", "order", code=code, as_string=as_string)
    error = await _raised(expected, client.order(offer.number, "annually"), fresh_sandbox.api_key)
    assert error.code == reason
    assert error.refused and not error.transient


async def test_an_unknown_bare_code_for_a_number_says_nothing_about_it(
    client: SevenClient, fresh_sandbox: SandboxProcess
) -> None:
    fresh_sandbox.add_fault("bare_code", "active_get", code=404, as_string=True)
    error = await _raised(OutcomeUnknown, client.get_active("4915170264838"), fresh_sandbox.api_key)
    assert error.seven_code == 404


async def test_hang_after_commit_is_outcome_unknown_but_the_order_happened(
    fresh_sandbox: SandboxProcess,
) -> None:
    async with SevenClient(
        fresh_sandbox.api_key, base_url=fresh_sandbox.base_url, total_timeout=0.5
    ) as seven:
        offer = await _an_available(seven)
        fresh_sandbox.add_fault("hang", "order", seconds=5, after_commit=True)
        error = await _raised(
            OutcomeUnknown, seven.order(offer.number, "annually"), fresh_sandbox.api_key
        )
        assert error.outcome == "unknown"
        # The read-before-write check the worker does: seven has the number.
        assert (await seven.get_active(offer.number)).number == offer.number
    assert offer.number in fresh_sandbox.ledger()


async def test_hang_on_a_read_is_outcome_unknown(
    fresh_sandbox: SandboxProcess,
) -> None:
    async with SevenClient(
        fresh_sandbox.api_key, base_url=fresh_sandbox.base_url, read_timeout=0.3
    ) as seven:
        fresh_sandbox.add_fault("hang", "active_list", seconds=5)
        error = await _raised(OutcomeUnknown, seven.list_active(), fresh_sandbox.api_key)
    assert error.transient


async def test_dropped_after_commit_is_outcome_unknown_but_the_order_happened(
    client: SevenClient, fresh_sandbox: SandboxProcess
) -> None:
    offer = await _an_available(client)
    fresh_sandbox.add_fault("drop_after_commit", "order")
    error = await _raised(
        OutcomeUnknown, client.order(offer.number, "annually"), fresh_sandbox.api_key
    )
    assert error.outcome == "unknown"
    assert offer.number in fresh_sandbox.ledger()
    assert (await client.get_active(offer.number)).number == offer.number


async def test_latency_within_timeouts_is_fine(
    client: SevenClient, fresh_sandbox: SandboxProcess
) -> None:
    fresh_sandbox.add_fault("latency", "available", ms=200)
    assert await client.search_available("DK")


# -- signing against a sandbox that demands it ------------------------------------------


async def test_signed_requests_pass_a_signing_sandbox(
    signature_checking_sandbox: SandboxProcess,
) -> None:
    async with SevenClient(
        signature_checking_sandbox.api_key,
        base_url=signature_checking_sandbox.base_url,
        signing_secret=SIGNING_SECRET,
    ) as seven:
        offer = await _an_available(seven, "DK")
        await seven.order(offer.number, "annually")  # POST with a JSON body
        await seven.update(offer.number, NumberUpdate(friendly_name="signed"))
        await seven.delete(offer.number, delete_immediately=False)  # query + body signed
        assert (await seven.get_active(offer.number)).expires is not None
        # A fresh nonce per request: the sandbox refuses a nonce it has seen before.
        for _ in range(3):
            await seven.list_active()


async def test_unsigned_or_wrongly_signed_requests_are_refused(
    signature_checking_sandbox: SandboxProcess,
) -> None:
    for secret in (None, "not-the-secret"):
        async with SevenClient(
            signature_checking_sandbox.api_key,
            base_url=signature_checking_sandbox.base_url,
            signing_secret=secret,
        ) as seven:
            error = await _raised(
                SevenAuthError, seven.list_active(), signature_checking_sandbox.api_key
            )
        assert error.code == "signature_invalid"
