"""From seven's ActiveNumber to the mirror's columns: the one place that mapping lives.

The sync (many numbers) and the worker (one number after an order or update) both
write mirror rows through ``columns_from_active``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from app.db.vocabulary import NumberState
from app.seven.types import ActiveNumber

# seven gives local times without a zone; its servers and billing run in Germany.
SEVEN_TIME_ZONE = ZoneInfo("Europe/Berlin")
_SEVEN_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d")

# The mirror columns that hold seven's view of a number (what a sync compares).
SEVEN_COLUMNS = (
    "country",
    "friendly_name",
    "payment_interval",
    "fee_setup",
    "fee_basic_charge",
    "fee_sms_mo",
    "fee_voice_mo",
    "feature_sms",
    "feature_a2p_sms",
    "feature_voice",
    "forward_sms_mo",
    "created",
    "expires",
    "seven_created_at",
    "seven_expires_at",
)


def parse_seven_time(raw: str | None) -> datetime | None:
    """seven's ``"YYYY-MM-DD HH:MM:SS"`` (Europe/Berlin) as a UTC instant; None if absent.

    An unparseable string gives None: the raw text is kept beside it either way. The
    hour Berlin's clock repeats in October (02:00 to 03:00) is read as its first
    occurrence, still summer time (``fold=0``): seven's string cannot tell the two apart.
    """
    if not raw:
        return None
    for fmt in _SEVEN_TIME_FORMATS:
        try:
            local = datetime.strptime(raw.strip(), fmt).replace(tzinfo=SEVEN_TIME_ZONE)
        except ValueError:
            continue
        return local.astimezone(UTC)
    return None


def on_seven_clock(instant: datetime | None) -> datetime | None:
    """A UTC instant as seven's Berlin wall-clock time, with the offset of that moment
    (``2024-01-31T17:06:27+01:00``): how the API shows seven's ``created``/``expires``."""
    return None if instant is None else instant.astimezone(SEVEN_TIME_ZONE)


def berlin_today() -> date:
    """Today on seven's clock: the day seven bills and counts inbound use on."""
    return datetime.now(SEVEN_TIME_ZONE).date()


def format_seven_time(instant: datetime) -> str:
    """The inverse of ``parse_seven_time``, in seven's format."""
    return instant.astimezone(SEVEN_TIME_ZONE).strftime(_SEVEN_TIME_FORMATS[0])


def columns_from_active(active: ActiveNumber) -> dict[str, Any]:
    """Mirror column values for one of seven's numbers (without ``state`` and our own fields)."""
    fees = active.billing.fees
    return {
        "number": active.number,
        "country": active.country.upper(),
        "friendly_name": active.friendly_name,
        "payment_interval": active.billing.payment_interval,
        "fee_setup": fees.setup,
        "fee_basic_charge": fees.basic_charge,
        "fee_sms_mo": fees.sms_mo,
        "fee_voice_mo": fees.voice_mo,
        "feature_sms": active.features.sms,
        "feature_a2p_sms": active.features.a2p_sms,
        "feature_voice": active.features.voice,
        "forward_sms_mo": msgspec.to_builtins(active.forward_sms_mo),
        "created": active.created,
        "expires": active.expires,
        "seven_created_at": parse_seven_time(active.created),
        "seven_expires_at": parse_seven_time(active.expires),
    }


def state_for(active: ActiveNumber) -> NumberState:
    """A number with an ``expires`` date is scheduled for deletion at period end."""
    return NumberState.DELETING if active.expires else NumberState.ACTIVE
