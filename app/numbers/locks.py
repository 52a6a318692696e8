"""Deletion locks: an admin's hold on a number that refuses every DELETE of it until lifted.

A lock is three columns of the number's row, set and cleared under the row's lock
(``FOR UPDATE``). A DELETE takes the same row lock while it checks the number and creates
its operation (app.operations.service calls :func:`check_unlocked` there), so the database
orders a lock and a deletion: no deletion slips past a lock committed before it, and a
lock is refused while a deletion is already under way (it could not stop it).

A lock binds this service only: a number deleted at seven some other way is found gone
by the sync as before.
"""

from __future__ import annotations

from datetime import UTC

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import Actor, audited
from app.db.models import Number, Operation
from app.db.vocabulary import AuditActor, EventType, NumberState, OperationKind
from app.events.outbox import emit
from app.lib.auth import Principal
from app.lib.errors import Conflict, NotFound
from app.lib.params import parse_number
from app.numbers.schemas import number_out


def who(principal: Principal) -> str:
    """A caller as a lock names it: the key's id, or which keyless admin it was."""
    if principal.actor == AuditActor.CLI:
        return "the operator CLI"
    if principal.actor == AuditActor.BOOTSTRAP:
        return "the bootstrap admin key (ADMIN_API_KEY)"
    return f"API key {principal.key_id}"


def check_unlocked(row: Number) -> None:
    """409 ``deletion_locked`` for a locked number; call with ``row`` locked."""
    if row.deletion_locked_at is None:
        return
    when = row.deletion_locked_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    why = f": {row.deletion_lock_reason}" if row.deletion_lock_reason else ""
    raise Conflict(
        f"Number {row.number} is locked against deletion by {row.deletion_locked_by} since "
        f"{when}{why}. An admin lifts the lock: DELETE /v1/numbers/{row.number}/deletion-lock.",
        code="deletion_locked",
        details={
            "locked_at": when,
            "locked_by": row.deletion_locked_by,
            "reason": row.deletion_lock_reason,
        },
    )


async def lock(
    session: AsyncSession, actor: Actor, number_text: str, reason: str | None = None
) -> Number:
    """Lock the number against deletion (again: the lock is replaced by this one)."""
    async with audited(session, actor, "number.lock") as note:
        row = await _locked_row(session, number_text)
        note.target, note.tenant_id = f"number:{row.number}", row.tenant_id
        note.details = {"reason": reason}
        await _check_lockable(session, row)
        row.deletion_locked_at = (await session.execute(select(func.now()))).scalar_one()
        row.deletion_locked_by = who(actor.principal)
        row.deletion_lock_reason = reason or None
        row.updated_at = row.deletion_locked_at
        await _announce(session, row)
    return row


async def unlock(session: AsyncSession, actor: Actor, number_text: str) -> Number:
    """Lift the number's deletion lock; a number without one stays as it is."""
    async with audited(session, actor, "number.unlock") as note:
        row = await _locked_row(session, number_text)
        note.target, note.tenant_id = f"number:{row.number}", row.tenant_id
        if row.deletion_locked_at is not None:
            note.details = {
                "locked_at": row.deletion_locked_at.isoformat(),
                "locked_by": row.deletion_locked_by,
                "reason": row.deletion_lock_reason,
            }
            row.deletion_locked_at = row.deletion_locked_by = row.deletion_lock_reason = None
            row.updated_at = (await session.execute(select(func.now()))).scalar_one()
            await _announce(session, row)
    return row


async def _locked_row(session: AsyncSession, number_text: str) -> Number:
    number = parse_number(number_text)
    row = await session.get(Number, number, with_for_update=True)
    if row is None:
        raise NotFound(f"There is no number {number} on the account.", code="number_not_found")
    return row


async def _check_lockable(session: AsyncSession, row: Number) -> None:
    """A lock is refused where it could not hold: the number is gone, or going already."""
    gone: dict[str, tuple[str, str]] = {
        NumberState.DELETED: ("number_deleted", "has been deleted"),
        NumberState.FAILED: ("number_not_active", "failed to be ordered: it is not on the account"),
    }
    if row.state in gone:
        code, what = gone[row.state]
        raise Conflict(f"Number {row.number} {what}.", code=code, details={"state": row.state})
    if row.state == NumberState.DELETING:
        raise Conflict(
            f"Number {row.number} is already scheduled for deletion at seven; a lock "
            "cannot stop that.",
            code="number_deleting",
            details={"state": row.state},
        )
    if row.pending_operation_id is not None:
        pending = await session.get(Operation, row.pending_operation_id)
        if pending is not None and pending.kind == OperationKind.DELETE:
            raise Conflict(
                f"A deletion of number {row.number} is already under way (operation "
                f"{pending.id}); a lock cannot stop it.",
                code="deletion_pending",
                details={"operation": str(pending.id)},
            )


async def _announce(session: AsyncSession, row: Number) -> None:
    """``number.updated`` to the holder (none: the admin's), with the number as read."""
    await session.flush()
    await emit(
        session,
        EventType.NUMBER_UPDATED,
        tenant=row.tenant_id,
        data=number_out(row),
        number=row.number,
    )
