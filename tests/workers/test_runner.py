"""The worker the service runs (workers.runner) shuts down cleanly whatever its jobs were
doing when the signal came."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from app.lib.queue import redis_settings
from workers.runner import Worker


async def _noop(ctx: dict[str, Any]) -> None:
    """Does nothing."""


async def test_a_job_cancelled_outside_its_function_still_lets_the_worker_shut_down(
    redis_url: str,
) -> None:
    started, shut_down = asyncio.Event(), asyncio.Event()

    async def on_startup(ctx: dict[str, Any]) -> None:
        started.set()

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        shut_down.set()

    worker = Worker(
        functions=[_noop],
        redis_settings=redis_settings(redis_url),
        on_startup=on_startup,
        on_shutdown=on_shutdown,
        handle_signals=False,
        poll_delay=0.05,
    )
    running = asyncio.create_task(worker.async_run())
    await asyncio.wait_for(started.wait(), 10)
    # A job task as arq holds it while it reads the job from Redis, before the function
    # runs: the signal's cancellation ends the task itself, not the function.
    reading = asyncio.create_task(asyncio.sleep(30))
    worker.tasks["a-job"] = reading
    worker.handle_sig(signal.SIGTERM)

    await worker.close()  # arq's own Worker re-raises the job's cancellation here

    assert reading.cancelled()
    assert shut_down.is_set(), "the shutdown hook ran"
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
