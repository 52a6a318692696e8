"""arq adapters of the sync: the ``sync_mirror`` job and its cron schedule.

arq's cron matches wall-clock fields (second, minute, hour), it does not count an
interval, so ``SYNC_INTERVAL_SECONDS`` becomes a set of those fields:

* below 60 s: every ``n`` seconds within each minute (``n`` = the interval);
* below an hour: every ``n`` minutes within each hour (``n`` = interval / 60, rounded);
* below a day: every ``n`` hours within each day (``n`` = interval / 3600, rounded);
* a day or more: once a day, at 00:00 UTC.

An interval that does not divide the minute, hour or day has one shorter gap where
the count restarts (every 7 s runs at :56 and again at :00). The default, 300 s, runs
at :00, :05, :10, ... of every hour. ``unique=True`` lets one worker enqueue each tick
however many run; the advisory lock in the service keeps overlapping runs apart.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from arq.cron import CronJob, cron
from arq.worker import Function, func
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.models import SyncDrift
from app.lib.job_run import job_run
from app.lib.metrics import observe_sync
from app.sync.diff import DiffCounts
from app.sync.service import run_sync

#: A sync of 100,000 numbers takes seconds; this bounds a seven that stops answering.
SYNC_JOB_TIMEOUT_SECONDS = 600


async def sync_mirror(ctx: dict[str, Any], operation_id: str | None = None) -> str:
    """Run one sync (for a ``sync`` operation, or for the cron when ``operation_id`` is None).

    Returns ``ran``, ``skipped`` or ``failed``; failures at seven are recorded on the run
    and the operation rather than raised, so arq does not retry them.
    """
    with job_run("sync_mirror", operation=operation_id) as run:
        outcome = await run_sync(
            ctx["engine"],
            ctx["seven"],
            operation_id=uuid.UUID(operation_id) if operation_id else None,
            max_removed_share=ctx["settings"].sync_max_removed_share,
            confirm_missing_seconds=ctx["settings"].sync_confirm_missing_seconds,
        )
        run.outcome = outcome.outcome
        if outcome.counts is not None and outcome.run_id is not None:
            await _observe_run(ctx["engine"], outcome.run_id, outcome.counts, run.elapsed())
    return outcome.outcome


_DRIFT_BY_KIND = sa.select(SyncDrift.kind, sa.func.count()).group_by(SyncDrift.kind)


async def _observe_run(
    engine: AsyncEngine, run_id: uuid.UUID, counts: DiffCounts, seconds: float
) -> None:
    """The run's figures into the worker's metrics (drift by kind is read back from its rows)."""
    async with engine.connect() as conn:
        drift = await conn.execute(_DRIFT_BY_KIND.where(SyncDrift.run_id == run_id))
        by_kind = {kind: count for kind, count in drift.tuples()}
    observe_sync(seconds, counts.by_outcome(), by_kind)


def sync_mirror_function() -> Function:
    """``sync_mirror`` as the queue knows it (``app.lib.queue.JOB_FOR_KIND``)."""
    return func(sync_mirror, name="sync_mirror", timeout=SYNC_JOB_TIMEOUT_SECONDS)


def cron_fields(interval_seconds: int) -> dict[str, Any]:
    """arq cron fields approximating "every ``interval_seconds``" (see the module docstring)."""
    if interval_seconds < 1:
        raise ValueError("the sync interval must be at least one second")
    if interval_seconds < 60:
        return {"second": set(range(0, 60, interval_seconds))}
    if interval_seconds < 3600:
        step = max(1, round(interval_seconds / 60))
        return {"minute": set(range(0, 60, step)), "second": 0}
    if interval_seconds < 86400:
        step = max(1, round(interval_seconds / 3600))
        return {"hour": set(range(0, 24, step)), "minute": 0, "second": 0}
    return {"hour": 0, "minute": 0, "second": 0}


def sync_cron_job(interval_seconds: int) -> CronJob:
    """The cron entry for ``WorkerSettings``: every ``interval_seconds``
    (``SYNC_INTERVAL_SECONDS``) as the module docstring describes."""
    return cron(
        sync_mirror,
        name="cron:sync_mirror",
        unique=True,
        timeout=SYNC_JOB_TIMEOUT_SECONDS,
        max_tries=1,
        **cron_fields(interval_seconds),
    )
