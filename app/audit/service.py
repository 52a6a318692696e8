"""The audit trail: one append-only row per request that changes something.

Services write the row in the caller's transaction, so a change and its audit row
commit together or not at all. ``audited`` wraps a verb: on success it adds the
``ok`` row (the caller commits: a request when its handler returns); on a refusal it
rolls the change back and commits a row with the refusal's code instead, so attempts
are on record too.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Text, case, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import AuditEntry, Pool, Tenant
from app.lib.auth import Actor
from app.lib.errors import ServiceError
from app.lib.pagination import Keyset, Page, PageQuery

OK = "ok"
# Newest first; ids only grow.
PAGES = Keyset(AuditEntry.id, descending=True, limit=100, max_limit=1000)


@dataclass(slots=True)
class AuditNote:
    """What a verb learns while it runs and wants on its audit row."""

    target: str | None = None
    # The tenant acted for, when an admin acts for one; else the caller's own tenant.
    tenant_id: uuid.UUID | None = None
    details: dict[str, Any] = field(default_factory=dict)
    # What a create names the row it makes by (see ``creating``): on the audit row only
    # when the create succeeds.
    created_target: str | None = None
    created_tenant_id: uuid.UUID | None = None

    def creating(self, target: str, tenant_id: uuid.UUID | None = None) -> None:
        """The row this verb creates: its target (and, for a tenant, its id) go on the
        ``ok`` row; a refused create (a taken name, ...) committed nothing, so its row
        names no id of a thing that does not exist."""
        self.created_target, self.created_tenant_id = target, tenant_id

    def _succeeded(self) -> tuple[str | None, uuid.UUID | None]:
        return (self.created_target or self.target, self.created_tenant_id or self.tenant_id)


def record(
    session: AsyncSession,
    actor: Actor,
    action: str,
    target: str | None,
    outcome: str = OK,
    details: dict[str, Any] | None = None,
    tenant_id: uuid.UUID | None = None,
) -> None:
    """Add an audit row to ``session``'s transaction (the caller commits)."""
    session.add(
        AuditEntry(
            actor=actor.principal.actor,
            api_key_id=actor.principal.key_id,
            scope=actor.principal.scope,
            tenant_id=tenant_id or actor.principal.tenant_id,
            action=action,
            target=target,
            request_id=actor.request_id,
            outcome=outcome,
            details=details or {},
        )
    )


@asynccontextmanager
async def audited(
    session: AsyncSession, actor: Actor, action: str, target: str | None = None
) -> AsyncIterator[AuditNote]:
    """Run a change and flush it with its ``ok`` audit row; record refusals too."""
    note = AuditNote(target=target)
    try:
        yield note
    except ServiceError as error:
        await session.rollback()
        record(session, actor, action, note.target, error.code, note.details, note.tenant_id)
        # Committed here, not by the caller: the refusal goes on to roll the request back,
        # and its audit row must outlive that.
        await session.commit()
        raise
    target, tenant_id = note._succeeded()
    record(session, actor, action, target, OK, note.details, tenant_id)
    await session.flush()


@dataclass(frozen=True, slots=True)
class AuditFilter:
    page: PageQuery
    actor: str | None = None
    api_key_id: uuid.UUID | None = None
    tenant_id: uuid.UUID | None = None
    action: str | None = None
    target: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class NamedEntry:
    """An audit row with the names of the tenant and the pool it concerns, as they are
    now (None when it concerns none, or the row is gone)."""

    entry: AuditEntry
    tenant_name: str | None
    pool_name: str | None


# The pool an entry concerns: its target (``pool:<id>``), else ``details.pool`` (an
# allocation's). Compared as text: either may hold anything, and a cast could fail.
_POOL_ID_TEXT = func.coalesce(
    case(
        (AuditEntry.target.startswith("pool:"), func.substr(AuditEntry.target, 6)),
    ),
    AuditEntry.details["pool"].astext,
)


async def list_entries(session: AsyncSession, query: AuditFilter) -> Page[NamedEntry]:
    # Names joined in the one query: no lookup per row.
    stmt = (
        select(AuditEntry, Tenant.name, Pool.name)
        .outerjoin(Tenant, Tenant.id == AuditEntry.tenant_id)
        .outerjoin(Pool, cast(Pool.id, Text) == _POOL_ID_TEXT)
    )
    equal = {
        AuditEntry.actor: query.actor,
        AuditEntry.api_key_id: query.api_key_id,
        AuditEntry.tenant_id: query.tenant_id,
        AuditEntry.action: query.action,
        AuditEntry.target: query.target,
        AuditEntry.outcome: query.outcome,
    }
    stmt = stmt.where(*(column == value for column, value in equal.items() if value is not None))
    if query.since is not None:
        stmt = stmt.where(AuditEntry.at >= query.since)
    if query.until is not None:
        stmt = stmt.where(AuditEntry.at < query.until)
    rows = [NamedEntry(*row) for row in await session.execute(PAGES.select(stmt, query.page))]
    return PAGES.page(rows, query.page, key=lambda named: named.entry.id)
