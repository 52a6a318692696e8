"""Pools and allocations as callers see them (numbers use app.numbers.schemas)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from typing import Annotated

import msgspec

from app.db.models import DEFAULT_COOLDOWN_DAYS, Pool
from app.lib.params import Country, Feature
from app.lib.structs import from_row
from app.pools.entitlements import PoolTenants
from app.pools.handover import Released
from app.pools.service import MAX_COOLDOWN_DAYS, NamedAllocation, PoolCounts
from app.seven.types import PaymentInterval

CooldownDays = Annotated[
    int,
    msgspec.Meta(
        ge=0,
        le=MAX_COOLDOWN_DAYS,
        description=(
            "Days a released number rests before anyone else gets it, counted from the "
            "clearing of what its holder set at seven (one-time codes sent to the previous "
            "holder stop meanwhile); 0 hands it on at once."
        ),
    ),
]


TenantIds = Annotated[
    list[uuid.UUID],
    msgspec.Meta(
        max_length=1000,
        description="The tenants the pool is open to, and only they (empty: none).",
        examples=[["5f0c2f55-8c1e-4c35-9d0e-6a1d4a0b7e21"]],
    ),
]
AllTenants = Annotated[
    bool, msgspec.Meta(description="true: open to every tenant, present and future.")
]


class PoolCreate(msgspec.Struct, forbid_unknown_fields=True):
    """Without ``tenants`` or ``all``, the pool is open to every tenant."""

    name: Annotated[str, msgspec.Meta(examples=["support-de"])]
    country: Country | None = None
    features: list[Feature] = msgspec.field(default_factory=list)
    cooldown_days: CooldownDays = DEFAULT_COOLDOWN_DAYS
    tenants: TenantIds | None = None
    all: AllTenants | None = None


class PoolTenantsSet(msgspec.Struct, forbid_unknown_fields=True):
    """One of ``tenants`` (the whole list, replacing the one before) or ``all: true``."""

    tenants: TenantIds | None = None
    all: AllTenants | None = None


class TenantRef(msgspec.Struct):
    id: uuid.UUID
    name: str


class PoolTenantsOut(msgspec.Struct):
    pool: uuid.UUID
    all: bool
    """Open to every tenant; else only to ``tenants``. Others get 404 for the pool."""
    tenants: list[TenantRef]
    """By name; empty when the pool is open to all."""


class PoolUpdate(msgspec.Struct, forbid_unknown_fields=True):
    cooldown_days: CooldownDays


class PoolOut(msgspec.Struct):
    id: uuid.UUID
    name: str
    country: str | None
    features: list[str]
    cooldown_days: int
    created_at: datetime
    numbers: int
    """Account numbers in the pool; ``allocated`` of them held by tenants, ``free`` to take
    now, ``cooling`` released and cleared but still in the pool's cool-down. Released
    numbers wait for what their holder set at seven to be cleared: ``clearing`` (under
    way), ``clearing_failed`` and ``uncleared`` (back at seven after a deletion) wait for
    an admin (``POST /v1/allocations/{number}/clearing``)."""
    allocated: int
    free: int
    cooling: int
    clearing: int
    clearing_failed: int
    uncleared: int


class PoolNumber(msgspec.Struct, forbid_unknown_fields=True):
    number: Annotated[str, msgspec.Meta(examples=["4915170000000"])]


class AllocationCreate(msgspec.Struct, forbid_unknown_fields=True):
    """``order_if_empty`` needs ``payment_interval`` (``monthly``, or ``annually``, a
    year up front): 422 ``payment_interval_required`` without it."""

    pool: uuid.UUID
    tenant: uuid.UUID | None = None
    country: Country | None = None
    features: list[Feature] = msgspec.field(default_factory=list)
    order_if_empty: bool = False
    # With order_if_empty: how seven bills a number ordered for the allocation (no Meta:
    # it would rewrite the shared PaymentInterval component of the OpenAPI schema).
    payment_interval: PaymentInterval | None = None


class AllocationOut(msgspec.Struct):
    """One interval: ``tenant`` held ``number`` from ``allocated_at`` to ``released_at``."""

    id: uuid.UUID
    number: str
    pool: uuid.UUID | None
    pool_name: str | None
    tenant: uuid.UUID
    tenant_name: str
    allocated_at: datetime
    released_at: datetime | None
    available_at: datetime | None
    """End of the cool-down; null after the release until what the holder set at seven has
    been cleared, when the cool-down starts."""


class ReleaseOut(AllocationOut):
    """The interval just ended, and the operation clearing what the holder set at seven."""

    clearing_operation: uuid.UUID | None
    """An ``update``; null when seven does not have the number (nothing to clear)."""


def pool_out(row: Pool, counts: PoolCounts | None = None) -> PoolOut:
    counts = counts or PoolCounts()
    return from_row(PoolOut, row, features=list(row.features), **dataclasses.asdict(counts))


def allocation_out(named: NamedAllocation) -> AllocationOut:
    row = named.allocation
    return from_row(
        AllocationOut,
        row,
        pool=row.pool_id,
        pool_name=named.pool_name,
        tenant=row.tenant_id,
        tenant_name=named.tenant_name,
    )


def release_out(released: Released, named: NamedAllocation) -> ReleaseOut:
    """``named``: the released interval with its names (``service.named``)."""
    return ReleaseOut(
        **msgspec.structs.asdict(allocation_out(named)),
        clearing_operation=released.clearing.id if released.clearing else None,
    )


def pool_tenants_out(tenants: PoolTenants) -> PoolTenantsOut:
    return PoolTenantsOut(
        pool=tenants.pool_id,
        all=tenants.all,
        tenants=[TenantRef(id=tenant.id, name=tenant.name) for tenant in tenants.tenants],
    )
