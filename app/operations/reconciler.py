"""The reconciler: no operation is lost because Redis lost its job.

Postgres is the truth. Every pass looks at the operations that are queued or running and
asks two questions: is a process carrying it out right now (its advisory lock is held,
see :mod:`app.operations.executor`), and does Redis still hold its job? When nobody
carries it out:

* the job is gone (Redis flushed or restarted empty) or already finished → enqueue it
  again (a finished job's result key is removed first: arq refuses a job id whose
  result it still keeps);
* the job is "in progress" but the operation has not moved for ``stale_seconds`` → the
  worker running it died (SIGKILL, OOM, a lost machine); its in-progress marker would
  block the job until arq's timeout, so it is removed and the job runs again now;
* the job waits in the queue → nothing to do, a worker will take it.

Enqueueing twice is harmless by construction (the lock and the finished check), so the
reconciler errs on the side of enqueueing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from arq import ArqRedis
from arq.constants import in_progress_key_prefix, result_key_prefix
from arq.jobs import Job, JobStatus
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.models import Operation
from app.db.vocabulary import BULK_OPERATION_KINDS, IN_FLIGHT, NUMBER_OPERATION_KINDS
from app.lib.queue import enqueue_operation, operation_job_id
from app.operations.executor import lock_held

log = structlog.get_logger(__name__)

BATCH = 500
# The kinds whose runs hold the operation's advisory lock (a bulk operation's too).
_LOCKED_KINDS = (*NUMBER_OPERATION_KINDS, *BULK_OPERATION_KINDS)


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    checked: int
    enqueued: int
    revived: int


async def reconcile(
    sessions: async_sessionmaker[AsyncSession], queue: ArqRedis, stale_seconds: float
) -> ReconcileReport:
    stale_before = datetime.now(UTC) - timedelta(seconds=stale_seconds)
    enqueued = revived = 0
    async with sessions() as session:
        rows = (
            await session.execute(
                select(Operation.id, Operation.kind, Operation.updated_at)
                .where(Operation.status.in_(IN_FLIGHT))
                .order_by(Operation.updated_at)
                .limit(BATCH)
            )
        ).all()
        for operation_id, kind, updated_at in rows:
            if kind in _LOCKED_KINDS and await lock_held(session, operation_id):
                continue
            status = await Job(operation_job_id(operation_id), queue).status()
            if status in (JobStatus.not_found, JobStatus.complete):
                await _enqueue_again(queue, operation_id, kind)
                enqueued += 1
            elif (
                status is JobStatus.in_progress
                and kind in _LOCKED_KINDS
                and updated_at < stale_before
            ):
                await queue.delete(in_progress_key_prefix + operation_job_id(operation_id))
                revived += 1
    report = ReconcileReport(checked=len(rows), enqueued=enqueued, revived=revived)
    if enqueued or revived:
        log.info(
            "operations_reconciled", checked=report.checked, enqueued=enqueued, revived=revived
        )
    return report


async def _enqueue_again(queue: ArqRedis, operation_id: uuid.UUID, kind: str) -> None:
    await queue.delete(result_key_prefix + operation_job_id(operation_id))
    await enqueue_operation(queue, operation_id, kind)
