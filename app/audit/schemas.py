"""The audit row as admins see it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec

from app.db.models import AuditEntry
from app.lib.pagination import Page, page_schema
from app.lib.structs import from_row


class AuditEntryOut(msgspec.Struct):
    id: int
    at: datetime
    actor: str
    """``key`` (``key`` says which), ``bootstrap`` (ADMIN_API_KEY) or ``cli``."""
    key: uuid.UUID | None
    scope: str
    tenant: uuid.UUID | None
    action: str
    target: str | None
    request_id: str | None
    outcome: str
    details: dict[str, Any]


AuditPage = Annotated[Page[AuditEntryOut], page_schema("AuditPage")]


def audit_entry_out(row: AuditEntry) -> AuditEntryOut:
    return from_row(AuditEntryOut, row, key=row.api_key_id, tenant=row.tenant_id)
