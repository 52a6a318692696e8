"""Reading operations back: one by id, or a filtered page, newest first.

A tenant key sees the operations of its own tenant only; any other id is a 404, the
same answer as for an id that does not exist.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Operation
from app.db.vocabulary import BULK_OPERATION_KINDS, IN_FLIGHT, OperationStatus
from app.lib.auth import Principal
from app.lib.errors import NotFound
from app.lib.pagination import Keyset, Page, PageQuery
from app.lib.tenancy import owned_by
from app.operations.schemas import OperationOut, Progress, operation_out

PAGES = Keyset(Operation.created_at, Operation.id, descending=True, limit=50, max_limit=200)


@dataclass(frozen=True, slots=True)
class OperationQuery:
    page: PageQuery
    status: str | None = None
    kind: str | None = None
    number: str | None = None
    parent: uuid.UUID | None = None


async def get_operation(
    session: AsyncSession, principal: Principal, operation_id: uuid.UUID
) -> OperationOut:
    found = await _visible(session, principal, operation_id)
    return operation_out(found, (await progress_of(session, [found])).get(found.id))


async def _visible(
    session: AsyncSession, principal: Principal, operation_id: uuid.UUID
) -> Operation:
    visible = owned_by(principal, Operation.tenant_id)
    found = await session.scalar(select(Operation).where(Operation.id == operation_id, visible))
    if found is None:
        raise NotFound(f"There is no operation {operation_id}.", code="operation_not_found")
    return found


async def progress_of(
    session: AsyncSession, operations: Sequence[Operation]
) -> dict[uuid.UUID, Progress]:
    """The children of each bulk operation among ``operations``, counted in one query."""
    parents = [op.id for op in operations if op.kind in BULK_OPERATION_KINDS]
    if not parents:
        return {}
    counts = await session.execute(
        select(Operation.parent_id, Operation.status, func.count())
        .where(Operation.parent_id.in_(parents))
        .group_by(Operation.parent_id, Operation.status)
    )
    tallies: dict[uuid.UUID, dict[str, int]] = {parent: {} for parent in parents}
    for parent, status, count in counts:
        tallies[parent][status] = count
    return {parent: progress(tally) for parent, tally in tallies.items()}


def progress(by_status: Mapping[str, int]) -> Progress:
    """Children counted by status, as ``progress`` shows them."""
    return Progress(
        succeeded=by_status.get(OperationStatus.SUCCEEDED, 0),
        failed=by_status.get(OperationStatus.FAILED, 0),
        pending=sum(by_status.get(status, 0) for status in IN_FLIGHT),
    )


async def list_operations(
    session: AsyncSession, principal: Principal, query: OperationQuery
) -> Page[OperationOut]:
    stmt = select(Operation).where(owned_by(principal, Operation.tenant_id))
    if query.status:
        stmt = stmt.where(Operation.status == query.status)
    if query.kind:
        stmt = stmt.where(Operation.kind == query.kind)
    if query.number:
        stmt = stmt.where(Operation.number == query.number)
    if query.parent:
        stmt = stmt.where(Operation.parent_id == query.parent)
    rows = (await session.scalars(PAGES.select(stmt, query.page))).all()
    counted = await progress_of(session, rows)
    return PAGES.page(rows, query.page).map(lambda row: operation_out(row, counted.get(row.id)))
