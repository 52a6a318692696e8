"""Carrying out one operation at seven: the worker's half of order, update and delete.

How the ground truths (architecture.md) are kept:

* **One runner per operation.** A session-level advisory lock on the operation is held on
  the run's own connection from start to end (commits do not release it; a killed
  worker's connection closes and Postgres releases it at once). A second copy of the job
  finds it taken and stops. The reconciler reads the same lock to tell a live run from
  a dead one.
* **Jobs run at least once.** A finished operation is left as it is.
* **Money leaves only once.** ``submitted_at`` is committed just before each write to
  seven. A run that finds it set asks seven first (``GET /numbers/active/:number``) and
  writes again only when seven's answer shows the write did not happen.
* **Retries in one place**, decided by :mod:`app.operations.policy`; every attempt is
  counted and committed before it is made, so a crash loop cannot retry forever. A run
  makes one attempt; the wait before the next is a :class:`Wait` the job adapter turns
  into a deferred job, so nothing is held while seven asks us to wait.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
import structlog
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.db.models import Number, Operation
from app.lib.metrics import JOB_RETRIES
from app.numbers.mirror import columns_from_active, state_for
from app.operations.policy import (
    Failure,
    RetryPolicy,
    exhausted,
    failure_for,
    may_have_been_processed,
    verdict,
)
from app.pools.ordering import allocate_ordered_number
from app.seven.client import SevenClient
from app.seven.errors import NumberNotOnAccount, OutcomeUnknown, SevenError
from app.seven.types import ActiveNumber, NumberUpdate

log = structlog.get_logger(__name__)

FINISHED = ("succeeded", "failed")


@dataclass(frozen=True, slots=True)
class Wait:
    """The run stopped to wait before its next attempt; run the operation again after it.

    Waiting happens outside the run (the arq adapter defers the job): no worker slot, no
    database connection and no lock is held while seven asks us to wait.
    """

    seconds: float


def lock_key(operation_id: uuid.UUID) -> int:
    """The advisory-lock key of an operation: 63 bits of its id, never negative, so
    ``pg_locks``' two 32-bit halves (classid, objid) compose back into it."""
    return int.from_bytes(operation_id.bytes[:8], "big") >> 1


