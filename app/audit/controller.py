"""``GET /v1/audit`` (admin): the audit trail, newest first, filterable."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import Controller, get
from litestar.params import FromQuery
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.schemas import AuditEntryOut, audit_entry_out
from app.audit.service import PAGES, AuditFilter, list_entries
from app.db.vocabulary import AuditActor
from app.lib import params, query_parameters
from app.lib.auth_middleware import admin_only
from app.lib.pagination import Page
from app.lib.query_parameters import page_schema

AuditPage = Annotated[Page[AuditEntryOut], page_schema("AuditPage")]

ACTORS: tuple[str, ...] = tuple(AuditActor)


class AuditController(Controller):
    path = "/audit"
    guards = [admin_only]
    tags = ["audit"]

    @get("/", summary="The audit trail (admin), newest first")
    async def list_audit(
        self,
        db_session: AsyncSession,
        actor: Annotated[
            str | None,
            query_parameters.choice_parameter("key, bootstrap (ADMIN_API_KEY) or cli", ACTORS),
        ] = None,
        key: Annotated[str | None, query_parameters.uuid_parameter("Key id")] = None,
        tenant: Annotated[str | None, query_parameters.uuid_parameter("Tenant id")] = None,
        action: FromQuery[str | None] = None,
        target: FromQuery[str | None] = None,
        outcome: FromQuery[str | None] = None,
        since: FromQuery[datetime | None] = None,
        until: FromQuery[datetime | None] = None,
        limit: Annotated[str | None, PAGES.limit_parameter] = None,
        cursor: Annotated[str | None, PAGES.cursor_parameter] = None,
    ) -> AuditPage:
        page = await list_entries(
            db_session,
            AuditFilter(
                actor=params.parse_choice(actor, "actor", ACTORS),
                api_key_id=params.parse_uuid(key, "key"),
                tenant_id=params.parse_uuid(tenant, "tenant"),
                action=action,
                target=target,
                outcome=outcome,
                since=since,
                until=until,
                page=PAGES.query(limit, cursor),
            ),
        )
        return page.map(audit_entry_out)
