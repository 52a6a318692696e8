"""Money as every response shows it: one decimal string format, one encoder.

An amount in EUR leaves the service (JSON, CSV, the CLI) as a decimal string with at
least two places and no trailing zeros beyond them: ``4.9`` is ``"4.90"``, ``4.9000``
(the mirror's ``numeric(12, 4)``) is ``"4.90"``, ``0`` is ``"0.00"``, and a sub-cent fee
keeps the places seven gave it (``0.0075`` is ``"0.0075"``).

Response fields hold the string (:data:`Money`), not a ``Decimal``: msgspec encodes a
``Decimal`` natively with ``str()`` and never consults an ``enc_hook`` for it, so the
format could not be set in the encoder; a ``str`` field also makes a forgotten
:func:`money` a type error. Arithmetic stays on ``Decimal`` up to the response.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import Annotated

import msgspec

#: What :func:`money` writes: no leading zeros, two places, more only up to a non-zero digit.
MONEY_PATTERN = r"^-?(0|[1-9][0-9]*)\.[0-9]{2}([0-9]*[1-9])?$"

Money = Annotated[
    str,
    msgspec.Meta(
        pattern=MONEY_PATTERN,
        description=(
            "EUR as a decimal string: at least two places, more only where seven quotes "
            'a fraction of a cent (`"0.0075"`).'
        ),
        examples=["4.90"],
    ),
]


def money(amount: Decimal) -> str:
    """``amount`` in the one format (see the module); ValueError for NaN or infinity."""
    text = str(amount)
    # Every report figure is already rounded to cents: two places, nothing to strip.
    if text[-3:-2] == "." and text[0] != "-":
        return text
    if not amount.is_finite():
        raise ValueError(f"not an amount: {amount}")
    return _reformatted(amount)


# The format depends on the value alone (4.9 and 4.9000 are one key), and fees take few
# values: remembered, a mirror fee (numeric(12, 4), so never the fast path above) costs
# about half of formatting it again, on each of a number's five amounts.
@functools.lru_cache(maxsize=4096)
def _reformatted(amount: Decimal) -> str:
    if not amount:
        return "0.00"  # zero at any scale, and -0
    whole, _, places = format(amount, "f").partition(".")
    return f"{whole}.{places.rstrip('0').ljust(2, '0')}"


def optional_money(amount: Decimal | None) -> str | None:
    """:func:`money`, with None (a fee seven has not quoted yet) left None."""
    return None if amount is None else money(amount)
