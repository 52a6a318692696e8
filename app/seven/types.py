"""Typed payloads of seven's numbers API, exactly as seven names them.

Fees arrive as JSON numbers; msgspec parses them straight into ``Decimal`` from the
raw text, so ``29.9`` never passes through a binary float. Unknown fields are
ignored (seven adds fields such as ``forward_sms_mo.slack`` without notice).
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

import msgspec


class PaymentInterval(StrEnum):
    """How often seven bills a number's basic charge."""

    MONTHLY = "monthly"
    ANNUALLY = "annually"


# The structs of an active number are not tracked by the garbage collector (gc=False):
# decoded from JSON and frozen, they can never be part of a reference cycle, and the sync
# decodes a million of them, which with tracking set off collection after collection
# (decoding 200,000 numbers: 1.34 s tracked, 0.83 s untracked).
class Features(msgspec.Struct, frozen=True, gc=False):
    sms: bool
    a2p_sms: bool
    voice: bool


class Fees(msgspec.Struct, frozen=True, gc=False):
    """Fees of an active number; ``basic_charge`` is per payment interval."""

    setup: Decimal
    basic_charge: Decimal
    sms_mo: Decimal
    voice_mo: Decimal


class Billing(msgspec.Struct, frozen=True, gc=False):
    fees: Fees
    payment_interval: PaymentInterval


class SmsForward(msgspec.Struct, frozen=True, gc=False):
    number: list[str] = msgspec.field(default_factory=list)
    enabled: bool = False


class EmailForward(msgspec.Struct, frozen=True, gc=False):
    address: list[str] = msgspec.field(default_factory=list)
    enabled: bool = False


class SlackForward(msgspec.Struct, frozen=True, gc=False):
    uri: str | None = None
    enabled: bool = False


class ForwardSmsMo(msgspec.Struct, frozen=True, omit_defaults=True, gc=False):
    sms: SmsForward = msgspec.field(default_factory=SmsForward)
    email: EmailForward = msgspec.field(default_factory=EmailForward)
    slack: SlackForward | None = None


class ActiveNumber(msgspec.Struct, frozen=True, gc=False):
    """A number on the account (``GET /numbers/active[/:number]``, ``PATCH`` answer)."""

    country: str
    number: str
    friendly_name: str
    billing: Billing
    features: Features
    forward_sms_mo: ForwardSmsMo
    expires: str | None
    created: str


class IntervalFees(msgspec.Struct, frozen=True):
    basic_charge: Decimal
    setup: Decimal


class AvailableFees(msgspec.Struct, frozen=True):
    monthly: IntervalFees
    annually: IntervalFees
    sms_mo: Decimal
    voice_mo: Decimal


class AvailableNumber(msgspec.Struct, frozen=True):
    """A number that can be ordered (``GET /numbers/available``)."""

    country: str
    number: str
    number_parsed: str
    fees: AvailableFees
    features: Features


class AvailableNumbersResponse(msgspec.Struct, frozen=True, rename="camel"):
    available_numbers: list[AvailableNumber]


class ActiveNumbersResponse(msgspec.Struct, frozen=True, rename="camel"):
    active_numbers: list[ActiveNumber]


class ActiveNumbersItems(msgspec.Struct, frozen=True, rename="camel"):
    """``ActiveNumbersResponse`` split into its items, each still JSON (``active_list.py``)."""

    active_numbers: list[msgspec.Raw]


class SuccessResponse(msgspec.Struct, frozen=True):
    """``POST /numbers/order`` and ``DELETE /numbers/active/:number``."""

    success: bool
    error: str | None = None


class NumberUpdate(msgspec.Struct, frozen=True, omit_defaults=True):
    """Body of ``PATCH /numbers/active/:number``; ``None`` means "leave as it is", an empty
    list stops that forwarding. ``slack_forward`` (webhook URLs) is in seven's OpenAPI file
    though not on its reference page."""

    friendly_name: str | None = None
    sms_forward: list[str] | None = None
    email_forward: list[str] | None = None
    slack_forward: list[str] | None = None
