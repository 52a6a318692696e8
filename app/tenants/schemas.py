"""Tenants and keys as callers see them. A key's plaintext appears only in ``IssuedKey``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec

from app.db.models import ApiKey, Tenant
from app.db.vocabulary import KeyScope, OverBudget
from app.lib.money import Money, optional_money
from app.lib.structs import from_row
from app.lib.tags import Tags

# Far above any team's needs, and inside the columns' range (a larger one is a 422, not
# a database error).
MAX_LIMIT = 1_000_000
Limit = Annotated[int, msgspec.Meta(ge=0, le=MAX_LIMIT)]


class TenantCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(examples=["billing-service"])]


class LimitsOut(msgspec.Struct):
    """A tenant's limits; null: none (app.operations.limits says what each counts)."""

    max_numbers: int | None
    monthly_budget: Money | None
    orders_per_day: int | None
    over_budget: OverBudget


class LimitsChange(msgspec.Struct, forbid_unknown_fields=True):
    """The limits to change: an absent one stays as it is, ``null`` removes it."""

    max_numbers: Limit | msgspec.UnsetType | None = msgspec.UNSET
    monthly_budget: (
        Annotated[str, msgspec.Meta(max_length=20, examples=["50.00"])] | msgspec.UnsetType | None
    ) = msgspec.UNSET
    orders_per_day: Limit | msgspec.UnsetType | None = msgspec.UNSET
    # What an order beyond monthly_budget becomes; null: the default, refuse.
    over_budget: OverBudget | msgspec.UnsetType | None = msgspec.UNSET


class TenantUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """What ``PATCH /v1/tenants/{id}`` changes; an absent field stays as it is."""

    tags: Tags | msgspec.UnsetType = msgspec.UNSET
    """The whole set, replacing the tenant's (``{}`` removes every tag). A number's own
    tag comes first where both have the key (the costs' ``group_by=tag:<key>``)."""
    limits: LimitsChange | msgspec.UnsetType = msgspec.UNSET


class TenantOut(msgspec.Struct):
    id: uuid.UUID
    name: str
    created_at: datetime
    tags: Annotated[dict[str, str], msgspec.Meta(examples=[{"cost_center": "crm"}])]
    limits: LimitsOut


class KeyCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(examples=["billing-service production"])] = ""


class KeyOut(msgspec.Struct):
    """A key without its secret: ``prefix`` is enough to recognise it."""

    id: uuid.UUID
    scope: KeyScope
    tenant: uuid.UUID | None
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class IssuedKey(KeyOut):
    """The answer to issuing a key: the only time ``key`` is ever shown."""

    key: str


def limits_out(row: Tenant) -> LimitsOut:
    return LimitsOut(
        max_numbers=row.limit_max_numbers,
        monthly_budget=optional_money(row.limit_monthly_budget),
        orders_per_day=row.limit_orders_per_day,
        over_budget=OverBudget(row.over_budget),
    )


def tenant_out(row: Tenant) -> TenantOut:
    return from_row(TenantOut, row, limits=limits_out(row))


def key_out(row: ApiKey) -> KeyOut:
    return from_row(KeyOut, row, tenant=row.tenant_id)


def issued_key(row: ApiKey, plaintext: str) -> IssuedKey:
    return from_row(IssuedKey, row, tenant=row.tenant_id, key=plaintext)
