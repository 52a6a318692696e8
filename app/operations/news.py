"""What became of the number, written when a number's operation succeeds (app.events), in
the transaction that records it: ``number.ordered``, ``number.updated``,
``number.deleting`` (at the end of its period) or ``number.deleted``, with the number as
the API shows it, to its holder (the operation's tenant, when the deletion ended the
holding). The operation's own event comes with its end (app.operations.lifecycle).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Number, Operation
from app.db.vocabulary import EventType, NumberState, OperationKind, OperationStatus
from app.events.outbox import emit
from app.numbers.schemas import number_out


def _number_event(kind: str, state: str) -> EventType:
    if kind == OperationKind.ORDER:
        return EventType.NUMBER_ORDERED
    if kind == OperationKind.UPDATE:
        return EventType.NUMBER_UPDATED
    return EventType.NUMBER_DELETED if state == NumberState.DELETED else EventType.NUMBER_DELETING


async def announce_number(session: AsyncSession, operation: Operation, status: str) -> None:
    """Emit what a number's operation that ended with ``status`` made of the number; call
    after the number's row is written, before the commit."""
    if status != OperationStatus.SUCCEEDED or not operation.number:
        return
    number = await session.get(Number, operation.number, populate_existing=True)
    if number is None:
        return
    await emit(
        session,
        _number_event(operation.kind, number.state),
        # A deletion ended the holding (the database cleared the holder).
        tenant=number.tenant_id or operation.tenant_id,
        data=number_out(number),
        number=number.number,
    )
