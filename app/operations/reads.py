"""Reading operations back: one by id, or a filtered page, newest first.

A tenant key sees the operations of its own tenant only; any other id is a 404, the
same answer as for an id that does not exist.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Operation
from app.lib.auth import Principal
from app.lib.errors import NotFound
from app.lib.pagination import Keyset, PageQuery
from app.lib.tenancy import owned_by
from app.operations.schemas import OperationPage, operation_out

PAGES = Keyset(Operation.created_at, Operation.id, descending=True, limit=50, max_limit=200)


@dataclass(frozen=True, slots=True)
class OperationQuery:
    page: PageQuery
    status: str | None = None
    kind: str | None = None
    number: str | None = None


async def get_operation(
    session: AsyncSession, principal: Principal, operation_id: uuid.UUID
) -> Operation:
    visible = owned_by(principal, Operation.tenant_id)
    found = await session.scalar(select(Operation).where(Operation.id == operation_id, visible))
    if found is None:
        raise NotFound(f"There is no operation {operation_id}.", code="operation_not_found")
    return found


async def list_operations(
    session: AsyncSession, principal: Principal, query: OperationQuery
) -> OperationPage:
    stmt = select(Operation).where(owned_by(principal, Operation.tenant_id))
    if query.status:
        stmt = stmt.where(Operation.status == query.status)
    if query.kind:
        stmt = stmt.where(Operation.kind == query.kind)
    if query.number:
        stmt = stmt.where(Operation.number == query.number)
    rows = (await session.scalars(PAGES.select(stmt, query.page))).all()
    return PAGES.page(rows, query.page).map(operation_out)
