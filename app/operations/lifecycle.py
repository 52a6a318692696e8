"""How an operation ends, written in one place for the executor and the sync alike."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.db.models import Operation
from app.db.vocabulary import EventType, OperationStatus
from app.events.outbox import NewEvent, emit_all
from app.operations.schemas import operation_out

#: What another capability does when an operation ends, given the operation, whether it
#: succeeded and when: the pools end a clearing's handover and open an order's allocation.
#: It runs in the transaction that records the end, so both commit together or not at all,
#: and must be safe to repeat (jobs run at least once). The worker names the hooks
#: (workers/settings.py), so operations imports none of the capabilities that lean on it.
FinishHook = Callable[[AsyncSession, Operation, bool, datetime], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Failure:
    """Why an operation failed: a stable code and a message a person can act on."""

    code: str
    message: str


async def finish_operation(
    db: AsyncSession | AsyncConnection,
    operation_id: uuid.UUID,
    status: OperationStatus,
    *,
    result: dict[str, Any] | None = None,
    failure: Failure | None = None,
    news: Sequence[NewEvent] = (),
) -> None:
    """Record the operation's end (uncommitted): its status, when, and why it failed, with
    its ``operation.succeeded`` or ``operation.failed`` event, then ``news`` (other events
    of the same end), all in one statement.

    ``result`` replaces the stored one when given (None keeps it: a failure keeps the
    warnings a run noted). On a session, the operation loaded in it is updated too.
    """
    values: dict[str, Any] = {
        "status": status,
        # From this process's clock, like the run's other moments (started_at,
        # submitted_at): a session sets it on the loaded operation as it is.
        "finished_at": datetime.now(UTC),
        "error_code": failure.code if failure else None,
        "error_message": failure.message if failure else None,
    }
    if result is not None:
        values["result"] = result
    ended = (
        await db.execute(
            update(Operation)
            .where(Operation.id == operation_id)
            .values(**values)
            .returning(*Operation.__table__.columns)
        )
    ).one()
    # The news of it, in the same transaction (app.events).
    succeeded = status == OperationStatus.SUCCEEDED
    ended_event = NewEvent(
        EventType.OPERATION_SUCCEEDED if succeeded else EventType.OPERATION_FAILED,
        tenant=ended.tenant_id,
        data=operation_out(ended),
        number=ended.number,
    )
    await emit_all(db, [ended_event, *news])
