"""What became of the number, written when a number's operation succeeds (app.events), in
the transaction that records it: ``number.ordered``, ``number.updated``,
``number.deleting`` (at the end of its period) or ``number.deleted``, with the number as
the API shows it, to its holder (the operation's tenant, when the deletion ended the
holding). It is written with the operation's own event (app.operations.lifecycle), in one
statement.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Number, Operation
from app.db.vocabulary import EventType, NumberState, OperationKind, OperationStatus
from app.events.outbox import NewEvent
from app.numbers.schemas import number_out


def _number_event(kind: str, state: str) -> EventType:
    if kind == OperationKind.ORDER:
        return EventType.NUMBER_ORDERED
    if kind == OperationKind.UPDATE:
        return EventType.NUMBER_UPDATED
    return EventType.NUMBER_DELETED if state == NumberState.DELETED else EventType.NUMBER_DELETING


async def number_news(session: AsyncSession, operation: Operation, status: str) -> NewEvent | None:
    """What a number's operation that ended with ``status`` made of the number, as the
    event to write with the operation's own (app.operations.lifecycle); read after the
    number's row is written, in the transaction that records the end."""
    if status != OperationStatus.SUCCEEDED or not operation.number:
        return None
    number = await session.get(Number, operation.number, populate_existing=True)
    if number is None:
        return None
    return NewEvent(
        _number_event(operation.kind, number.state),
        # A deletion ended the holding (the database cleared the holder).
        tenant=number.tenant_id or operation.tenant_id,
        data=number_out(number),
        number=number.number,
    )
