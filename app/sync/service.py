"""The sync's domain verbs: request a sync and run one (past runs are read in runs.py).

How a run goes (``run_sync``):

1. **One at a time.** A session-level ``pg_try_advisory_lock`` is taken on a connection
   held for the whole run (arq's unique cron already keeps two workers from enqueuing
   the same tick; the lock also covers ``POST /v1/sync`` and cron ticks that overlap a
   slow run). A sync that finds the lock taken does not wait and does not record a
   run: its operation, if it has one, succeeds at once with
   ``result = {"outcome": "skipped", "reason": ..., "running_run": id}``, because the
   sync already running does the same work.
2. A ``sync_runs`` row is committed as ``running`` (runs left ``running`` by a killed
   worker are marked ``failed`` first: holding the lock proves they are dead).
3. seven's whole list is read as it arrives, split into items in batches by the client
   and COPYed as it comes (the worker never holds it all) into a temporary table, then
   diffed in SQL (``app/sync/diff.py``), all in one transaction with the run's
   counts, so a run's numbers and its record never disagree. An item the mirror holds
   byte for byte is neither decoded nor copied (``app/sync/digests.py``). The
   baseline run into an empty mirror COPYs straight into it (``app/sync/baseline.py``)
   and leaves its search indexes to be built once it has committed and reported
   (``app/sync/indexes.py``).
   A number seven no longer lists becomes ``missing`` (its holder kept) and is deleted
   only once its absence is confirmed (the rules are in ``diff.py``).
4. A failure at seven marks the run and the operation ``failed`` with seven's error
   code and message; the sync is not retried in the job (reading is harmless to repeat,
   and the next tick, at most ``SYNC_INTERVAL_SECONDS`` away, is the retry).
5. **The removal guard.** A run that would take more than ``SYNC_MAX_REMOVED_SHARE`` of
   the mirror's live numbers off the account (``missing``, or ``deleted`` after being
   missed long enough) with nothing of ours explaining it (seven answering with a short
   or empty list) writes nothing: the run and its operation fail with
   ``sync_guard_tripped``. Every later tick is refused the same way until seven's list
   is whole again or someone asks for ``POST /v1/sync {"force": true}``.
6. **Single reads.** The numbers left missing are read one by one at seven
   (``app/sync/confirm.py``); what the answers settle is written, with the run's amended
   counts and its operation's success, in one more transaction.

``synced_at`` on a number is the last time a sync *wrote* it (it appeared, changed or
went away at seven). Confirming an unchanged number writes nothing, so "when did we
last check" is the newest succeeded run's ``finished_at``, not a column per number.

Jobs run at least once: a sync is idempotent by nature (a repeat finds nothing to
write), and a job for an operation that already finished returns without running.

Each commit in a run is one of the points above (the claim, the ``running`` row, the
diff, the failure, the single reads' amendments): a run commits itself at each, where
a request's handler leaves the commit to the request (``request_sync`` only flushes).
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
import uuid
from collections.abc import AsyncIterable, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import msgspec
import structlog
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from app.db.locks import release_lock, try_lock
from app.db.models import Operation, SyncRun
from app.db.vocabulary import IN_FLIGHT, OperationKind, OperationStatus
from app.operations.lifecycle import Failure, finish_operation
from app.operations.params import SyncParams, kind_of, stored
from app.settings import DEFAULT_SYNC_CONFIRM_MISSING_SECONDS, DEFAULT_SYNC_MAX_REMOVED_SHARE
from app.seven.client import SevenClient
from app.seven.errors import SevenError
from app.seven.types import ActiveNumber
from app.sync.baseline import load_baseline
from app.sync.confirm import confirm_missing
from app.sync.diff import DiffCounts, RemovalsRefused, apply_diff, load_incoming
from app.sync.digests import hold_digests, keep_matched
from app.sync.indexes import build_deferred_indexes
from app.sync.news import announce_changes
from app.sync.rows import RowCounter

log = structlog.get_logger(__name__)

#: ``pg_advisory_lock`` key of the sync (an arbitrary constant: "sync" in ASCII).
SYNC_LOCK_KEY = 0x73796E63
SKIPPED_REASON = "another sync was already running; it covers this request"


class RunOutcome(StrEnum):
    """What one call of ``run_sync`` did (a sync operation's ``result["outcome"]`` when it
    succeeded, and the job's outcome)."""

    RAN = "ran"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class SyncOutcome:
    outcome: RunOutcome
    run_id: uuid.UUID | None = None
    counts: DiffCounts | None = None
    error_code: str | None = None
    path: str | None = None
    """How a run that ran wrote the mirror: ``baseline`` (one COPY) or ``diff``."""


async def request_sync(
    session: AsyncSession, request_id: str | None = None, *, force: bool = False
) -> Operation:
    """A queued ``sync`` operation, flushed (the caller commits and hands its id to a
    worker). ``force`` lets its run remove more than the guard allows (see
    ``RemovalsRefused``)."""
    params = SyncParams(force=force)
    operation = Operation(
        kind=kind_of(params),
        status=OperationStatus.QUEUED,
        params=stored(params),
        request_id=request_id,
    )
    session.add(operation)
    await session.flush()
    return operation


async def run_sync(
    engine: AsyncEngine,
    seven: SevenClient,
    *,
    operation_id: uuid.UUID | None = None,
    max_removed_share: float = DEFAULT_SYNC_MAX_REMOVED_SHARE,
    confirm_missing_seconds: int = DEFAULT_SYNC_CONFIRM_MISSING_SECONDS,
) -> SyncOutcome:
    """Bring the mirror in line with seven's list (see the module docstring)."""
    async with engine.connect() as conn:
        force = False
        if operation_id is not None:
            claimed = await _claim_operation(conn, operation_id)
            if claimed is None:
                return SyncOutcome(RunOutcome.SKIPPED)
            force = claimed
        if not await try_lock(conn, SYNC_LOCK_KEY):
            return await _skip(conn, operation_id)
        try:
            limit = None if force else max_removed_share
            outcome = await _run_locked(conn, seven, operation_id, limit, confirm_missing_seconds)
            # After the run is committed and reported: what the first sync left to build
            # (or a dead worker's leftovers), still one sync at a time.
            await build_deferred_indexes(engine)
        except BaseException:
            # The connection may be mid-transaction or broken: close it rather than
            # return it to the pool, which also ends the session and its lock.
            await conn.invalidate()
            raise
        await release_lock(conn, SYNC_LOCK_KEY)
        return outcome


async def _claim_operation(conn: AsyncConnection, operation_id: uuid.UUID) -> bool | None:
    """Mark the operation running and return whether it forces the run past the removal
    guard; None if it is unknown or already finished (a repeat)."""
    claimed = (
        await conn.execute(
            update(Operation)
            .where(
                Operation.id == operation_id,
                Operation.kind == OperationKind.SYNC,
                Operation.status.in_(IN_FLIGHT),
            )
            .values(
                status=OperationStatus.RUNNING,
                attempts=Operation.attempts + 1,
                started_at=func.coalesce(Operation.started_at, func.now()),
            )
            .returning(Operation.request_id, Operation.params)
        )
    ).first()
    await conn.commit()
    if claimed is None:
        log.info("sync_operation_not_runnable", operation_id=str(operation_id))
        return None
    # The run's and the job's log lines carry the id of the request that asked for it.
    structlog.contextvars.bind_contextvars(request_id=claimed.request_id)
    return msgspec.convert(claimed.params, SyncParams).force


async def _skip(conn: AsyncConnection, operation_id: uuid.UUID | None) -> SyncOutcome:
    running = (
        await conn.execute(
            select(SyncRun.id)
            .where(SyncRun.status == OperationStatus.RUNNING)
            .order_by(SyncRun.started_at.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if operation_id is not None:
        result = {
            "outcome": RunOutcome.SKIPPED,
            "reason": SKIPPED_REASON,
            "running_run": str(running) if running else None,
        }
        await finish_operation(conn, operation_id, OperationStatus.SUCCEEDED, result=result)
        await conn.commit()
    log.info("sync_skipped", operation_id=str(operation_id), running_run=str(running))
    return SyncOutcome(RunOutcome.SKIPPED, run_id=running)


async def _run_locked(
    conn: AsyncConnection,
    seven: SevenClient,
    operation_id: uuid.UUID | None,
    max_removed_share: float | None,
    confirm_missing_seconds: int,
) -> SyncOutcome:
    run = await _open_run(conn, operation_id)
    run_id = run.id
    clock = time.perf_counter()
    try:
        # Phase times go to the log line: where a slow sync spends its time.
        seconds: dict[str, float] = {}
        async with contextlib.aclosing(seven.stream_active()) as numbers:
            counts, path = await _write_difference(
                conn, numbers, run, max_removed_share, confirm_missing_seconds, seconds
            )
        clock = time.perf_counter()
        await announce_changes(conn, run_id)
        await _close_run(conn, run_id, counts)
        await conn.commit()
        seconds["commit_seconds"] = time.perf_counter() - clock
    except SevenError as error:
        # seven failed to answer, or a number in its answer was malformed (each is
        # decoded as it is written): nothing of the run is kept.
        await conn.rollback()
        await _close_run_failed(conn, run_id, operation_id, error.code, error.message)
        log.warning("sync_failed", run_id=str(run_id), code=error.code, error=error.message)
        return SyncOutcome(RunOutcome.FAILED, run_id=run_id, error_code=error.code)
    except RemovalsRefused as refused:
        await conn.rollback()
        await _close_run_failed(conn, run_id, operation_id, refused.code, str(refused))
        log.warning(
            "sync_refused",
            run_id=str(run_id),
            code=refused.code,
            unexplained_removals=refused.unexplained,
            live=refused.live,
        )
        return SyncOutcome(RunOutcome.FAILED, run_id=run_id, error_code=refused.code)
    except Exception as error:
        await conn.rollback()
        await _close_run_failed(
            conn, run_id, operation_id, "sync_error", f"{type(error).__name__}: the diff failed"
        )
        raise
    # The run is recorded; the reads amend it. Should they fail unexpectedly, the
    # operation stays running and the reconciler has it run again.
    clock = time.perf_counter()
    confirmed = await confirm_missing(conn, seven, run_id)
    if confirmed.removed or confirmed.restored:
        counts = dataclasses.replace(
            counts,
            removed=counts.removed + confirmed.removed,
            drift=counts.drift + confirmed.removed + confirmed.restored,
        )
        await conn.execute(
            update(SyncRun).where(SyncRun.id == run_id).values(removed=counts.removed)
        )
    if operation_id is not None:
        result = {"outcome": RunOutcome.RAN, "run_id": str(run_id)}
        await finish_operation(conn, operation_id, OperationStatus.SUCCEEDED, result=result)
    await announce_changes(conn, run_id)
    await conn.commit()
    seconds["confirm_seconds"] = time.perf_counter() - clock
    timings = {name: round(value, 3) for name, value in seconds.items()}
    counted = dataclasses.asdict(counts)
    log.info("sync_finished", run_id=str(run_id), path=path, **counted, **timings)
    return SyncOutcome(RunOutcome.RAN, run_id=run_id, counts=counts, path=path)


async def _write_difference(
    conn: AsyncConnection,
    numbers: AsyncIterable[Iterable[ActiveNumber]],
    run: _OpenRun,
    max_removed_share: float | None,
    confirm_missing_seconds: int,
    seconds: dict[str, float],
) -> tuple[DiffCounts, str]:
    """Bring the mirror in line with ``numbers``, seven's list read as it arrives
    (uncommitted); the counts and the path taken: ``baseline`` (one COPY into the empty
    mirror) or ``diff``. ``load_seconds`` includes reading the list."""
    clock = time.perf_counter()
    if run.previous_started is None:
        counts = await load_baseline(conn, numbers, run_started=run.started)
        if counts is not None:
            seconds["load_seconds"] = time.perf_counter() - clock
            return counts, "baseline"
    # Only the items the mirror does not already hold byte for byte are decoded and
    # copied; the numbers of the others stay in sync_held for the diff (digests.py).
    rows = RowCounter(held=await hold_digests(conn))
    await load_incoming(conn, rows.of_batches(numbers))
    await keep_matched(conn, rows.unmatched)
    fetched = rows.count
    seconds["load_seconds"] = time.perf_counter() - clock
    clock = time.perf_counter()
    counts = await apply_diff(
        conn,
        run_id=run.id,
        run_started=run.started,
        previous_started=run.previous_started,
        fetched=fetched,
        max_removed_share=max_removed_share,
        confirm_seconds=confirm_missing_seconds,
    )
    seconds["diff_seconds"] = time.perf_counter() - clock
    return counts, "diff"


@dataclass(frozen=True, slots=True)
class _OpenRun:
    """A run recorded as running, and the start of the last succeeded run before it
    (None: there is none, so the run may load the mirror as its baseline)."""

    id: uuid.UUID
    started: datetime
    previous_started: datetime | None


async def _open_run(conn: AsyncConnection, operation_id: uuid.UUID | None) -> _OpenRun:
    """Record the run as running."""
    # We hold the lock, so a run still marked running belongs to a worker that died.
    await conn.execute(
        update(SyncRun)
        .where(SyncRun.status == OperationStatus.RUNNING)
        .values(
            status=OperationStatus.FAILED,
            finished_at=func.now(),
            error_message="interrupted: the worker stopped before the run finished",
        )
    )
    previous_started = (
        await conn.execute(
            select(func.max(SyncRun.started_at)).where(SyncRun.status == OperationStatus.SUCCEEDED)
        )
    ).scalar_one()
    row = (
        await conn.execute(
            insert(SyncRun)
            .values(id=uuid.uuid4(), status=OperationStatus.RUNNING, operation_id=operation_id)
            .returning(SyncRun.id, SyncRun.started_at)
        )
    ).one()
    await conn.commit()
    return _OpenRun(row.id, row.started_at, previous_started)


async def _end_run(
    conn: AsyncConnection, run_id: uuid.UUID, status: OperationStatus, **values: Any
) -> None:
    """Mark the run finished now with ``status`` and the other columns in ``values``."""
    await conn.execute(
        update(SyncRun)
        .where(SyncRun.id == run_id)
        .values(status=status, finished_at=func.clock_timestamp(), **values)
    )


async def _close_run(conn: AsyncConnection, run_id: uuid.UUID, counts: DiffCounts) -> None:
    # The counts the run's row has columns for (its drift items are rows of their own).
    columns = SyncRun.__table__.columns
    values = {name: n for name, n in dataclasses.asdict(counts).items() if name in columns}
    await _end_run(conn, run_id, OperationStatus.SUCCEEDED, **values)


async def _close_run_failed(
    conn: AsyncConnection,
    run_id: uuid.UUID,
    operation_id: uuid.UUID | None,
    code: str,
    message: str,
) -> None:
    await _end_run(conn, run_id, OperationStatus.FAILED, error_message=message)
    if operation_id is not None:
        failure = Failure(code, message)
        await finish_operation(conn, operation_id, OperationStatus.FAILED, failure=failure)
    await conn.commit()