_LOCK_HELD = text(
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND objsubid = 1 AND database = (SELECT oid FROM pg_database"
    " WHERE datname = current_database())"
    " AND ((classid::bigint << 32) | objid::bigint) = :key)"
)


async def lock_held(session: AsyncSession, operation_id: uuid.UUID) -> bool:
    """Is some process carrying out this operation right now? (Reads, never takes, the lock.)"""
    return bool(await session.scalar(_LOCK_HELD, {"key": lock_key(operation_id)}))


def _now() -> datetime:
    return datetime.now(UTC)


class OperationRunner:
    """Runs operations by id; one instance per worker process."""

    def __init__(
        self,
        engine: AsyncEngine,
        seven: SevenClient,
        policy: RetryPolicy,
    ) -> None:
        self._engine = engine
        self._seven = seven
        self._policy = policy

    async def run(self, operation_id: uuid.UUID) -> str | Wait:
        """Make the operation's next attempt; its status, a :class:`Wait`, or ``busy`` if
        another run has it."""
        key = lock_key(operation_id)
        async with self._engine.connect() as connection:
            locked = await connection.scalar(select(func.pg_try_advisory_lock(key)))
            await connection.commit()
            if not locked:
                return "busy"
            try:
                async with AsyncSession(bind=connection, expire_on_commit=False) as session:
                    operation = await session.get(Operation, operation_id)
                    if operation is None or operation.kind == "sync":
                        return "not_found"
                    # The job's log line (app.lib.job_run) carries the API request's id.
                    structlog.contextvars.bind_contextvars(request_id=operation.request_id)
                    if operation.status in FINISHED:
                        return operation.status
                    run = _Run(session, self._seven, self._policy, operation)
                    return await run.execute()
            finally:
                await connection.execute(select(func.pg_advisory_unlock(key)))
                await connection.commit()


class _Run:
    """One run of one operation, on a session whose connection holds its lock."""

    def __init__(
        self,
        session: AsyncSession,
        seven: SevenClient,
        policy: RetryPolicy,
        operation: Operation,
    ) -> None:
        self.session = session
        self.seven = seven
        self.policy = policy
        self.op = operation
        self.number: str = operation.number or ""
        self.log = log.bind(
            operation=str(operation.id),
            kind=operation.kind,
            number=self.number,
            request_id=operation.request_id,
        )

    # -- one attempt ------------------------------------------------------------------

    async def execute(self) -> str | Wait:
        """One attempt: the operation's final status, or how long to wait before the next."""
        op = self.op
        op.started_at = op.started_at or _now()
        op.status = "running"
        in_flight_for = self._orphaned_write_age()
        if in_flight_for is not None and in_flight_for < self.policy.settle_seconds:
            # A run died while its write was under way; seven may still be carrying it out.
            # Reading now could find nothing and order twice, or give up on an order that
            # still goes through (giving up reads seven too): ask once it must be over.
            return Wait(self.policy.settle_seconds - in_flight_for)
        if op.attempts >= self.policy.max_attempts or self._elapsed() >= self.policy.budget_seconds:
            await self._give_up(None)
            return op.status
        # Committed with the recovery point, before the write: a crash loop ends too.
        op.attempts += 1
        try:
            await self._attempt()
            return op.status
        except SevenError as error:
            self.log.info("attempt_failed", attempt=op.attempts, code=error.code)
            if await self._decided_by(error):
                return op.status
            delay = self.policy.delay(op.attempts, error)
            if op.attempts >= self.policy.max_attempts or (
                self._elapsed() + delay > self.policy.budget_seconds
            ):
                await self._give_up(error)
                return op.status
            # While it waits, the operation shows what went wrong last (status running);
            # the next run also learns from it why the budget may run out.
            op.error_code, op.error_message = error.code, error.message
            await self.session.commit()
            JOB_RETRIES.labels("process_operation", error.code).inc()
            return Wait(delay)

    async def _attempt(self) -> None:
        op = self.op
        if op.submitted_at is not None and await self._settle():
            return
        op.submitted_at = _now()
        # Cleared with the recovery point: every way the write can end sets an error or
        # finishes the operation, so a later run that finds neither knows this run died
        # mid-write (see _orphaned_write_age).
        op.error_code = op.error_message = None
        # The recovery point (with status and attempts): from here on, ask before resending.
        await self.session.commit()
        try:
            await self._write()
        except SevenError as error:
            if not may_have_been_processed(error):
                op.submitted_at = None  # provably nothing happened at seven
            raise

    async def _decided_by(self, error: SevenError) -> bool:
        """Finish the operation if ``error`` decides it; False = retry."""
        if (self.op.result or {}).get("accepted"):
            return False  # seven took the order: only reading it back is left to do
        if isinstance(error, NumberNotOnAccount):
            if self.op.kind == "delete":
                await self._deleted(None)  # the goal (not on the account) is reached
                return True
            if self.op.kind == "update":
                await self._fail(
                    Failure(
                        "number_not_on_account",
                        "seven no longer has this number on the account; the next sync "
                        "will show it as removed.",
                    )
                )
                return True
            return False  # settled by reading on the next attempt
        if verdict(error) == "fail":
            await self._fail(failure_for(error))
            return True
        return False

    async def _give_up(self, last: SevenError | None) -> None:
        unsettled = self.op.submitted_at is not None and self.op.kind != "update"
        if unsettled:
            try:  # one last look: a write that went through must not be reported failed
                if await self._settle():
                    return
                unsettled = False  # seven's answer shows the write did not happen
            except SevenError as error:
                last = error
        # Without an error from this run, the last one an earlier run recorded.
        code = last.code if last else self.op.error_code or "outcome_unknown"
        message = last.message if last else self.op.error_message or "no answer from seven"
        await self._fail(
            exhausted(code, message, self.op.attempts, self._elapsed(), unsettled=unsettled)
        )

    def _orphaned_write_age(self) -> float | None:
        """Seconds since a write whose run died before it ended; None if there is none."""
        op = self.op
        if op.submitted_at is None or op.error_code is not None or op.kind == "update":
            return None  # PATCH is safe to resend whenever
        return (_now() - op.submitted_at).total_seconds()

    def _elapsed(self) -> float:
        started = self.op.started_at or _now()
        return (_now() - started).total_seconds()

    # -- talking to seven ------------------------------------------------------------

    async def _write(self) -> None:
        params = self.op.params
        if self.op.kind == "order":
            await self.seven.order(self.number, params.get("payment_interval", "annually"))
            # seven said yes: from now on only reading is safe, never ordering again. Kept
            # in memory and committed with the outcome, or with the error if the read fails.
            self.op.result = {"accepted": True}
            await self._ordered(await self.seven.get_active(self.number))
        elif self.op.kind == "update":
            changes = msgspec.convert(params, NumberUpdate)
            await self._succeed(await self.seven.update(self.number, changes))
        else:
            immediately = bool(params.get("delete_immediately"))
            await self.seven.delete(self.number, delete_immediately=immediately)
            await self._deleted(None if immediately else await self.seven.get_active(self.number))

    async def _settle(self) -> bool:
        """Ask seven what became of an earlier write; True = settled (and recorded)."""
        if self.op.kind == "update":
            return False  # PATCH sets absolute values: sending it again is harmless
        try:
            active = await self.seven.get_active(self.number)
        except NumberNotOnAccount:
            if self.op.kind == "delete":
                await self._deleted(None)
                return True
            if (self.op.result or {}).get("accepted"):
                raise OutcomeUnknown("seven accepted the order but does not list it yet") from None
            return False  # the order never happened: ordering again is safe
        self.log.info("settled_by_reading", state=state_for(active))
        if self.op.kind == "order":
            await self._ordered(active)
            return True
        if not self.op.params.get("delete_immediately") and active.expires:
            await self._deleted(active)
            return True
        return False

    async def _ordered(self, active: ActiveNumber) -> None:
        wanted = self.op.params.get("friendly_name")
        if wanted and active.friendly_name != wanted:
            # seven's order takes no name; PATCH is idempotent, so any run may send it.
            active = await self.seven.update(self.number, NumberUpdate(friendly_name=wanted))
        await self._succeed(active)

    # -- recording outcomes ----------------------------------------------------------

    async def _succeed(self, active: ActiveNumber) -> None:
        columns = columns_from_active(active)
        del columns["number"]
        await self._finish_number(state=state_for(active), synced_at=_now(), **columns)
        if self.op.kind == "order":
            # An order placed for a tenant opens its allocation in the same transaction,
            # so the cost reports attribute the number from the day it became active.
            await allocate_ordered_number(self.session, self.op)
        self._finish("succeeded", result=msgspec.to_builtins(active))
        await self.session.commit()
        self.log.info("operation_succeeded", attempts=self.op.attempts)

    async def _deleted(self, active: ActiveNumber | None) -> None:
        if active is None:
            await self._finish_number(state="deleted", synced_at=_now())
            result: dict[str, Any] = {"deleted": True}
        else:
            columns = columns_from_active(active)
            del columns["number"]
            await self._finish_number(state=state_for(active), synced_at=_now(), **columns)
            result = {"deleted": False, "expires": active.expires}
        self._finish("succeeded", result=result)
        await self.session.commit()
        self.log.info("operation_succeeded", attempts=self.op.attempts)

    async def _fail(self, failure: Failure) -> None:
        changes: dict[str, Any] = {"state": "failed"} if self.op.kind == "order" else {}
        await self._finish_number(**changes)
        self._finish("failed", error=failure)
        await self.session.commit()
        self.log.warning("operation_failed", code=failure.code, attempts=self.op.attempts)

    async def _finish_number(self, **values: Any) -> None:
        await self.session.execute(
            update(Number)
            .where(Number.number == self.number)
            .values(pending_operation_id=None, updated_at=func.now(), **values)
        )

    def _finish(
        self, status: str, *, result: dict[str, Any] | None = None, error: Failure | None = None
    ) -> None:
        op = self.op
        op.status = status
        op.finished_at = _now()
        op.error_code = error.code if error else None
        op.error_message = error.message if error else None
        if result is not None:
            op.result = result
