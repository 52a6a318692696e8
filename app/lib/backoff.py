"""Capped exponential backoff with "equal jitter", the one retry wait of the service.

Half of each wait is fixed and half random: callers that failed together (two workers, a
hundred deliveries to one receiver) do not retry in lockstep, and no wait collapses to zero.
"""

from __future__ import annotations

import random


def equal_jitter(attempt: int, initial: float, maximum: float) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
    ceiling = min(maximum, initial * 2 ** (attempt - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)
