"""The operation as callers see it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

import msgspec

from app.db.models import Operation

OperationKind = Literal["order", "update", "delete", "sync"]
OperationStatus = Literal["queued", "running", "succeeded", "failed"]


class OperationError(msgspec.Struct):
    code: str
    message: str


class OperationOut(msgspec.Struct):
    id: uuid.UUID
    kind: OperationKind
    status: OperationStatus
    number: str | None
    attempts: int
    error: OperationError | None
    created_at: datetime
    updated_at: datetime
    params: dict[str, Any] = msgspec.field(default_factory=dict)


def operation_out(row: Operation) -> OperationOut:
    error = (
        OperationError(code=row.error_code, message=row.error_message or "")
        if row.error_code
        else None
    )
    return OperationOut(
        id=row.id,
        kind=row.kind,  # type: ignore[arg-type]
        status=row.status,  # type: ignore[arg-type]
        number=row.number,
        attempts=row.attempts,
        error=error,
        created_at=row.created_at,
        updated_at=row.updated_at,
        params=row.params,
    )


def operation_location(operation_id: uuid.UUID) -> str:
    return f"/v1/operations/{operation_id}"
