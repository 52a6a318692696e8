"""Reading operations back: one by id, or a filtered page, newest first.

A tenant key sees the operations of its own tenant only; any other id is a 404, the
same answer as for an id that does not exist.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import OPERATION_KINDS, OPERATION_STATUSES, Operation
from app.lib.auth import Principal
from app.lib.errors import InvalidInput, NotFound
from app.lib.phone import InvalidPhoneNumber, normalize_number
from app.lib.tenancy import owned_by
from app.operations.schemas import OperationPage, operation_out

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


@dataclass(frozen=True, slots=True)
class OperationQuery:
    status: str | None = None
    kind: str | None = None
    number: str | None = None
    limit: int = DEFAULT_LIMIT
    after: tuple[datetime, uuid.UUID] | None = None

    @classmethod
    def parse(
        cls,
        status: str | None,
        kind: str | None,
        number: str | None,
        limit: int | None,
        cursor: str | None,
    ) -> OperationQuery:
        """Validate the query string; each problem is a 422 ``invalid_<parameter>``."""
        if status and status not in OPERATION_STATUSES:
            raise _invalid("status", status, f"one of {', '.join(OPERATION_STATUSES)}")
        if kind and kind not in OPERATION_KINDS:
            raise _invalid("kind", kind, f"one of {', '.join(OPERATION_KINDS)}")
        if number:
            try:
                # Lenient: a number seven handed us may be older than our metadata.
                number = normalize_number(number, strict=False)
            except InvalidPhoneNumber:
                raise _invalid("number", number, "a phone number such as 4915170264838") from None
        if limit is not None and not 1 <= limit <= MAX_LIMIT:
            raise _invalid("limit", limit, f"a whole number from 1 to {MAX_LIMIT}")
        return cls(
            status=status or None,
            kind=kind or None,
            number=number or None,
            limit=limit or DEFAULT_LIMIT,
            after=decode_cursor(cursor) if cursor else None,
        )


async def get_operation(
    session: AsyncSession, principal: Principal, operation_id: uuid.UUID
) -> Operation:
    found = await session.scalar(
        select(Operation).where(
            Operation.id == operation_id, owned_by(principal, Operation.tenant_id)
        )
    )
    if found is None:
        raise NotFound(f"There is no operation {operation_id}.", code="operation_not_found")
    return found


async def list_operations(
    session: AsyncSession, principal: Principal, query: OperationQuery
) -> OperationPage:
    rows = list((await session.scalars(_select(principal, query))).all())
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    last = rows[-1] if more else None
    return OperationPage(
        items=[operation_out(row) for row in rows],
        next_cursor=encode_cursor(last.created_at, last.id) if last else None,
    )


def _select(principal: Principal, query: OperationQuery) -> Select[tuple[Operation]]:
    stmt = select(Operation).where(owned_by(principal, Operation.tenant_id))
    if query.status:
        stmt = stmt.where(Operation.status == query.status)
    if query.kind:
        stmt = stmt.where(Operation.kind == query.kind)
    if query.number:
        stmt = stmt.where(Operation.number == query.number)
    if query.after:
        created, last_id = query.after
        stmt = stmt.where(
            or_(
                Operation.created_at < created,
                and_(Operation.created_at == created, Operation.id < last_id),
            )
        )
    order = (Operation.created_at.desc(), Operation.id.desc())
    return stmt.order_by(*order).limit(query.limit + 1)


def encode_cursor(created_at: datetime, operation_id: uuid.UUID) -> str:
    raw = f"{created_at.isoformat()}|{operation_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, _, operation_id = raw.partition("|")
        after = datetime.fromisoformat(created), uuid.UUID(operation_id)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        after = None
    if after is None or after[0].tzinfo is None:
        raise _invalid("cursor", cursor, "the next_cursor of a previous page")
    return after


def _invalid(parameter: str, value: object, expected: str) -> InvalidInput:
    return InvalidInput(
        f"invalid {parameter} {str(value)[:60]!r}: expected {expected}",
        code=f"invalid_{parameter}",
        details={"parameter": parameter, "expected": expected},
    )
