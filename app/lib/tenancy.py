"""Tenant isolation in one place: what a key sees, and which tenant a request acts for.

An admin key sees every number; a tenant key only the numbers allocated to its
tenant. Anything else must look absent (404, never 403), so callers put this
condition into the query itself instead of checking a row after loading it.
Numbers, operations and allocations use the same function (:func:`owned_by`), so the
rule cannot drift. The one exception is a row already in memory (app.numbers.cache,
shared by every caller of the process): :func:`may_see` states the same rule in Python,
beside it. :func:`acting_tenant` says whose an order or an allocation is. A pool that is
not open to a tenant (:func:`open_to`) looks absent to that tenant's keys.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal, TypeVar, overload

from sqlalchemy import ColumnElement, Select, exists, false, or_, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.db.models import Number, Pool, PoolTenant, Tenant
from app.lib.auth import Principal
from app.lib.errors import Conflict, InvalidInput, NotFound

_S = TypeVar("_S", bound=Select)


def owned_by(principal: Principal, tenant: InstrumentedAttribute[Any]) -> ColumnElement[bool]:
    """The condition a row whose holder is the column ``tenant`` must meet to be visible to
    ``principal``: every row for an admin, its own tenant's for a tenant key."""
    if principal.is_admin:
        return true()
    if principal.tenant_id is None:
        # Cannot happen (a check constraint binds tenant keys to a tenant); fail closed.
        return false()
    return tenant == principal.tenant_id


def visible_numbers(principal: Principal) -> ColumnElement[bool]:
    """The condition a ``numbers`` row must meet to be visible to ``principal``."""
    return owned_by(principal, Number.tenant_id)


def may_see(principal: Principal, tenant_id: uuid.UUID | None) -> bool:
    """:func:`visible_numbers` for a row held in memory whose holder is ``tenant_id``."""
    if principal.is_admin:
        return True
    # A tenant key without a tenant cannot happen (see above); it sees nothing.
    return principal.tenant_id is not None and tenant_id == principal.tenant_id


def scope_numbers(stmt: _S, principal: Principal) -> _S:
    """``stmt`` (a select over ``numbers``) narrowed to what ``principal`` may see.

    An admin's statement comes back as it was, so a statement built once at import
    stays the same object (no per-request rebuilding on the hot read path).
    """
    if principal.is_admin:
        return stmt
    return stmt.where(visible_numbers(principal))


def open_to(tenant_id: uuid.UUID) -> ColumnElement[bool]:
    """The condition a ``pools`` row must meet for ``tenant_id`` to take numbers from it:
    open to all, or listed for that tenant (``pool_tenants``)."""
    listed = exists().where(PoolTenant.pool_id == Pool.id, PoolTenant.tenant_id == tenant_id)
    return or_(Pool.all_tenants.is_(True), listed)


def tenant_not_entitled(pool_id: uuid.UUID, tenant_id: uuid.UUID) -> Conflict:
    """What an admin is told when it acts for a tenant the pool is not open to (a tenant
    key is told the pool does not exist)."""
    return Conflict(
        f"Pool {pool_id} is not open to tenant {tenant_id}: add the tenant with "
        f"PUT /v1/pools/{pool_id}/tenants first.",
        code="tenant_not_entitled",
        details={"pool": str(pool_id), "tenant": str(tenant_id)},
    )


def tenant_not_found() -> NotFound:
    """The one answer to naming a tenant the caller may not act for: it does not exist, or
    it is another tenant's (not repeated back: a tenant key learns nothing about others)."""
    return NotFound("There is no such tenant.", code="tenant_not_found")


@overload
async def acting_tenant(
    session: AsyncSession, principal: Principal, named: uuid.UUID | None, *, required: Literal[True]
) -> uuid.UUID: ...
@overload
async def acting_tenant(
    session: AsyncSession, principal: Principal, named: uuid.UUID | None, *, required: bool = False
) -> uuid.UUID | None: ...
async def acting_tenant(
    session: AsyncSession, principal: Principal, named: uuid.UUID | None, *, required: bool = False
) -> uuid.UUID | None:
    """The tenant a request acts for, given the tenant it names (``named``).

    A tenant key acts for its own tenant, named or not; naming any other is 404
    ``tenant_not_found``, whether that tenant exists or not, like everything else hidden
    from it. An admin acts for the tenant it names, which must exist (404
    ``tenant_not_found`` too, the answer an unknown tenant gets on every route), or for
    none: where the verb needs one (``required``, an allocation), 422 ``tenant_required``.
    """
    if not principal.is_admin:
        if principal.tenant_id is None or named not in (None, principal.tenant_id):
            raise tenant_not_found()
        return principal.tenant_id
    if named is None:
        if required:
            raise InvalidInput("An admin key must name the tenant.", code="tenant_required")
        return None
    if await session.get(Tenant, named) is None:
        raise tenant_not_found()
    return named
