"""arq adapters for operations: ``process_operation``, the reconciler cron job and the
expiry of orders awaiting approval.

Thin on purpose: the work is in :mod:`app.operations.executor` and
:mod:`app.operations.reconciler`, which know nothing of arq's ``ctx``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from arq import Retry, func
from arq.cron import CronJob, cron
from arq.worker import Function

from app.lib.job_run import job_run
from app.operations.approval import expire_approvals
from app.operations.executor import OperationRunner, Wait
from app.operations.lifecycle import FinishHook
from app.operations.policy import RetryPolicy
from app.operations.reconciler import reconcile
from app.settings import Settings

# One run is one attempt (a read, the write, a read and perhaps a PATCH, each bounded by
# SEVEN_TOTAL_TIMEOUT); waits between attempts are deferrals, not part of a run. A run cut
# off by this is resumed by the reconciler, within the operation's own budget.
JOB_TIMEOUT_SECONDS = 600
# arq counts every deferral (a retry's wait) and every re-run after a dead worker as a try;
# the real bound is the operation's attempts and budget, so arq's limit stays out of the way.
JOB_MAX_TRIES = 1000


def _runner(ctx: dict[str, Any], finish_hooks: Sequence[FinishHook]) -> OperationRunner:
    runner: OperationRunner | None = ctx.get("operation_runner")
    if runner is None:
        settings: Settings = ctx["settings"]
        policy = RetryPolicy.from_settings(settings)
        runner = OperationRunner(ctx["engine"], ctx["seven"], policy, finish_hooks)
        ctx["operation_runner"] = runner
    return runner


async def reconcile_operations(ctx: dict[str, Any]) -> dict[str, int]:
    settings: Settings = ctx["settings"]
    with job_run("reconcile_operations"):
        report = await reconcile(ctx["sessions"], ctx["queue"], settings.operation_stale_seconds)
    return {"checked": report.checked, "enqueued": report.enqueued, "revived": report.revived}


def process_operation_function(finish_hooks: Sequence[FinishHook] = ()) -> Function:
    """The ``process_operation`` job; ``finish_hooks`` run when an operation ends."""

    async def process_operation(ctx: dict[str, Any], operation_id: str) -> str:
        """Carry out one order, update or delete (safe to run any number of times)."""
        with job_run("process_operation", operation=operation_id) as run:
            outcome = await _runner(ctx, finish_hooks).run(uuid.UUID(operation_id))
            run.outcome = "retry" if isinstance(outcome, Wait) else outcome
        if isinstance(outcome, Wait):
            # The same job again after the wait; its state is in Postgres, not in the job.
            raise Retry(defer=outcome.seconds)
        return outcome

    return func(
        process_operation,
        name="process_operation",
        timeout=JOB_TIMEOUT_SECONDS,
        max_tries=JOB_MAX_TRIES,
    )


def reconciler_cron(interval_seconds: int) -> CronJob:
    """Every ``interval_seconds`` (``RECONCILE_INTERVAL_SECONDS``, a divisor of 60), and once
    at start-up: a restarted worker picks up what its predecessor left at once."""
    return cron(
        reconcile_operations,
        second=set(range(0, 60, interval_seconds)),
        run_at_startup=True,
        timeout=60,
    )


async def expire_awaiting_approval(ctx: dict[str, Any]) -> int:
    """Fail the orders awaiting approval for longer than ``APPROVAL_TTL_HOURS``."""
    settings: Settings = ctx["settings"]
    with job_run("expire_approvals"):
        async with ctx["sessions"]() as session:
            return await expire_approvals(session, timedelta(hours=settings.approval_ttl_hours))


def approval_expiry_cron() -> CronJob:
    """Every minute, and once when a worker starts; safe to run in two workers at once."""
    return cron(
        expire_awaiting_approval,
        name="cron:expire_approvals",
        second=15,
        unique=True,
        run_at_startup=True,
        timeout=60,
        max_tries=1,
    )
