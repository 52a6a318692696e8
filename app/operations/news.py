"""The events an operation's end writes (app.events), in the transaction that records it.

``operation.succeeded`` or ``operation.failed`` with the operation as the API shows it,
and, for a number's successful operation, what became of the number: ``number.ordered``,
``number.updated``, ``number.deleting`` (at the end of its period) or ``number.deleted``,
with the number as the API shows it. Both go to the tenant the operation acted for (the
number's holder after the change, when it has one).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Number, Operation
from app.db.vocabulary import EventType, NumberState, OperationKind, OperationStatus
from app.events.outbox import NewEvent, emit_all
from app.numbers.schemas import number_out
from app.operations.schemas import operation_out


def _number_event(kind: str, state: str) -> EventType:
    if kind == OperationKind.ORDER:
        return EventType.NUMBER_ORDERED
    if kind == OperationKind.UPDATE:
        return EventType.NUMBER_UPDATED
    return EventType.NUMBER_DELETED if state == NumberState.DELETED else EventType.NUMBER_DELETING


async def announce_finish(session: AsyncSession, operation: Operation) -> None:
    """Emit the events of ``operation``'s end; call after its end is recorded, before the
    commit."""
    # The row as it will be committed: its changes written first (a refresh would drop
    # them), then read back with what the database set (updated_at).
    await session.flush()
    await session.refresh(operation)
    succeeded = operation.status == OperationStatus.SUCCEEDED
    events = [
        NewEvent(
            EventType.OPERATION_SUCCEEDED if succeeded else EventType.OPERATION_FAILED,
            operation.tenant_id,
            operation_out(operation),
            operation.number,
        )
    ]
    if succeeded and operation.number:
        number = await session.get(Number, operation.number, populate_existing=True)
        if number is not None:
            events.append(
                NewEvent(
                    _number_event(operation.kind, number.state),
                    # A deletion ended the holding (the database cleared the holder).
                    number.tenant_id or operation.tenant_id,
                    number_out(number),
                    number.number,
                )
            )
    await emit_all(session, events)
