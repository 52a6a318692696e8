"""An available number as callers see it: seven's fields plus monthly equivalents."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

import msgspec

from app.seven.types import AvailableFees, AvailableNumber

CENT = Decimal("0.01")


class MonthlyEquivalent(msgspec.Struct, frozen=True):
    """What each payment interval costs per month, in EUR (decimal strings)."""

    monthly: Decimal
    annually: Decimal


class AvailableNumberOut(AvailableNumber, frozen=True):
    """seven's AvailableNumber, unchanged in name and meaning, plus ``monthly_equivalent``."""

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
        return f"search:available:v1:{self.country or '*'}:{flags}"


def monthly_equivalent(fees: AvailableFees) -> MonthlyEquivalent:
    """Monthly: the basic charge; annually: the basic charge over 12 months (half-even)."""
    return MonthlyEquivalent(
        monthly=fees.monthly.basic_charge.quantize(CENT, rounding=ROUND_HALF_EVEN),
        annually=(fees.annually.basic_charge / 12).quantize(CENT, rounding=ROUND_HALF_EVEN),
    )


def available_out(number: AvailableNumber) -> AvailableNumberOut:
    return AvailableNumberOut(
        **msgspec.structs.asdict(number), monthly_equivalent=monthly_equivalent(number.fees)
    )
