"""Carrying out one operation at seven: the worker's half of order, update and delete.

How the ground truths (architecture.md) are kept:

* **One runner per operation.** A session-level advisory lock on the operation is held on
  the run's own connection from start to end (commits do not release it; a killed
  worker's connection closes and Postgres releases it at once). A second copy of the job
  finds it taken and stops. The reconciler reads the same lock to tell a live run from
  a dead one. A connection whose unlock failed is discarded, never pooled with the lock.
* **Jobs run at least once.** A finished operation is left as it is.
* **Money leaves only once.** ``submitted_at`` (the recovery point) is committed just
  before a paid or destructive write (an order, a deletion). The client sorts seven's
  answer into success, refusal or unknown (``app/seven/errors.py``):

  - a clear success is committed at once as ``accepted_at``; from then on the write is
    never sent again, and the steps after it (reading the number back, its friendly
    name) are retried on their own; an accepted order never ends ``failed``;
  - a clear refusal proves nothing happened: the recovery point is cleared (a 429 or an
    unreachable seven is retried; a refused order or delete fails the operation);
  - unknown (a timeout, a dropped connection, a 5xx, an answer of no documented shape):
    nothing is sent again until seven has been read, and it is not read before
    ``settle_after``, when seven can no longer be carrying the write out. An order is
    done when the number is on the account, a deletion when seven no longer lists the
    number (immediately) or lists it with an ``expires`` (at the end of its period).
    "Not on the account" is read only from seven's documented not-found answer or,
    when the single-number read answers anything else, from seven's whole list.

  A run that dies mid-write leaves ``submitted_at`` without an outcome; the next run
  treats it like an unknown answer, with ``settle_after`` set before the call.
* **One round trip for one statement.** The run's connection commits each statement on
  its own (app.db.autocommit): the lock, the read, and each commit of the operation
  alone (the recovery point, seven's acceptance, a failed attempt) are one UPDATE, so
  each costs one round trip, not three. The end (the mirror row, the finish hooks, the
  outcome and its events) is several statements and runs in one transaction.
* **Retries in one place**, timed by :mod:`app.operations.policy`; every attempt is
  counted and committed before it is made, so a crash loop cannot retry forever. A run
  makes one attempt; the wait before the next is a :class:`Wait` the job adapter turns
  into a deferred job, so nothing is held while seven asks us to wait.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
import structlog
from sqlalchemy import func, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from app.db.autocommit import commit_each_statement
from app.db.locks import release_lock, try_lock
from app.db.models import Number, Operation
from app.db.vocabulary import FINISHED, NUMBER_OPERATION_KINDS, NumberState, OperationStatus
from app.lib.metrics import JOB_RETRIES
from app.numbers.mirror import columns_from_active, state_for
from app.operations.lifecycle import Failure, FinishHook, finish_operation
from app.operations.news import number_news
from app.operations.params import DeleteParams, OrderParams, params_of
from app.operations.policy import RetryPolicy, exhausted, failure_for
from app.seven.client import SevenClient
from app.seven.errors import (
    NumberNotOnAccount,
    OutcomeUnknown,
    RateLimited,
    SevenError,
    UpstreamUnavailable,
)
from app.seven.types import ActiveNumber, NumberUpdate

log = structlog.get_logger(__name__)


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


@dataclass(frozen=True, slots=True)
class OperationRunner:
    """Runs operations by id; one instance per worker process."""

    engine: AsyncEngine
    seven: SevenClient
    policy: RetryPolicy
    finish_hooks: Sequence[FinishHook] = ()

    async def run(self, operation_id: uuid.UUID) -> str | Wait:
        """Make the operation's next attempt; its status, a :class:`Wait`, or ``busy`` if
        another run has it."""
        async with holding(self.engine, operation_id, statements_commit_alone=True) as session:
            if session is None:
                return "busy"
            operation = await session.get(Operation, operation_id)
            # A sync or a bulk operation has a job of its own.
            if operation is None or operation.kind not in NUMBER_OPERATION_KINDS:
                return "not_found"
            # The job's log line (app.lib.job_run) carries the API request's id.
            structlog.contextvars.bind_contextvars(request_id=operation.request_id)
            # Awaiting approval: nothing goes to seven until an admin approves it
            # (a job for it can only be a stray one).
            if operation.status in (*FINISHED, OperationStatus.AWAITING_APPROVAL):
                return operation.status
            # The read committed as it ran; this ends the session's record of it, so
            # the run's changes to ``operation`` wait in memory until it commits them.
            await session.commit()
            run = _Run(session, self.seven, self.policy, self.finish_hooks, operation)
            return await run.execute()


@asynccontextmanager
async def holding(
    engine: AsyncEngine, operation_id: uuid.UUID, *, statements_commit_alone: bool = False
) -> AsyncIterator[AsyncSession | None]:
    """A session on a connection that holds the operation's advisory lock until the block
    ends; None when another run holds it. A job (an operation's, a bulk operation's)
    runs its pass inside, so one pass at a time works on an operation.

    The lock and its release are one statement each and commit on their own; the session
    does the same with ``statements_commit_alone``, else it runs in transactions."""
    key = lock_key(operation_id)
    async with engine.connect() as connection:
        await _commit_each_statement(connection, True)
        if not await try_lock(connection, key):
            yield None
            return
        try:
            await _commit_each_statement(connection, statements_commit_alone)
            async with AsyncSession(bind=connection, expire_on_commit=False) as session:
                yield session
        finally:
            # Closing the session ended its transaction, if it had one.
            await _commit_each_statement(connection, True)
            await release_lock(connection, key)


async def _commit_each_statement(connection: AsyncConnection, on: bool) -> None:
    """The switch, or the connection discarded: one that may hold the lock must not be
    returned to the pool without its release (app.db.locks)."""
    try:
        await commit_each_statement(connection, on)
    except BaseException:
        await connection.invalidate()
        raise


class _Run:
    """One run of one operation, on a session whose connection holds its lock."""

    def __init__(
        self,
        session: AsyncSession,
        seven: SevenClient,
        policy: RetryPolicy,
        finish_hooks: Sequence[FinishHook],
        operation: Operation,
    ) -> None:
        self.session = session
        self.seven = seven
        self.policy = policy
        self.finish_hooks = finish_hooks
        self.op = operation
        self.params = params_of(operation)
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
        op.status = OperationStatus.RUNNING
        settling = self._seconds_until_settled()
        if settling > 0:
            # seven may still be carrying out an unsettled write: reading now could find
            # nothing and order twice, or give up on an order that still goes through
            # (giving up reads seven too). Checked before the attempts and the budget.
            return Wait(settling)
        if op.attempts >= self.policy.max_attempts or self._elapsed() >= self.policy.budget_seconds:
            await self._give_up(None)
            return op.status
        # Committed with the recovery point, before the write: a crash loop ends too.
        op.attempts += 1
        try:
            match self.params:
                case OrderParams():
                    await self._order(self.params)
                case NumberUpdate():
                    await self._update(self.params)
                case DeleteParams():
                    await self._delete(self.params)
            return op.status
        except SevenError as error:
            return await self._after(error)

    async def _after(self, error: SevenError) -> str | Wait:
        """The attempt failed with ``error``: finish the operation, or wait and retry."""
        op = self.op
        self.log.info("attempt_failed", attempt=op.attempts, code=error.code)
        if self._refusal_decides(error):
            await self._fail(failure_for(error))
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
        await self._commit_operation()
        JOB_RETRIES.labels("process_operation", error.code).inc()
        return Wait(max(delay, self._seconds_until_settled()))

    def _refusal_decides(self, error: SevenError) -> bool:
        """A refusal ends the operation only when it refused the write itself: once seven
        accepted it, or while an earlier write is unsettled, only reading seven decides."""
        if not error.refused or error.transient:
            return False
        return self.op.accepted_at is None and self._unsettled() is False

    async def _give_up(self, last: SevenError | None) -> None:
        """Out of attempts or time: end with what seven is known to have done."""
        op = self.op
        if op.accepted_at is not None:
            await self._accepted_but_unconfirmed()
            return
        if self._unsettled():
            try:  # one last look: a write that went through must not be reported failed
                if await self._settled_by(await self._read_truth()):
                    return
                op.submitted_at = None  # seven's answer shows the write did not happen
            except SevenError as error:
                last = error
        # Without an error from this run, the last one an earlier run recorded.
        code = last.code if last else op.error_code or "outcome_unknown"
        message = last.message if last else op.error_message or "no answer from seven"
        await self._fail(
            exhausted(code, message, op.attempts, self._elapsed(), unsettled=self._unsettled())
        )

    # -- the three kinds --------------------------------------------------------------

    async def _order(self, params: OrderParams) -> None:
        op = self.op
        active: ActiveNumber | None = None
        if op.accepted_at is None:
            if self._unsettled():
                active = await self._read_truth()
                if active is None:
                    op.submitted_at = None  # the order never happened: ordering is safe
            if active is None:
                await self._send(lambda: self.seven.order(self.number, params.payment_interval))
            await self._accepted()
        if active is None:
            active = await self._read_back()
        await self._succeed(await self._with_friendly_name(active, params.friendly_name))

    async def _update(self, changes: NumberUpdate) -> None:
        # PATCH sets absolute values, so sending it again is harmless: no recovery point.
        try:
            active = await self.seven.update(self.number, changes)
        except NumberNotOnAccount:
            if await self._read_truth() is None:
                await self._fail(
                    Failure(
                        "number_not_on_account",
                        "seven no longer has this number on the account; the next sync "
                        "will show it as removed.",
                    )
                )
                return
            raise OutcomeUnknown(
                "seven answered the change with not-found but still lists the number"
            ) from None
        await self._succeed(active)

    async def _delete(self, params: DeleteParams) -> None:
        op = self.op
        immediately = params.delete_immediately
        if op.accepted_at is None:
            if self._unsettled():
                if await self._settled_by(await self._read_truth()):
                    return
                op.submitted_at = None  # seven still has it as it was: not deleted
            try:
                await self._send(
                    lambda: self.seven.delete(self.number, delete_immediately=immediately)
                )
            except NumberNotOnAccount:
                # The goal, if seven's own list agrees: a read says what the 404 meant.
                if await self._read_truth() is None:
                    await self._deleted(None)
                    return
                raise OutcomeUnknown(
                    "seven answered the deletion with not-found but still lists the number"
                ) from None
            if immediately:
                await self._deleted(None)
                return
            await self._accepted()
        # Deleted at the end of the period: read back when that is.
        try:
            active: ActiveNumber | None = await self.seven.get_active(self.number)
        except NumberNotOnAccount:
            active = None
        if active is not None and not active.expires:
            raise OutcomeUnknown("seven accepted the deletion but shows no end date yet")
        await self._deleted(active)

    # -- talking to seven ------------------------------------------------------------

    async def _send(self, write: Callable[[], Awaitable[None]]) -> None:
        """Send a paid or destructive write behind its recovery point."""
        op = self.op
        op.submitted_at = _now()
        op.settle_after = self.policy.settle_after_sending(op.submitted_at)
        # Cleared with the recovery point: every way the write can end sets an error or
        # finishes the operation; a run that finds neither knows a run died mid-write.
        op.error_code = op.error_message = None
        await self._commit_operation()
        try:
            await write()
        except SevenError as error:
            if error.refused:
                op.submitted_at = op.settle_after = None  # provably nothing happened
            else:
                op.settle_after = self.policy.settle_after_answer(_now())
            raise

    async def _accepted(self) -> None:
        """seven said yes: commit that fact before anything else can go wrong."""
        self.op.accepted_at = _now()
        self.op.error_code = self.op.error_message = None
        await self._commit_operation()

    async def _read_back(self) -> ActiveNumber:
        """The ordered number as seven shows it; a not-found means "not yet", never "no"."""
        try:
            return await self.seven.get_active(self.number)
        except NumberNotOnAccount:
            raise OutcomeUnknown("seven accepted the order but does not list it yet") from None

    async def _with_friendly_name(self, active: ActiveNumber, wanted: str | None) -> ActiveNumber:
        """seven's order takes no name, so it is set after the order (PATCH is idempotent).
        A refused name does not undo a paid order: it is reported in the result."""
        if not wanted or active.friendly_name == wanted:
            return active
        try:
            return await self.seven.update(self.number, NumberUpdate(friendly_name=wanted))
        except SevenError as error:
            if not error.refused or error.transient:
                raise
            self._warn(error.code, f"the friendly name was not set: {error.message}")
            return active

    async def _read_truth(self) -> ActiveNumber | None:
        """What seven has: the number, or None when it is surely not on the account.

        Raises when seven cannot tell right now (ask again later)."""
        try:
            return await self.seven.get_active(self.number)
        except NumberNotOnAccount:
            return None
        except (RateLimited, UpstreamUnavailable):
            raise
        except SevenError as error:
            # This answer says nothing about the number; seven's whole list does.
            self.log.info("settle_read_ambiguous", code=error.code)
        return await self.seven.find_active(self.number)

    # -- recording outcomes ----------------------------------------------------------

    async def _settled_by(self, active: ActiveNumber | None) -> bool:
        """Record an unsettled write as done if seven's state shows it; True = recorded."""
        if isinstance(self.params, OrderParams):
            if active is None:
                return False
            self.log.info("settled_by_reading", state=state_for(active))
            await self._succeed(active)
            return True
        immediately = isinstance(self.params, DeleteParams) and self.params.delete_immediately
        if active is None or (active.expires and not immediately):
            state = NumberState.DELETED if active is None else NumberState.DELETING
            self.log.info("settled_by_reading", state=state)
            await self._deleted(active)
            return True
        return False

    async def _succeed(self, active: ActiveNumber) -> None:
        columns = columns_from_active(active)
        del columns["number"]
        number = {"state": state_for(active), "synced_at": _now(), **columns}
        result = {**(self.op.result or {}), **_builtins(active)}
        await self._finish(OperationStatus.SUCCEEDED, number, result=result)
        self.log.info("operation_succeeded", attempts=self.op.attempts)

    async def _accepted_but_unconfirmed(self) -> None:
        """seven accepted the write but never showed its result within the budget. It
        bills an accepted order, so the operation succeeds; the sync fills in the rest."""
        state = NumberState.ACTIVE if isinstance(self.params, OrderParams) else NumberState.DELETING
        self._warn(
            "not_confirmed",
            "seven accepted the request but did not show its result in time; the next "
            "sync brings the number's details.",
        )
        result = {**(self.op.result or {}), "confirmed": False}
        await self._finish(OperationStatus.SUCCEEDED, {"state": state}, result=result)
        self.log.warning("operation_accepted_unconfirmed", attempts=self.op.attempts)

    async def _deleted(self, active: ActiveNumber | None) -> None:
        if active is None:
            number: dict[str, Any] = {"state": NumberState.DELETED, "synced_at": _now()}
            result: dict[str, Any] = {"deleted": True}
        else:
            columns = columns_from_active(active)
            del columns["number"]
            number = {"state": state_for(active), "synced_at": _now(), **columns}
            result = {"deleted": False, "expires": active.expires}
        await self._finish(OperationStatus.SUCCEEDED, number, result=result)
        self.log.info("operation_succeeded", attempts=self.op.attempts)

    async def _fail(self, failure: Failure) -> None:
        failed_order = isinstance(self.params, OrderParams)
        number = {"state": NumberState.FAILED} if failed_order else {}
        await self._finish(OperationStatus.FAILED, number, failure=failure)
        self.log.warning("operation_failed", code=failure.code, attempts=self.op.attempts)

    async def _commit_operation(self) -> None:
        """Commit what the run changed on the operation: one UPDATE, committing on its
        own. Anything else pending would commit apart from it, so nothing else may be."""
        session = self.session
        assert not session.new and not session.deleted
        assert all(pending is self.op for pending in session.dirty)
        await session.commit()

    async def _finish(
        self,
        status: OperationStatus,
        number: dict[str, Any],
        *,
        result: dict[str, Any] | None = None,
        failure: Failure | None = None,
    ) -> None:
        """End the operation in one transaction: the mirror row's new ``number`` columns,
        what other capabilities do then (the finish hooks), the outcome and its events."""
        connection = self.session.bind
        assert isinstance(connection, AsyncConnection)
        await commit_each_statement(connection, False)
        try:
            await self._finish_number(**number)
            succeeded, at = status == OperationStatus.SUCCEEDED, _now()
            for hook in self.finish_hooks:
                await hook(self.session, self.op, succeeded, at)
            news = await number_news(self.session, self.op, status)
            await finish_operation(
                self.session,
                self.op.id,
                status,
                result=result,
                failure=failure,
                news=[news] if news else [],
            )
            await self.session.commit()
        finally:
            if not self.session.in_transaction():
                await commit_each_statement(connection, True)

    async def _finish_number(self, **values: Any) -> None:
        if "state" in values:
            # Whatever seven said settles a missing number (a DELETE may be sent for one).
            values["missing_since"] = None
        await self.session.execute(
            update(Number)
            .where(Number.number == self.number)
            .values(pending_operation_id=None, updated_at=func.now(), **values)
        )

    def _warn(self, code: str, message: str) -> None:
        """Note a step that failed without undoing what seven accepted."""
        result = dict(self.op.result or {})
        warnings = [w for w in result.get("warnings", []) if w["code"] != code]
        result["warnings"] = [*warnings, {"code": code, "message": message}]
        self.op.result = result
        self.log.warning("operation_warning", code=code)

    # -- facts about the operation ---------------------------------------------------

    def _unsettled(self) -> bool:
        """A paid or destructive write went out and nothing has decided its outcome."""
        return self.op.submitted_at is not None and self.op.accepted_at is None

    def _seconds_until_settled(self) -> float:
        """How long before an unsettled write may be read back from seven (0: now)."""
        op = self.op
        if not self._unsettled():
            return 0.0
        assert op.submitted_at is not None
        # A recovery point from before settle_after existed: a run that died mid-write.
        settle_after = op.settle_after or self.policy.settle_after_sending(op.submitted_at)
        return max(0.0, (settle_after - _now()).total_seconds())

    def _elapsed(self) -> float:
        started = self.op.started_at or _now()
        return (_now() - started).total_seconds()


def _builtins(active: ActiveNumber) -> dict[str, Any]:
    result: dict[str, Any] = msgspec.to_builtins(active)
    return result
