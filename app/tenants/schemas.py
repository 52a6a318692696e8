"""Tenants and keys as callers see them. A key's plaintext appears only in ``IssuedKey``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec

from app.db.models import ApiKey, Tenant
from app.db.vocabulary import KeyScope


class TenantCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(examples=["billing-service"])]


class TenantOut(msgspec.Struct):
    id: uuid.UUID
    name: str
    created_at: datetime


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
    return TenantOut(id=row.id, name=row.name, created_at=row.created_at)


def _key_fields(row: ApiKey) -> dict[str, object]:
    return {
        "id": row.id,
        "scope": row.scope,
        "tenant": row.tenant_id,
        "name": row.name,
        "prefix": row.prefix,
        "created_at": row.created_at,
        "last_used_at": row.last_used_at,
        "revoked_at": row.revoked_at,
    }


def key_out(row: ApiKey) -> KeyOut:
    return KeyOut(**_key_fields(row))  # type: ignore[arg-type]


def issued_key(row: ApiKey, plaintext: str) -> IssuedKey:
    return IssuedKey(**_key_fields(row), key=plaintext)  # type: ignore[arg-type]
