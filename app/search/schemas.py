"""An available number as callers see it: seven's fields plus monthly equivalents.

seven's fields keep their names and meaning; its fees (JSON numbers at seven) are money
strings here, as every amount the service shows (``app.lib.money``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

import msgspec

from app.lib.money import Money, money
from app.seven.types import AvailableFees, AvailableNumber, Features, IntervalFees

CENT = Decimal("0.01")


class MonthlyEquivalent(msgspec.Struct, frozen=True):
    """What each payment interval costs per month, in EUR."""

    monthly: Money
    annually: Money


class IntervalFeesOut(msgspec.Struct, frozen=True):
    basic_charge: Money
    setup: Money


class AvailableFeesOut(msgspec.Struct, frozen=True):
    monthly: IntervalFeesOut
    annually: IntervalFeesOut
    sms_mo: Money
    voice_mo: Money


class AvailableNumberOut(msgspec.Struct, frozen=True):
    """seven's AvailableNumber, unchanged in name and meaning, plus ``monthly_equivalent``."""

    country: str
    number: str
    number_parsed: str
    fees: AvailableFeesOut
    features: Features
    monthly_equivalent: MonthlyEquivalent


class AvailableNumbers(msgspec.Struct, frozen=True):
    """The answer: an object (not a bare list), so fields can be added later."""

    items: list[AvailableNumberOut]


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A validated search; ``None`` for a feature means "don't care"."""

    country: str | None = None
    sms: bool | None = None
    a2p_sms: bool | None = None
    voice: bool | None = None

    def cache_key(self) -> str:
        """One key per distinct query (the fields are already normalized)."""
        flags = ":".join(
            "*" if flag is None else str(int(flag)) for flag in (self.sms, self.a2p_sms, self.voice)
        )
        # v2: fees became money strings; a v1 answer still cached is not read as one.
        return f"search:available:v2:{self.country or '*'}:{flags}"

    @classmethod
    def wanting(cls, country: str | None, features: Iterable[str]) -> SearchQuery:
        """Numbers of ``country`` (None: any) with every one of ``features``."""
        wanted = set(features)
        return cls(
            country=country,
            sms=("sms" in wanted) or None,
            a2p_sms=("a2p_sms" in wanted) or None,
            voice=("voice" in wanted) or None,
        )

    def fits(self, number: AvailableNumber | AvailableNumberOut) -> bool:
        """Whether an offered number is one the query asks for: seven filters only on a
        feature being present, and may list numbers of other countries."""
        wanted = {"sms": self.sms, "a2p_sms": self.a2p_sms, "voice": self.voice}
        return (self.country is None or number.country.upper() == self.country) and all(
            getattr(number.features, name) == flag
            for name, flag in wanted.items()
            if flag is not None
        )


def monthly_equivalent(fees: AvailableFees) -> MonthlyEquivalent:
    """Monthly: the basic charge; annually: the basic charge over 12 months (half-even)."""
    return MonthlyEquivalent(
        monthly=money(fees.monthly.basic_charge.quantize(CENT, rounding=ROUND_HALF_EVEN)),
        annually=money((fees.annually.basic_charge / 12).quantize(CENT, rounding=ROUND_HALF_EVEN)),
    )


def _interval_fees(fees: IntervalFees) -> IntervalFeesOut:
    return IntervalFeesOut(basic_charge=money(fees.basic_charge), setup=money(fees.setup))


def available_out(number: AvailableNumber) -> AvailableNumberOut:
    fees = number.fees
    return AvailableNumberOut(
        country=number.country,
        number=number.number,
        number_parsed=number.number_parsed,
        fees=AvailableFeesOut(
            monthly=_interval_fees(fees.monthly),
            annually=_interval_fees(fees.annually),
            sms_mo=money(fees.sms_mo),
            voice_mo=money(fees.voice_mo),
        ),
        features=number.features,
        monthly_equivalent=monthly_equivalent(fees),
    )
