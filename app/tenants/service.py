"""Tenants and API keys: the domain verbs the API, the CLI and the tests share.

A key's plaintext exists only in the value these verbs return; the row holds its
SHA-256 digest and a short clear prefix so people can tell keys apart.
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import Actor, audited
from app.db.models import ApiKey, Tenant
from app.db.rows import add_or_raise, get_or_raise
from app.db.vocabulary import KeyScope, OverBudget
from app.lib.auth import generate_key
from app.lib.errors import Conflict, InvalidInput, NotFound
from app.lib.key_cache import forget_everywhere
from app.lib.money import money
from app.lib.params import invalid, parse_amount
from app.lib.tags import checked_tags
from app.lib.tenancy import tenant_not_found
from app.tenants.schemas import LimitsChange, TenantUpdate

MAX_NAME_LENGTH = 200


def _clean_name(name: str, what: str, *, required: bool = True) -> str:
    cleaned = " ".join(name.split())
    if (required and not cleaned) or len(cleaned) > MAX_NAME_LENGTH:
        expected = f"{'1' if required else '0'} to {MAX_NAME_LENGTH} characters"
        raise invalid("name", name, f"a {what} name of {expected}", code="invalid_name")
    return cleaned


async def create_tenant(session: AsyncSession, actor: Actor, name: str) -> Tenant:
    async with audited(session, actor, "tenant.create") as note:
        tenant = Tenant(id=uuid.uuid4(), name=_clean_name(name, "tenant"))
        note.creating(f"tenant:{tenant.id}", tenant.id)
        note.details["name"] = tenant.name
        taken = Conflict(f"a tenant named {tenant.name!r} exists already", code="tenant_name_taken")
        await add_or_raise(session, tenant, taken)
    return tenant


async def list_tenants(session: AsyncSession) -> list[Tenant]:
    return list((await session.scalars(select(Tenant).order_by(Tenant.name))).all())


async def get_tenant(session: AsyncSession, tenant_id: uuid.UUID) -> Tenant:
    return await get_or_raise(session, Tenant, tenant_id, tenant_not_found())


async def update_tenant(
    session: AsyncSession, actor: Actor, tenant_id: uuid.UUID, change: TenantUpdate
) -> Tenant:
    """Change what is given: ``tags`` (the whole set), ``limits`` (an absent one as it is,
    None: no limit). The row is locked as the limits' checks lock it, so a change waits
    for the orders being checked."""
    async with audited(session, actor, "tenant.update", f"tenant:{tenant_id}") as note:
        note.tenant_id = tenant_id
        tenant = await get_or_raise(session, Tenant, tenant_id, tenant_not_found(), lock=True)
        if not isinstance(change.tags, msgspec.UnsetType):
            wanted = checked_tags(change.tags)
            note.details["tags"] = {"before": tenant.tags, "after": wanted}
            tenant.tags = wanted
        if not isinstance(change.limits, msgspec.UnsetType):
            note.details["limits"] = _set_limits(tenant, change.limits)
        await session.flush()
        await session.refresh(tenant)
    return tenant


def _set_limits(tenant: Tenant, change: LimitsChange) -> dict[str, Any]:
    """Set the limits given (None: no limit); what was set, for the audit trail."""
    given: dict[str, Any] = msgspec.structs.asdict(change)
    given = {name: value for name, value in given.items() if value is not msgspec.UNSET}
    budget = given.get("monthly_budget")
    amount = None if budget is None else parse_amount(budget, "limits.monthly_budget")
    if "max_numbers" in given:
        tenant.limit_max_numbers = given["max_numbers"]
    if "monthly_budget" in given:
        tenant.limit_monthly_budget = amount
    if "orders_per_day" in given:
        tenant.limit_orders_per_day = given["orders_per_day"]
    if "over_budget" in given:
        tenant.over_budget = given["over_budget"] or OverBudget.REFUSE
    return {
        name: money(amount) if name == "monthly_budget" and amount is not None else value
        for name, value in given.items()
    }


async def issue_key(
    session: AsyncSession,
    actor: Actor,
    scope: KeyScope,
    tenant_id: uuid.UUID | None = None,
    name: str = "",
) -> tuple[ApiKey, str]:
    """A new key and its plaintext, which is never stored and cannot be shown again."""
    if (scope == KeyScope.TENANT) != (tenant_id is not None):
        raise InvalidInput("a tenant key needs a tenant, an admin key none", code="invalid_scope")
    async with audited(session, actor, f"key.issue_{scope}") as note:
        note.tenant_id = tenant_id
        if tenant_id is not None:
            await get_tenant(session, tenant_id)
        new = generate_key(scope)
        row = ApiKey(
            id=uuid.uuid4(),
            scope=scope,
            tenant_id=tenant_id,
            name=_clean_name(name, "key", required=False),
            prefix=new.prefix,
            key_hash=new.digest,
        )
        note.creating(f"key:{row.id}")
        note.details["prefix"] = new.prefix
        session.add(row)
        await session.flush()
        await session.refresh(row)
    return row, new.plaintext


async def revoke_key(session: AsyncSession, actor: Actor, key_id: uuid.UUID) -> ApiKey:
    """Revoke a key; the next request with it is a 401. Revoking twice changes nothing."""
    async with audited(session, actor, "key.revoke", f"key:{key_id}") as note:
        missing = NotFound(f"no key {key_id}", code="key_not_found")
        row = await get_or_raise(session, ApiKey, key_id, missing, lock=True)
        note.tenant_id = row.tenant_id
        if row.revoked_at is None:
            row.revoked_at = await session.scalar(select(func.now()))
    return row


async def revoke_key_at_once(
    session: AsyncSession, actor: Actor, key_id: uuid.UUID, database_url: str
) -> ApiKey:
    """Revoke a key and commit, then return once every API process has dropped it from
    its key cache: the caller's next request, wherever it lands, is a 401."""
    row = await revoke_key(session, actor, key_id)
    await session.commit()
    await forget_everywhere(database_url, [row.key_hash])
    return row


async def list_keys(
    session: AsyncSession, tenant_id: uuid.UUID | None = None, *, include_revoked: bool = False
) -> list[ApiKey]:
    stmt = select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)
    if tenant_id is not None:
        stmt = stmt.where(ApiKey.tenant_id == tenant_id)
    if not include_revoked:
        stmt = stmt.where(ApiKey.revoked_at.is_(None))
    return list((await session.scalars(stmt)).all())
