"""Orders awaiting an admin's approval: approving, rejecting and expiring them.

An order beyond its tenant's monthly budget, for a tenant whose ``over_budget`` is
``approve``, is created ``awaiting_approval`` (app.operations.service): no job, nothing
asked of seven, its number shown as ``ordering`` with the operation pending (nothing is
reserved at seven: seven may sell the number meanwhile, and the approved order then fails
as seven refuses it). Approving makes it ``queued``, an ordinary order from then on (paid
once, as every order: app.operations.executor); rejecting or expiring fails it, and its
number with it, as a failed order does.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import Actor, audited
from app.db.models import Number, Operation
from app.db.vocabulary import EventType, NumberState, OperationStatus
from app.events.outbox import emit
from app.lib.errors import Conflict, NotFound
from app.lib.params import invalid
from app.operations.lifecycle import Failure, finish_operation
from app.operations.schemas import operation_out

REJECTED = "rejected"
MAX_REASON_LENGTH = 500
APPROVAL_EXPIRED = "approval_expired"


async def approve(session: AsyncSession, actor: Actor, operation_id: uuid.UUID) -> Operation:
    """Queue an order awaiting approval (the caller commits it and hands it to a worker)."""
    async with audited(session, actor, "operation.approve", f"operation:{operation_id}") as note:
        operation = await _awaiting(session, operation_id)
        note.tenant_id = operation.tenant_id
        operation.status = OperationStatus.QUEUED
        await session.flush()
        await session.refresh(operation)
        await emit(
            session,
            EventType.OPERATION_APPROVED,
            tenant=operation.tenant_id,
            data=operation_out(operation),
            number=operation.number,
        )
    return operation


async def reject(
    session: AsyncSession, actor: Actor, operation_id: uuid.UUID, reason: str
) -> Operation:
    """Fail an order awaiting approval with the admin's reason (the caller commits)."""
    async with audited(session, actor, "operation.reject", f"operation:{operation_id}") as note:
        reason = " ".join(reason.split())
        if not 1 <= len(reason) <= MAX_REASON_LENGTH:
            raise invalid("reason", reason, f"1 to {MAX_REASON_LENGTH} characters")
        note.details["reason"] = reason
        operation = await _awaiting(session, operation_id)
        note.tenant_id = operation.tenant_id
        await _fail(session, operation, Failure(REJECTED, f"Rejected by an admin: {reason}"))
        await session.refresh(operation)
    return operation


async def expire_approvals(session: AsyncSession, ttl: timedelta) -> int:
    """Fail the orders awaiting approval for longer than ``ttl`` (``approval_expired``),
    and commit; how many. Safe to run at once in two workers (each takes the rows the
    other has not locked)."""
    due = (
        await session.scalars(
            select(Operation)
            .where(
                Operation.status == OperationStatus.AWAITING_APPROVAL,
                Operation.created_at <= func.now() - ttl,
            )
            .with_for_update(skip_locked=True)
        )
    ).all()
    hours = int(ttl.total_seconds() // 3600)
    failure = Failure(APPROVAL_EXPIRED, f"Not approved within {hours} hours of the order.")
    for operation in due:
        await _fail(session, operation, failure)
    await session.commit()
    return len(due)


async def _awaiting(session: AsyncSession, operation_id: uuid.UUID) -> Operation:
    """The operation, locked, if it awaits approval; else 404 or 409."""
    operation = await session.get(
        Operation, operation_id, with_for_update=True, populate_existing=True
    )
    if operation is None:
        raise NotFound(f"There is no operation {operation_id}.", code="operation_not_found")
    if operation.status != OperationStatus.AWAITING_APPROVAL:
        raise Conflict(
            f"This operation is {operation.status}, not awaiting approval.",
            code="operation_not_awaiting_approval",
            details={"status": operation.status},
        )
    return operation


async def _fail(session: AsyncSession, operation: Operation, failure: Failure) -> None:
    """End the order as a failed one ends: its number ``failed`` and no longer pending."""
    await session.execute(
        update(Number)
        .where(Number.number == operation.number, Number.pending_operation_id == operation.id)
        .values(state=NumberState.FAILED, pending_operation_id=None, updated_at=func.now())
    )
    await finish_operation(session, operation.id, OperationStatus.FAILED, failure=failure)
