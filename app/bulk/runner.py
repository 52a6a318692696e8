"""Carrying out a bulk operation: the worker's passes over one parent.

Each pass runs under the parent's advisory lock (the executor's, so the reconciler tells
a live run from a dead one the same way) and starts from what Postgres holds, never
from memory: a worker killed mid-pass leaves children that are committed or not there,
and the next pass counts them again. So a bulk order never has more than ``count``
orders pending or done, and never tries a number twice.

* **bulk_order**: the open places (``count`` minus the children that succeeded, are
  pending, or failed for a reason a new number cannot cure) are filled from a fresh
  search of seven's offer, one child at a time, each an ordinary order (submit_order:
  the mirror's row locks, the in-flight index, the executor's recovery point). A child
  seven refuses because its number was taken meanwhile (``order_refused``) opens its
  place again for another number. The parent succeeds once ``count`` children have;
  it fails ``offer_exhausted`` when places stay open, nothing is pending and seven's
  offer has no number left to try, or ``bulk_incomplete`` when a child failed for
  another reason (credit, credentials, seven out of reach).
* **bulk_update**: the first pass gives every matching active number its ``update``
  child in one transaction; a number busy with another operation then is skipped and
  named in the parent's ``warnings``. The parent succeeds when every child has and
  none was skipped, else fails ``bulk_incomplete``.

Between passes the parent waits (a deferred job); its children run as any operation.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
import structlog
from arq import ArqRedis
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.db.models import ApiKey, Number, Operation
from app.db.vocabulary import (
    BULK_OPERATION_KINDS,
    FINISHED,
    IN_FLIGHT,
    KeyScope,
    NumberState,
    OperationStatus,
)
from app.lib.auth import Actor, Principal
from app.lib.errors import Conflict, InvalidInput
from app.lib.queue import commit_and_enqueue, enqueue_operation
from app.lib.tags import TagFilter
from app.numbers.service import tag_conditions
from app.operations.executor import Wait, holding
from app.operations.lifecycle import Failure, finish_operation
from app.operations.limits import LIMIT_EXCEEDED
from app.operations.params import BulkOrderParams, BulkUpdateParams, params_of
from app.operations.policy import RetryPolicy
from app.operations.reads import progress
from app.operations.schemas import OrderCreate, Progress
from app.operations.service import add_update, submit_order
from app.search.schemas import SearchQuery
from app.search.service import fitting_offer
from app.seven.client import SevenClient
from app.seven.errors import SevenError
from app.seven.types import AvailableFees, AvailableNumber

log = structlog.get_logger(__name__)

#: How long a parent waits for its children between passes.
POLL_SECONDS = 1.0
#: The failure of a child order that another number can make good: seven refused that
#: number (it was taken meanwhile).
REPLACEABLE = "order_refused"


def _now() -> datetime:
    return datetime.now(UTC)


async def _authority(session: AsyncSession, parent: Operation) -> Actor:
    """The parent's caller, on whose behalf (and with whose rights: a tenant key's child
    orders are held to what that key may order) each child is created, carrying its key
    and request id. A parent without a key came from the bootstrap key or the CLI."""
    key = await session.get(ApiKey, parent.api_key_id) if parent.api_key_id else None
    if key is None:
        principal = Principal(scope=KeyScope.ADMIN, key_id=None, tenant_id=None)
    else:
        principal = Principal(scope=KeyScope(key.scope), key_id=key.id, tenant_id=key.tenant_id)
    return Actor(principal, request_id=parent.request_id)


@dataclass(frozen=True, slots=True)
class _Child:
    number: str
    status: str
    error_code: str | None


@dataclass(frozen=True, slots=True)
class BulkRunner:
    """Runs bulk operations by id; one instance per worker process."""

    engine: AsyncEngine
    seven: SevenClient
    queue: ArqRedis
    policy: RetryPolicy

    async def run(self, operation_id: uuid.UUID) -> str | Wait:
        """One pass: the parent's final status, a :class:`Wait`, or ``busy``."""
        async with holding(self.engine, operation_id) as session:
            if session is None:
                return "busy"
            parent = await session.get(Operation, operation_id)
            if parent is None or parent.kind not in BULK_OPERATION_KINDS:
                return "not_found"
            structlog.contextvars.bind_contextvars(request_id=parent.request_id)
            if parent.status in FINISHED:
                return parent.status
            params = params_of(parent)
            if isinstance(params, BulkOrderParams):
                return await self._order_pass(session, parent, params)
            assert isinstance(params, BulkUpdateParams)
            return await self._update_pass(session, parent, params)

    # -- bulk_order -------------------------------------------------------------------

    async def _order_pass(
        self, session: AsyncSession, parent: Operation, params: BulkOrderParams
    ) -> str | Wait:
        await _started(session, parent)
        children = await _children(session, parent.id)
        succeeded = _count(children, OperationStatus.SUCCEEDED)
        pending = sum(_count(children, status) for status in IN_FLIGHT)
        lost = sum(
            1
            for child in children
            if child.status == OperationStatus.FAILED and child.error_code != REPLACEABLE
        )
        open_places = params.count - succeeded - pending - lost
        if open_places > 0:
            try:
                candidates = await self._candidates(params, {c.number for c in children})
            except SevenError as error:
                return await self._search_failed(session, parent, error, pending)
            for candidate in candidates:
                if open_places == 0:
                    break
                try:
                    ordered = await self._order_child(session, parent, params, candidate)
                except Conflict as beyond:  # the tenant's limits: no other number helps
                    counts = _progress(await _children(session, parent.id))
                    return await _finish(
                        session, parent, counts, Failure(beyond.code, beyond.message)
                    )
                if ordered:
                    open_places -= 1
                    pending += 1
        if pending:
            return Wait(POLL_SECONDS)
        children = await _children(session, parent.id)
        counts = _progress(children)
        if counts.succeeded >= params.count:
            return await _finish(session, parent, counts, None)
        summary = (
            f"{counts.succeeded} of {params.count} numbers ordered; {counts.failed} "
            f"orders failed ({_count_code(children, REPLACEABLE)} because seven no longer "
            "offered the number)"
        )
        failure = (
            Failure("bulk_incomplete", f"{summary}; see the failed children for why.")
            if lost
            else Failure("offer_exhausted", f"{summary}; seven offers no other fitting number.")
        )
        return await _finish(session, parent, counts, failure)

    async def _candidates(self, params: BulkOrderParams, tried: set[str]) -> list[AvailableNumber]:
        """seven's offer now, without the numbers this parent has tried already. seven
        filters only on a feature being present, and may list other countries: both are
        checked here too. Asked with no transaction open (``_children`` ended it)."""
        offer = await fitting_offer(
            self.seven, SearchQuery.wanting(params.country, params.features)
        )
        return [offered for offered in offer if offered.number not in tried]

    async def _order_child(
        self,
        session: AsyncSession,
        parent: Operation,
        params: BulkOrderParams,
        candidate: AvailableNumber,
    ) -> bool:
        """Order ``candidate`` as one child (priced with the fees seven quoted for it, for
        a tenant's budget); False when the mirror has it in hand already (held, being
        ordered by someone else, ...): the next candidate is tried. Beyond one of the
        tenant's limits raises :class:`Conflict`."""
        number = candidate.number

        async def quoted(_number: str, _country: str) -> AvailableFees | None:
            return candidate.fees

        order = OrderCreate(
            number=number,
            payment_interval=params.payment_interval,
            pool=params.pool,
            tenant=parent.tenant_id,
        )
        try:
            actor = await _authority(session, parent)
            submitted = await submit_order(session, actor, order, key=None, offered_fees=quoted)
        except (Conflict, InvalidInput) as refused:
            await session.rollback()
            if refused.code == LIMIT_EXCEEDED:
                raise
            log.info("bulk_candidate_skipped", number=number, code=refused.code)
            return False
        submitted.operation.parent_id = parent.id
        await commit_and_enqueue(session, self.queue, submitted.operation)
        return True

    async def _search_failed(
        self, session: AsyncSession, parent: Operation, error: SevenError, pending: int
    ) -> str | Wait:
        """seven's offer could not be read: wait and read again, within the attempts an
        operation has (pending children are waited for, whatever seven says)."""
        parent.attempts += 1
        parent.error_code, parent.error_message = error.code, error.message
        await session.commit()
        if pending == 0 and parent.attempts >= self.policy.max_attempts:
            counts = _progress(await _children(session, parent.id))
            failure = Failure(
                error.code, f"seven's offer could not be read to order more: {error.message}"
            )
            return await _finish(session, parent, counts, failure)
        return Wait(max(POLL_SECONDS, self.policy.delay(parent.attempts, error)))

    # -- bulk_update ------------------------------------------------------------------

    async def _update_pass(
        self, session: AsyncSession, parent: Operation, params: BulkUpdateParams
    ) -> str | Wait:
        if parent.started_at is None:
            await self._give_updates(session, parent, params)
        children = await _children(session, parent.id)
        counts = _progress(children)
        if counts.pending:
            return Wait(POLL_SECONDS)
        skipped = len((parent.result or {}).get("warnings", []))
        if counts.failed == 0 and skipped == 0:
            return await _finish(session, parent, counts, None)
        summary = (
            f"{counts.succeeded} of {len(children) + skipped} numbers changed; "
            f"{counts.failed} changes failed, {skipped} numbers skipped (busy)"
        )
        return await _finish(session, parent, counts, Failure("bulk_incomplete", summary))

    async def _give_updates(
        self, session: AsyncSession, parent: Operation, params: BulkUpdateParams
    ) -> None:
        """Every matching number's ``update`` child, with the parent's start, in one
        commit: a later pass finds them all or none."""
        stmt = select(Number).where(Number.state == NumberState.ACTIVE)
        if params.pool is not None:
            stmt = stmt.where(Number.pool_id == params.pool)
        if params.tenant is not None:
            stmt = stmt.where(Number.tenant_id == params.tenant)
        stmt = stmt.where(*tag_conditions(TagFilter(key, value) for key, value in params.tags))
        rows = (await session.scalars(stmt.order_by(Number.number).with_for_update())).all()
        actor = await _authority(session, parent)
        children: list[Operation] = []
        skipped: list[dict[str, Any]] = []
        for row in rows:
            if row.pending_operation_id is not None:
                skipped.append(
                    {
                        "code": "number_busy",
                        "message": f"{row.number} was not changed: another operation on "
                        "it was in progress.",
                    }
                )
                continue
            child = await add_update(session, actor, row, params.changes, row.tenant_id)
            child.parent_id = parent.id
            children.append(child)
        parent.status = OperationStatus.RUNNING
        parent.started_at = _now()
        if skipped:
            parent.result = {"warnings": skipped}
        await session.commit()
        await self._hand_over(children)

    async def _hand_over(self, children: Sequence[Operation]) -> None:
        """Enqueue committed children; any Redis lost, the reconciler enqueues."""
        try:
            for child in children:
                await enqueue_operation(self.queue, child.id, child.kind)
        except (RedisError, OSError) as error:
            log.warning("enqueue_failed", operation=str(child.id), error=type(error).__name__)


