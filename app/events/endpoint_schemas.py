"""Webhook endpoints and their deliveries as callers see them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec

from app.db.models import DeliveryAttempt, WebhookEndpoint
from app.db.vocabulary import DeliveryStatus, EventType
from app.events.safety import MAX_URL_LENGTH
from app.lib.structs import from_row

Url = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=MAX_URL_LENGTH,
        description="https (http only on a host in WEBHOOK_ALLOWED_HOSTS)",
        examples=["https://billing.internal.example/hooks/numbers"],
    ),
]
EventTypes = Annotated[
    list[str],
    msgspec.Meta(
        min_length=1,
        max_length=len(EventType) + 1,
        description='Event types to receive, or ["*"] for all',
        examples=[["number.deleted", "message.received"]],
    ),
]
Description = Annotated[str, msgspec.Meta(max_length=500)]


class EndpointCreate(msgspec.Struct, forbid_unknown_fields=True):
    url: Url
    events: EventTypes
    description: Description = ""
    tenant: uuid.UUID | None = None
    """An admin's endpoint for a tenant's events; omitted: the admin's own events."""


class EndpointUpdate(msgspec.Struct, forbid_unknown_fields=True):
    url: Url | None = None
    events: EventTypes | None = None
    enabled: bool | None = None
    description: Description | None = None


class EndpointOut(msgspec.Struct):
    id: uuid.UUID
    url: str
    events: list[str]
    description: str
    enabled: bool
    tenant: uuid.UUID | None
    """Whose events it receives; null: the admin's."""
    failing_since: datetime | None
    """The first failed attempt since the last success; an endpoint failing for
    WEBHOOK_DISABLE_AFTER_SECONDS is disabled."""
    created_at: datetime
    updated_at: datetime


class EndpointCreated(EndpointOut):
    secret: str
    """The signing secret (``whsec_...``), shown this once."""


def endpoint_out(row: WebhookEndpoint) -> EndpointOut:
    return from_row(EndpointOut, row, events=list(row.events), tenant=row.tenant_id)


def endpoint_created(row: WebhookEndpoint) -> EndpointCreated:
    return EndpointCreated(**msgspec.structs.asdict(endpoint_out(row)), secret=row.secret)


class AttemptOut(msgspec.Struct):
    at: datetime
    status_code: int | None
    latency_ms: int | None
    response: str | None
    """The first KiB of the answer's body."""
    error: str | None
    """Why there was no answer: a timeout, a refused address, ..."""


class DeliveryOut(msgspec.Struct):
    id: uuid.UUID
    event: uuid.UUID
    type: EventType
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    """Pending: when it is tried next."""
    created_at: datetime
    finished_at: datetime | None
    attempt_log: list[AttemptOut]
    """Every attempt, oldest first."""


def attempt_out(row: DeliveryAttempt) -> AttemptOut:
    return from_row(AttemptOut, row)
