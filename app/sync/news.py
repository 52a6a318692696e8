"""The events a sync writes (app.events), in each transaction that changes the mirror:
``number.missing`` and ``number.deleted`` for every number this transaction made so
(explained or not), to its holder, and one ``sync.drift`` (admin) with the drift it
recorded.

The sync writes in a few set-based statements, so what they changed is found afterwards
by the rows' ``xmin``: the id of the transaction that wrote a row version, which is this
one's for exactly the rows this transaction wrote.
"""

from __future__ import annotations

import uuid

import msgspec
from sqlalchemy import TextClause, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.models import Allocation, Number, SyncDrift
from app.db.vocabulary import EventType, NumberState
from app.events.outbox import NewEvent, emit_all
from app.lib.structs import from_row
from app.numbers.schemas import number_out
from app.sync.schemas import DriftOut

#: Drift items an event carries; the run (``GET /v1/sync/runs/{id}``) has them all.
DRIFT_ITEMS = 100


def _written_here(table: str) -> TextClause:
    return text(f"{table}.xmin = pg_current_xact_id()::xid")


class SyncDriftData(msgspec.Struct):
    run: uuid.UUID
    drift_total: int
    """Drift items this part of the run recorded; ``drift`` holds the first of them."""
    drift: list[DriftOut]


_EVENT_OF_STATE = {
    NumberState.MISSING: EventType.NUMBER_MISSING,
    NumberState.DELETED: EventType.NUMBER_DELETED,
}


async def announce_changes(conn: AsyncConnection, run_id: uuid.UUID) -> None:
    """Emit the events of what this transaction wrote (call before its commit)."""
    # A deletion closed the holder's interval and cleared the holder (the database's
    # trigger, in this transaction): the holder is the tenant of the interval it closed.
    closed_here = (
        select(Allocation.tenant_id)
        .where(Allocation.number == Number.number, _written_here("allocations"))
        .order_by(Allocation.allocated_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    rows = await conn.execute(
        select(Number.__table__, closed_here.label("closed_holder"))
        .where(Number.state.in_(tuple(_EVENT_OF_STATE)), _written_here("numbers"))
        .order_by(Number.number)
    )
    events = [
        NewEvent(
            _EVENT_OF_STATE[NumberState(row.state)],
            row.tenant_id or row.closed_holder,
            number_out(row),
            row.number,
        )
        for row in rows
    ]
    drift = (
        await conn.execute(
            select(SyncDrift)
            .where(SyncDrift.run_id == run_id, _written_here("sync_drift"))
            .order_by(SyncDrift.id)
        )
    ).all()
    if drift:
        items = [from_row(DriftOut, row) for row in drift[:DRIFT_ITEMS]]
        data = SyncDriftData(run_id, len(drift), items)
        events.append(NewEvent(EventType.SYNC_DRIFT, None, data))
    await emit_all(conn, events)