async def _started(session: AsyncSession, parent: Operation) -> None:
    if parent.started_at is None:
        parent.status = OperationStatus.RUNNING
        parent.started_at = _now()
    await session.commit()


async def _children(session: AsyncSession, parent_id: uuid.UUID) -> list[_Child]:
    rows = await session.execute(
        select(Operation.number, Operation.status, Operation.error_code).where(
            Operation.parent_id == parent_id
        )
    )
    children = [_Child(number or "", status, code) for number, status, code in rows]
    await session.commit()  # end the read: seven may be asked next
    return children


def _count(children: Sequence[_Child], status: str) -> int:
    return sum(1 for child in children if child.status == status)


def _count_code(children: Sequence[_Child], code: str) -> int:
    return sum(1 for child in children if child.error_code == code)


def _progress(children: Sequence[_Child]) -> Progress:
    by_status: dict[str, int] = {}
    for child in children:
        by_status[child.status] = by_status.get(child.status, 0) + 1
    return progress(by_status)


async def _finish(
    session: AsyncSession, parent: Operation, counts: Progress, failure: Failure | None
) -> str:
    """End the parent with its children's counts (its ``operation.*`` event carries them)."""
    status = OperationStatus.FAILED if failure else OperationStatus.SUCCEEDED
    result = {**(parent.result or {}), "progress": msgspec.to_builtins(counts)}
    await finish_operation(session, parent.id, status, result=result, failure=failure)
    await session.commit()
    log.info("bulk_finished", status=status, **msgspec.to_builtins(counts))
    return status
