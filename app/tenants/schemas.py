"""Tenants and keys as callers see them. A key's plaintext appears only in ``IssuedKey``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec

from app.db.models import ApiKey, Tenant
from app.db.vocabulary import KeyScope
from app.lib.structs import from_row
from app.lib.tags import Tags


class TenantCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(examples=["billing-service"])]


class TenantUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """What ``PATCH /v1/tenants/{id}`` changes; an absent field stays as it is."""

    tags: Tags | msgspec.UnsetType = msgspec.UNSET
    """The whole set, replacing the tenant's (``{}`` removes every tag). A number's own
    tag comes first where both have the key (the costs' ``group_by=tag:<key>``)."""


class TenantOut(msgspec.Struct):
    id: uuid.UUID
    name: str
    created_at: datetime
    tags: Annotated[dict[str, str], msgspec.Meta(examples=[{"cost_center": "crm"}])]


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


def tenant_out(row: Tenant) -> TenantOut:
    return from_row(TenantOut, row)


def key_out(row: ApiKey) -> KeyOut:
    return from_row(KeyOut, row, tenant=row.tenant_id)


def issued_key(row: ApiKey, plaintext: str) -> IssuedKey:
    return from_row(IssuedKey, row, tenant=row.tenant_id, key=plaintext)
