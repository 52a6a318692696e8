"""What a holder set goes with the holder (architecture.md, ground truth 9).

A tenant holding a number may set its forwarding (SMS, e-mail, Slack) and its friendly
name at seven. When the holding ends while seven still has the number, those settings are
cleared through an ordinary ``update`` operation, which the worker's executor carries out
with its retries and fault handling, and the number is nobody's to take until that has
succeeded. ``numbers.handover`` says where it stands: ``clearing`` (the update is
pending), ``clearing_failed``, ``uncleared`` (see "deleted" below); NULL once nothing of a
previous holder is left.

* :func:`release` ends the holder's allocation interval (the cost reports attribute the
  number to the holder up to then) and, in the same transaction, queues the clearing.
  A release while another operation on the number is pending is refused (409
  ``number_busy``): the clearing must be the last write the holder's time leaves behind.
* :func:`settle_handover` runs in the worker's transaction that finishes an operation
  (through the finish hook in app.pools.finish). A clearing that succeeded has written
  seven's answer (no forwarding, no name) to the mirror; the handover ends and the
  cool-down starts: ``available_at`` is that moment plus the pool's ``cooldown_days``. A
  failed one leaves the number ``clearing_failed``, still not allocatable, until an admin
  clears it again (:func:`clear`).
* Allocation takes only numbers whose ``handover`` is NULL (app.pools.service), so a new
  holder, and anything built from the number when it is handed over (an event, later),
  sees seven's answer to the clearing, never the previous holder's settings.

A holding that ends another way:

* **deleted** (the trigger of migrations 0005 and 0009, whoever writes the state):
  nothing is left at seven to clear, and the number becomes ``uncleared``. Should seven
  list it again, the sync adds it back without a holder and with whatever seven shows;
  it is not allocatable until an admin's clearing has succeeded. Ordered again, it is a
  new rental: the mirror starts from seven's answer (app.operations.service) and the
  order's success ends the handover.
* **missing**: the sync keeps the holder while it has not confirmed the number
  gone, so nothing ends; confirmed gone, it is deleted as above; found again, holder and
  settings are as they were. A holder may still release a missing number: the clearing
  is queued as for any other. If seven has the number, it clears it and seven's answer
  ends ``missing``; if not, it fails (``number_not_on_account``), the number stays
  ``clearing_failed`` and the sync settles the rest.
* A holding of a number seven does not have (a failed order) ends with nothing to clear.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import Actor, audited
from app.db.models import Allocation, Number, Operation, Pool
from app.db.rows import get_or_raise
from app.db.vocabulary import LIVE_STATES, Handover, NumberState, OperationKind
from app.lib.errors import Conflict, NotFound
from app.lib.params import parse_number
from app.lib.tenancy import visible_numbers
from app.operations.service import add_update
from app.pools.service import db_now
from app.seven.types import NumberUpdate

# Every setting a holder can make at seven, emptied.
CLEARED = NumberUpdate(friendly_name="", sms_forward=[], email_forward=[], slack_forward=[])


@dataclass(frozen=True, slots=True)
class Released:
    allocation: Allocation
    clearing: Operation | None
    """The update clearing what the holder set; None when seven does not have the number."""


async def release(
    session: AsyncSession, actor: Actor, raw_number: str, *, at: datetime | None = None
) -> Released:
    """End the holder's interval and queue the clearing of what it set at seven; the
    number rests in its pool from the clearing's success for the pool's cool-down."""
    async with audited(session, actor, "allocation.release") as note:
        digits = parse_number(raw_number)
        note.target = f"number:{digits}"
        number = await session.scalar(
            select(Number)
            .where(Number.number == digits, visible_numbers(actor.principal))
            .with_for_update()
        )
        if number is None or number.tenant_id is None:
            raise NotFound(f"number {digits} is not allocated to you", code="not_allocated")
        if number.state == NumberState.ORDERING:
            raise Conflict(
                f"number {digits} is still being ordered; release it once it is active",
                code="number_being_ordered",
            )
        at = at or await db_now(session)
        allocation = await session.scalar(
            select(Allocation)
            .where(Allocation.number == digits, Allocation.released_at.is_(None))
            .with_for_update()
        ) or _interval_since_creation(session, number, at)
        note.tenant_id = allocation.tenant_id
        clearing = None
        # seven may have the number, and with it what the holder set.
        if number.state in LIVE_STATES:
            clearing = await _queue_clearing(session, actor, number, allocation.tenant_id)
        allocation.released_at = at
        # With a clearing, the cool-down starts when it has succeeded (settle_handover).
        allocation.available_at = None if clearing else at
        number.tenant_id = None
        number.updated_at = at
        note.details = {"clearing_operation": str(clearing.id) if clearing else None}
    return Released(allocation, clearing)


def _interval_since_creation(session: AsyncSession, number: Number, at: datetime) -> Allocation:
    """The interval of a number held without one (ordered straight for a tenant before
    the order hook opened intervals): held since it was created, as far as we know."""
    since = min(number.seven_created_at or number.inserted_at, at)
    allocation = Allocation(
        number=number.number, pool_id=number.pool_id, tenant_id=number.tenant_id, allocated_at=since
    )
    session.add(allocation)
    return allocation


async def clear(session: AsyncSession, actor: Actor, raw_number: str) -> Operation:
    """Queue the clearing of a number nobody holds again (admin): after a failed one, for
    a number seven lists again after its deletion, or whenever an admin doubts what is
    left at seven. It is not allocatable until the clearing has succeeded."""
    async with audited(session, actor, "allocation.clear") as note:
        digits = parse_number(raw_number)
        note.target = f"number:{digits}"
        missing = NotFound(f"number {digits} is not on the account", code="number_not_found")
        number = await get_or_raise(session, Number, digits, missing, lock=True)
        if number.tenant_id is not None:
            raise Conflict(
                f"number {digits} is allocated to a tenant, whose settings these are; "
                "release it to clear them",
                code="number_allocated",
            )
        if number.state not in LIVE_STATES:
            raise Conflict(
                f"number {digits} is {number.state}: seven does not have it, so there is "
                "nothing to clear there",
                code="nothing_to_clear",
                details={"state": number.state},
            )
        # The operation belongs to whoever's settings it clears, as the release's does.
        previous = await session.scalar(
            select(Allocation.tenant_id)
            .where(Allocation.number == digits)
            .order_by(Allocation.allocated_at.desc())
            .limit(1)
        )
        note.tenant_id = previous
        operation = await _queue_clearing(session, actor, number, previous)
        note.details = {"clearing_operation": str(operation.id)}
    return operation


async def _queue_clearing(
    session: AsyncSession, actor: Actor, number: Number, tenant: uuid.UUID | None
) -> Operation:
    operation = await add_update(session, actor, number, CLEARED, tenant)
    number.handover = Handover.CLEARING
    number.handover_operation_id = operation.id
    return operation


async def settle_handover(
    session: AsyncSession, operation: Operation, *, succeeded: bool, at: datetime
) -> None:
    """For the worker, in the transaction that finishes ``operation`` at ``at``.

    A clearing that succeeded ends the handover and starts the cool-down of the number's
    last interval; one that failed leaves the number ``clearing_failed``. An order that
    succeeded is a new rental, which carries nothing of a previous one. Safe to repeat:
    a handover already settled is left as it is.
    """
    if operation.number is None or operation.kind not in (
        OperationKind.ORDER,
        OperationKind.UPDATE,
    ):
        return
    if operation.kind == OperationKind.ORDER:
        if succeeded:
            await session.execute(
                update(Number)
                .where(Number.number == operation.number, Number.handover.is_not(None))
                .values(handover=None, handover_operation_id=None)
            )
        return
    this_clearing = (
        Number.number == operation.number,
        Number.handover_operation_id == operation.id,
        Number.handover.is_not(None),
    )
    if not succeeded:
        await session.execute(
            update(Number).where(*this_clearing).values(handover=Handover.CLEARING_FAILED)
        )
        return
    cleared = (
        await session.execute(
            update(Number)
            .where(*this_clearing)
            .values(handover=None, handover_operation_id=None)
            .returning(Number.pool_id)
        )
    ).first()
    if cleared is None:
        return
    last = await session.scalar(
        select(Allocation)
        .where(Allocation.number == operation.number)
        .order_by(Allocation.allocated_at.desc())
        .limit(1)
        .with_for_update()
    )
    if last is None or last.released_at is None:
        return
    pool_id = last.pool_id or cleared.pool_id
    pool = await session.get(Pool, pool_id) if pool_id else None
    cooldown = pool.cooldown_days if pool else 0
    last.available_at = max(at, last.released_at) + timedelta(days=cooldown)
    await session.flush()
