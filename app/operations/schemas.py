"""The operation as callers see it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from sqlalchemy import Row

from app.db.models import Operation
from app.db.vocabulary import BULK_OPERATION_KINDS, OperationKind, OperationStatus
from app.operations.params import params_of, stored
from app.seven.types import PaymentInterval


class OperationError(msgspec.Struct):
    code: str
    message: str


class Progress(msgspec.Struct):
    """A bulk operation's children by where they stand: ``pending`` (queued or running),
    ``succeeded``, ``failed`` (a bulk order's child refused because its number was taken
    meanwhile counts here too, and is replaced by another)."""

    succeeded: int = 0
    failed: int = 0
    pending: int = 0


class OperationOut(msgspec.Struct):
    id: uuid.UUID
    kind: OperationKind
    status: OperationStatus
    number: str | None
    tenant: uuid.UUID | None
    """The tenant the operation acts for: an order's, or the holder of the number."""
    attempts: int
    error: OperationError | None
    created_at: datetime
    updated_at: datetime
    params: dict[str, Any] = msgspec.field(default_factory=dict)
    """What was asked for, by ``kind``: an order's ``payment_interval``, ``friendly_name``
    and ``pool``; an update's settings; a delete's ``delete_immediately``; a sync's
    ``force``."""
    # What went wrong in a step after seven accepted the write, which does not undo it
    # (a refused friendly name after a paid order, say).
    warnings: list[OperationError] = msgspec.field(default_factory=list)
    parent: uuid.UUID | None = None
    """The bulk operation this order or update is one child of."""
    progress: Progress | None = None
    """A bulk operation's children, counted (null for other kinds)."""
    children: str | None = None
    """A bulk operation's children: ``/v1/operations?parent=<id>`` (null for other kinds)."""


def operation_out(row: Operation | Row[Any], progress: Progress | None = None) -> OperationOut:
    """From an ORM row or a Core row over the ``operations`` columns. ``progress``: a bulk
    operation's children counted now; without it, the counts its end recorded (none
    before its first child)."""
    error = (
        OperationError(code=row.error_code, message=row.error_message or "")
        if row.error_code
        else None
    )
    return OperationOut(
        id=row.id,
        kind=OperationKind(row.kind),
        status=OperationStatus(row.status),
        number=row.number,
        tenant=row.tenant_id,
        attempts=row.attempts,
        error=error,
        created_at=row.created_at,
        updated_at=row.updated_at,
        params=stored(params_of(row)),  # type: ignore[arg-type]
        warnings=[OperationError(**w) for w in (row.result or {}).get("warnings", [])],
        parent=row.parent_id,
        **_bulk_fields(row, progress),
    )


def _bulk_fields(row: Operation | Row[Any], progress: Progress | None) -> dict[str, Any]:
    if row.kind not in BULK_OPERATION_KINDS:
        return {}
    if progress is None:
        progress = msgspec.convert((row.result or {}).get("progress", {}), Progress)
    return {"progress": progress, "children": f"/v1/operations?parent={row.id}"}


# Request bodies. Sizes are checked here (422 before any work); phone numbers and
# e-mail addresses are checked by the service, which answers with precise codes.
MAX_FRIENDLY_NAME = 255
MAX_FORWARDS = 10
MAX_ENTRY = 320  # the longest e-mail address RFC 5321 allows, and far above any number
Entry = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ENTRY)]
FriendlyName = Annotated[
    str, msgspec.Meta(max_length=MAX_FRIENDLY_NAME, examples=["Support hotline"])
]


class OrderCreate(msgspec.Struct, forbid_unknown_fields=True):
    """``POST /v1/orders``: order ``number`` from seven, billed by ``payment_interval``
    (required: ``monthly``, or ``annually``, a year up front)."""

    number: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=40,
            description="As offered by GET /v1/available-numbers (E.164, with or without +)",
            examples=["4915170000000"],
        ),
    ]
    # Required: no interval is chosen for the caller (annually bills a year up front).
    # No Meta here: a description on the enum would rewrite the shared PaymentInterval
    # component of the OpenAPI schema.
    payment_interval: PaymentInterval
    pool: uuid.UUID | None = None
    tenant: uuid.UUID | None = None
    friendly_name: FriendlyName | None = None


Forwards = Annotated[list[Entry], msgspec.Meta(max_length=MAX_FORWARDS)]


class SmsForwardChange(msgspec.Struct, forbid_unknown_fields=True):
    """``forward_sms_mo.sms`` as a read shows it; ``enabled: false`` stops forwarding."""

    number: Forwards = msgspec.field(default_factory=list)
    enabled: bool = True


class EmailForwardChange(msgspec.Struct, forbid_unknown_fields=True):
    """``forward_sms_mo.email`` as a read shows it; ``enabled: false`` stops forwarding."""

    address: Forwards = msgspec.field(default_factory=list)
    enabled: bool = True


class ForwardChange(msgspec.Struct, forbid_unknown_fields=True):
    """``forward_sms_mo`` in the shape a number's read shows it; an absent channel stays
    as it is."""

    sms: SmsForwardChange | None = None
    email: EmailForwardChange | None = None


class NumberChange(msgspec.Struct, forbid_unknown_fields=True):
    """``PATCH /v1/numbers/{number}``: absent = leave as it is, ``[]`` = stop forwarding.

    Forwarding in either spelling: seven's PATCH fields ``sms_forward``/``email_forward``,
    or ``forward_sms_mo`` as a read shows it (what was read can be written back). One
    channel in both spellings is a 422 that names both."""

    friendly_name: FriendlyName | None = None
    sms_forward: Forwards | None = None
    email_forward: Forwards | None = None
    forward_sms_mo: ForwardChange | None = None


class Rejection(msgspec.Struct, forbid_unknown_fields=True):
    """``POST /v1/operations/{id}/reject``: why the order is not carried out."""

    reason: Annotated[
        str, msgspec.Meta(min_length=1, max_length=500, examples=["over the team's budget"])
    ]


def operation_location(operation_id: uuid.UUID) -> str:
    return f"/v1/operations/{operation_id}"
