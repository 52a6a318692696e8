"""Admin routes for tenants and keys (thin: the verbs live in app.tenants.service)."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, delete, get, patch, post
from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.dependencies import ACTOR_DEPENDENCY
from app.audit.service import Actor
from app.db.vocabulary import KeyScope
from app.lib import params, query_parameters
from app.lib.auth_middleware import admin_only
from app.lib.error_answers import error_responses
from app.lib.errors import InvalidInput
from app.tenants import service
from app.tenants.schemas import (
    IssuedKey,
    KeyCreate,
    KeyOut,
    TenantCreate,
    TenantOut,
    TenantUpdate,
    issued_key,
    key_out,
    tenant_out,
)


class TenantController(Controller):
    path = "/tenants"
    guards = [admin_only]
    dependencies = ACTOR_DEPENDENCY
    tags = ["tenants"]

    @post("/", summary="Create a tenant (admin)", responses=error_responses(409))
    async def create_tenant(
        self, db_session: AsyncSession, actor: Actor, data: TenantCreate
    ) -> TenantOut:
        return tenant_out(await service.create_tenant(db_session, actor, data.name))

    @get("/", summary="All tenants (admin)")
    async def list_tenants(self, db_session: AsyncSession) -> list[TenantOut]:
        return [tenant_out(row) for row in await service.list_tenants(db_session)]

    @get("/{tenant_id:uuid}", summary="One tenant (admin)")
    async def get_tenant(self, db_session: AsyncSession, tenant_id: uuid.UUID) -> TenantOut:
        return tenant_out(await service.get_tenant(db_session, tenant_id))

    @patch(
        "/{tenant_id:uuid}",
        summary="Change a tenant (admin)",
        description=(
            "`tags` replaces the tenant's tags (key -> value: keys 1 to 64 of a-z 0-9 _ . -,"
            " values 1 to 200 characters, at most 50). `limits`: `max_numbers` (numbers held"
            " at once, in any state but deleted), `monthly_budget` (EUR: the month's cash"
            " charges plus what new orders would add this month), `orders_per_day` (order"
            " operations per Europe/Berlin day) and `over_budget` (`refuse`, the default, or"
            " `approve`: an order beyond only the budget awaits an admin's approval); an"
            " absent limit stays as it is, `null` removes it. Orders and allocations beyond a"
            " limit are 409 `limit_exceeded`. Absent fields stay as they are; a body with"
            " neither is 422 `nothing_to_change`. Audited (`tenant.update`)."
        ),
        responses=error_responses(404),
    )
    async def update_tenant(
        self, db_session: AsyncSession, actor: Actor, tenant_id: uuid.UUID, data: TenantUpdate
    ) -> TenantOut:
        if data == TenantUpdate():
            raise InvalidInput("Nothing to change: give tags or limits.", code="nothing_to_change")
        return tenant_out(await service.update_tenant(db_session, actor, tenant_id, data))

    @post("/{tenant_id:uuid}/keys", summary="Issue a key for a tenant; shown once (admin)")
    async def issue_tenant_key(
        self,
        db_session: AsyncSession,
        actor: Actor,
        tenant_id: uuid.UUID,
        data: KeyCreate | None = None,
    ) -> IssuedKey:
        name = data.name if data else ""
        row, plaintext = await service.issue_key(
            db_session, actor, KeyScope.TENANT, tenant_id, name
        )
        return issued_key(row, plaintext)


class KeyController(Controller):
    path = "/keys"
    guards = [admin_only]
    dependencies = ACTOR_DEPENDENCY
    tags = ["keys"]

    @post("/", summary="Issue an admin key; shown once (admin)")
    async def issue_admin_key(
        self, db_session: AsyncSession, actor: Actor, data: KeyCreate | None = None
    ) -> IssuedKey:
        name = data.name if data else ""
        row, plaintext = await service.issue_key(db_session, actor, KeyScope.ADMIN, None, name)
        return issued_key(row, plaintext)

    @get("/", summary="Keys without their secrets (admin)")
    async def list_keys(
        self,
        db_session: AsyncSession,
        tenant: Annotated[str | None, query_parameters.uuid_parameter("Tenant id")] = None,
        revoked: Annotated[
            str | None, query_parameters.flag_parameter("true: revoked keys too", default=False)
        ] = None,
    ) -> list[KeyOut]:
        rows = await service.list_keys(
            db_session,
            params.parse_uuid(tenant, "tenant"),
            include_revoked=params.parse_flag(revoked, "revoked") or False,
        )
        return [key_out(row) for row in rows]

    @delete("/{key_id:uuid}", status_code=200, summary="Revoke a key at once (admin)")
    async def revoke_key(
        self, state: State, db_session: AsyncSession, actor: Actor, key_id: uuid.UUID
    ) -> KeyOut:
        row = await service.revoke_key_at_once(
            db_session, actor, key_id, state.settings.database_url
        )
        return key_out(row)
