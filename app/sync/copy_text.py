"""Mirror rows as PostgreSQL COPY text, built in bulk for the first sync.

The first sync's worker is its critical path (bench/README.md, Sync), and handing
``rows.py``'s tuples to the driver's binary COPY cost about 0.8 s of its CPU per
100,000 numbers: a call per field, and for each of the four fees a ``Decimal`` taken
apart into base-10000 digits. Here a row is one ``str`` built by one f-string and a
batch of them is encoded at once; PostgreSQL parses the text (numerics and times
exactly: a fee is the ``Decimal``'s own digits, an instant its ISO form with the
offset). The values are those of :func:`app.sync.rows.mirror_row` with the item's
digest after them, field for field (a test writes both ways and compares every
column).

COPY's text format (``format='text'``, tab-delimited, ``\\N`` for NULL): in a field a
backslash, tab, newline or carriage return is written as a backslash escape; nothing
else is special, so any other character (quotes, Unicode) goes as it is, UTF-8.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

import msgspec

from app.numbers.mirror import state_for
from app.seven.types import ActiveNumber
from app.sync.rows import seven_instant

NULL = "\\N"
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_encode_json = msgspec.json.Encoder().encode


def copy_field(value: str) -> str:
    """``value`` as one field of COPY text: its backslashes, tabs and line breaks escaped."""
    # Most fields hold none: a test for a backslash and ``isprintable`` (False for any
    # tab or line break) is cheaper than translating every field.
    if "\\" in value or not value.isprintable():
        return value.translate(_ESCAPES)
    return value


def _optional(value: str | None) -> str:
    return NULL if value is None else copy_field(value)


def _instant(raw: str | None) -> str:
    """seven's Berlin time (as ``seven_instant`` reads it) as a ``timestamptz`` field."""
    instant = seven_instant(raw)
    return NULL if instant is None else instant.isoformat()


def _numeric(value: Decimal) -> str:
    # The driver sends any NaN (signalling or negative too) as NaN, where PostgreSQL's
    # text input refuses "sNaN" and "-NaN".
    return "NaN" if value.is_nan() else str(value)


def _flag(value: bool) -> str:
    return "t" if value else "f"


def mirror_line_maker(synced_at: datetime) -> Callable[[ActiveNumber, bytes | None], str]:
    """One line of COPY text per number, in the columns of ``rows.MIRROR_COLUMNS`` then
    ``rows.COPY_SUFFIX`` (its digest, or NULL), all written at ``synced_at``."""
    synced = synced_at.isoformat()

    def mirror_line(active: ActiveNumber, digest: bytes | None) -> str:
        billing = active.billing
        fees = billing.fees
        features = active.features
        forward = copy_field(_encode_json(active.forward_sms_mo).decode())
        # A bytea field in hex form; its backslash is escaped for COPY.
        stored_digest = NULL if digest is None else "\\\\x" + digest.hex()
        return (
            f"{copy_field(active.number)}\t{copy_field(active.country.upper())}\t"
            f"{copy_field(active.friendly_name)}\t{billing.payment_interval}\t"
            f"{_numeric(fees.setup)}\t{_numeric(fees.basic_charge)}\t"
            f"{_numeric(fees.sms_mo)}\t{_numeric(fees.voice_mo)}\t"
            f"{_flag(features.sms)}\t{_flag(features.a2p_sms)}\t{_flag(features.voice)}\t"
            f"{forward}\t{copy_field(active.created)}\t{_optional(active.expires)}\t"
            f"{_instant(active.created)}\t{_instant(active.expires)}\t"
            f"{state_for(active)}\t{synced}\t{stored_digest}\n"
        )

    return mirror_line
