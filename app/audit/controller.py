"""``GET /v1/audit`` (admin): the audit trail, newest first, filterable."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from litestar import Controller, get
from litestar.params import FromQuery, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.schemas import AuditPage, audit_entry_out
from app.audit.service import AuditFilter, list_entries
from app.lib.auth import ActorKind, admin_only
from app.lib.errors import InvalidInput


class AuditController(Controller):
    path = "/audit"
    guards = [admin_only]
    tags = ["audit"]

    @get("/", summary="The audit trail (admin), newest first")
    async def list_audit(
        self,
        db_session: AsyncSession,
        actor: Annotated[
            ActorKind | None, QueryParameter(description="key, bootstrap (ADMIN_API_KEY) or cli")
        ] = None,
        key: FromQuery[uuid.UUID | None] = None,
        tenant: FromQuery[uuid.UUID | None] = None,
        action: FromQuery[str | None] = None,
        target: FromQuery[str | None] = None,
        outcome: FromQuery[str | None] = None,
        since: FromQuery[datetime | None] = None,
        until: FromQuery[datetime | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
        cursor: FromQuery[str | None] = None,
    ) -> AuditPage:
        if cursor is not None and not cursor.isdigit():
            raise InvalidInput("cursor is not one this endpoint gave out", code="invalid_cursor")
        rows = await list_entries(
            db_session,
            AuditFilter(
                actor=actor,
                api_key_id=key,
                tenant_id=tenant,
                action=action,
                target=target,
                outcome=outcome,
                since=since,
                until=until,
                before_id=int(cursor) if cursor else None,
                limit=limit,
            ),
        )
        next_cursor = str(rows[-1].id) if len(rows) == limit else None
        return AuditPage(items=[audit_entry_out(row) for row in rows], next_cursor=next_cursor)
