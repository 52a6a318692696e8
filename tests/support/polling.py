"""Waiting for something that happens a moment later (a worker's write, a cache's notice).

Tests never sleep a fixed time: they poll a check at short intervals and fail, naming
what they waited for, when it does not hold in time. ``until`` is for async tests (the
check may be sync or async); ``until_sync`` is for sync tests and threads.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

T = TypeVar("T")
INTERVAL = 0.02


async def until(
    check: Callable[[], T | Awaitable[T]], what: str, within: float = 10.0, every: float = INTERVAL
) -> T:
    """Poll ``check`` until it returns something truthy, and return that; fail naming
    ``what`` after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(every)


def until_sync(
    check: Callable[[], T], what: str, within: float = 10.0, every: float = INTERVAL
) -> T:
    """``until`` for sync code: blocks the thread between checks."""
    deadline = time.monotonic() + within
    while not (result := check()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {within} s waiting for {what}")
        time.sleep(every)
    return result
