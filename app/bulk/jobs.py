"""The arq adapter for bulk operations: ``process_bulk``, one pass per run."""

from __future__ import annotations

import uuid
from typing import Any

from arq import Retry, func
from arq.worker import Function

from app.bulk.runner import BulkRunner
from app.lib.job_run import job_run
from app.operations.executor import Wait
from app.operations.policy import RetryPolicy
from app.settings import Settings

JOB_TIMEOUT_SECONDS = 600
# A parent waits for its children in deferrals of a second or so, each counted by arq as
# a try; its children's own attempts and budgets bound how long that goes on.
JOB_MAX_TRIES = 100_000


def _runner(ctx: dict[str, Any]) -> BulkRunner:
    runner: BulkRunner | None = ctx.get("bulk_runner")
    if runner is None:
        settings: Settings = ctx["settings"]
        policy = RetryPolicy.from_settings(settings)
        runner = BulkRunner(ctx["engine"], ctx["seven"], ctx["queue"], policy)
        ctx["bulk_runner"] = runner
    return runner


def process_bulk_function() -> Function:
    async def process_bulk(ctx: dict[str, Any], operation_id: str) -> str:
        """One pass over a bulk order or bulk update (safe to run any number of times)."""
        with job_run("process_bulk", operation=operation_id) as run:
            outcome = await _runner(ctx).run(uuid.UUID(operation_id))
            run.outcome = "waiting" if isinstance(outcome, Wait) else outcome
        if isinstance(outcome, Wait):
            raise Retry(defer=outcome.seconds)
        return outcome

    return func(
        process_bulk, name="process_bulk", timeout=JOB_TIMEOUT_SECONDS, max_tries=JOB_MAX_TRIES
    )
