"""Which tenants a pool is open to: all of them, or the ones it lists.

A tenant a pool is not open to cannot see it or take numbers from it: the pool answers
it 404, as a pool that does not exist (app.lib.tenancy.open_to is the one condition).
Setting the list locks the pool's row (``FOR UPDATE``); an allocation reads the pool
``FOR SHARE`` with the condition in the same query (app.pools.service.allocate), so a
tenant taken off the list gets no number once the change has committed.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import Actor, audited
from app.db.models import Pool, PoolTenant, Tenant
from app.db.rows import get_or_raise
from app.lib.errors import InvalidInput, NotFound


@dataclass(frozen=True, slots=True)
class Entitlement:
    """Open to every tenant (``all``), or to ``tenants`` only (none when empty)."""

    all: bool
    tenants: tuple[uuid.UUID, ...] = ()


#: A pool created without a list: open to all, as every pool was before lists existed.
EVERY_TENANT = Entitlement(all=True)


@dataclass(frozen=True, slots=True)
class NamedTenant:
    id: uuid.UUID
    name: str


@dataclass(frozen=True, slots=True)
class PoolTenants:
    pool_id: uuid.UUID
    all: bool
    tenants: list[NamedTenant]
    """The tenants listed (empty when the pool is open to all), by name."""


def pool_not_found(pool_id: uuid.UUID) -> NotFound:
    """The one answer for a pool that does not exist or is not open to a tenant key."""
    return NotFound(f"no pool {pool_id}", code="pool_not_found")


def entitlement_from(
    tenants: Sequence[uuid.UUID] | None, all_tenants: bool | None, default: Entitlement | None
) -> Entitlement:
    """The entitlement a request gives (``tenants``, ``all``), or ``default`` when it gives
    neither (None: one of them is required)."""
    if all_tenants is not None and tenants is not None:
        raise InvalidInput(
            "all and tenants both say who may use the pool: give one of them.",
            code="conflicting_fields",
            details={"parameters": ["all", "tenants"]},
        )
    if tenants is not None:
        return Entitlement(all=False, tenants=tuple(dict.fromkeys(tenants)))
    if all_tenants is not None:
        return Entitlement(all=all_tenants)
    if default is None:
        raise InvalidInput(
            "Say who may use the pool: tenants (a list of tenant ids, empty for none) or "
            "all: true.",
            code="tenants_required",
            details={"parameters": ["tenants", "all"]},
        )
    return default


async def entitle(session: AsyncSession, pool: Pool, entitlement: Entitlement) -> None:
    """Make ``pool`` (locked by the caller, or new) open to exactly ``entitlement``;
    422 ``unknown_tenant`` naming the ids that are no tenant's."""
    known = set(await session.scalars(select(Tenant.id).where(Tenant.id.in_(entitlement.tenants))))
    unknown = [str(tenant) for tenant in entitlement.tenants if tenant not in known]
    if unknown:
        raise InvalidInput(
            f"No tenant has the id {', '.join(unknown)}.",
            code="unknown_tenant",
            details={"parameter": "tenants", "location": "body", "unknown": unknown},
        )
    pool.all_tenants = entitlement.all
    await session.execute(delete(PoolTenant).where(PoolTenant.pool_id == pool.id))
    session.add_all(PoolTenant(pool_id=pool.id, tenant_id=tenant) for tenant in entitlement.tenants)
    await session.flush()


async def set_tenants(
    session: AsyncSession, actor: Actor, pool_id: uuid.UUID, entitlement: Entitlement
) -> PoolTenants:
    """Replace the tenants the pool is open to."""
    async with audited(session, actor, "pool.set_tenants", f"pool:{pool_id}") as note:
        pool = await get_or_raise(session, Pool, pool_id, pool_not_found(pool_id), lock=True)
        before = await tenants_of(session, pool)
        note.details = {
            "before": _described(before),
            "after": {"all": entitlement.all, "tenants": [str(t) for t in entitlement.tenants]},
        }
        await entitle(session, pool, entitlement)
    return await tenants_of(session, pool)


async def show_tenants(session: AsyncSession, pool_id: uuid.UUID) -> PoolTenants:
    pool = await get_or_raise(session, Pool, pool_id, pool_not_found(pool_id))
    return await tenants_of(session, pool)


async def tenants_of(session: AsyncSession, pool: Pool) -> PoolTenants:
    rows = await session.execute(
        select(Tenant.id, Tenant.name)
        .join(PoolTenant, PoolTenant.tenant_id == Tenant.id)
        .where(PoolTenant.pool_id == pool.id)
        .order_by(Tenant.name)
    )
    return PoolTenants(pool.id, pool.all_tenants, [NamedTenant(*row) for row in rows])


def _described(tenants: PoolTenants) -> dict[str, object]:
    return {"all": tenants.all, "tenants": [str(tenant.id) for tenant in tenants.tenants]}
