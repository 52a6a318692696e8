"""One log line and one duration sample per worker job, however the job ends.

The line carries whatever the job bound to structlog's context while it ran (the
operation id, and the request id of the API request that created the operation), so
searching the logs for a request id finds an order's API line and its job's line alike.
arq runs each job in its own task, so what one job binds never leaks into another.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import structlog

from app.lib.metrics import JobTimer

log = structlog.get_logger("seven_numbers.job")


@contextmanager
def job_run(job: str, **context: str | None) -> Iterator[JobTimer]:
    """``with job_run("process_operation", operation=id) as run: ...; run.outcome = ...``"""
    timer = JobTimer(job)
    with structlog.contextvars.bound_contextvars(job=job, **context):
        try:
            with timer:
                yield timer
        finally:
            log.info("job", outcome=timer.outcome, duration_ms=round(timer.seconds * 1000, 2))
