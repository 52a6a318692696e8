"""The audit row as admins see it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec

from app.audit.service import NamedEntry
from app.lib.structs import from_row


class AuditEntryOut(msgspec.Struct):
    id: int
    at: datetime
    actor: str
    """``key`` (``key`` says which), ``bootstrap`` (ADMIN_API_KEY) or ``cli``."""
    key: uuid.UUID | None
    scope: str
    tenant: uuid.UUID | None
    tenant_name: str | None
    """The name of ``tenant``, as it is now."""
    pool_name: str | None
    """The name of the pool the entry concerns (its ``target`` ``pool:<id>``, or
    ``details.pool``), as it is now; null when it concerns none."""
    action: str
    target: str | None
    request_id: str | None
    outcome: str
    details: dict[str, Any]


def audit_entry_out(named: NamedEntry) -> AuditEntryOut:
    row = named.entry
    return from_row(
        AuditEntryOut,
        row,
        key=row.api_key_id,
        tenant=row.tenant_id,
        tenant_name=named.tenant_name,
        pool_name=named.pool_name,
    )
