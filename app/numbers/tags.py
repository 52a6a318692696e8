"""Setting a number's tags: a change of the service's own, never sent to seven.

The row is locked and read with the tenancy rule in the one statement, so a tenant key
changes only a number its tenant holds (any other is not found, as on every read). The
change, its audit row and its ``number.updated`` event commit together.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import Actor, audited
from app.db.models import Number
from app.db.vocabulary import EventType
from app.events.outbox import emit
from app.lib.tags import checked_tags
from app.lib.tenancy import scope_numbers
from app.numbers.schemas import NumberOut, number_out
from app.numbers.service import number_not_found


async def replace_tags(
    session: AsyncSession, actor: Actor, number: str, tags: dict[str, str]
) -> NumberOut:
    """Replace ``number``'s tags (digits, normalized) with ``tags``; the number as read."""
    async with audited(session, actor, "number.tags", f"number:{number}") as note:
        wanted = checked_tags(tags)
        stmt = scope_numbers(select(Number), actor.principal).where(Number.number == number)
        row = await session.scalar(stmt.with_for_update())
        if row is None:
            raise number_not_found(number)
        note.tenant_id = row.tenant_id
        note.details = {"before": row.tags, "after": wanted}
        # ``updated_at`` stays: a deleted number's costs end on it (app.costs.sql).
        row.tags = wanted
        await session.flush()
        out = number_out(row)
        await emit(session, EventType.NUMBER_UPDATED, tenant=row.tenant_id, data=out, number=number)
    return out
