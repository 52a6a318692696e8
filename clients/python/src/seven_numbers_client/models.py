"""The bodies of ``/v1`` as the service's OpenAPI schema names and describes them.

One struct per schema component, named as the component is, so ``/schema`` and this
module read alike. A field the schema does not require defaults to ``UNSET``: left out of
a request (the service applies its default) and absent from an answer that omits it.
Money is ``Decimal`` (the API's decimal strings, never floats), times are ``datetime``.
``tests/client/test_drift.py`` fails when a struct here disagrees with the schema.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal
from uuid import UUID

import msgspec
from msgspec import UNSET, UnsetType

__all__ = ["UNSET", "UnsetType"]


class _Model(msgspec.Struct, kw_only=True):
    """Keyword-only: a field added by the service never shifts the others."""


class Basis(StrEnum):
    CASH = "cash"
    ACCRUAL = "accrual"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class DriftKind(StrEnum):
    ADDED = "added"
    CHANGED = "changed"
    MISSING = "missing"
    REMOVED = "removed"


class EventType(StrEnum):
    OPERATION_SUCCEEDED = "operation.succeeded"
    OPERATION_FAILED = "operation.failed"
    NUMBER_ORDERED = "number.ordered"
    NUMBER_UPDATED = "number.updated"
    NUMBER_DELETING = "number.deleting"
    NUMBER_DELETED = "number.deleted"
    NUMBER_MISSING = "number.missing"
    ALLOCATION_GRANTED = "allocation.granted"
    ALLOCATION_RELEASED = "allocation.released"
    POOL_EXHAUSTED = "pool.exhausted"
    SYNC_DRIFT = "sync.drift"
    MESSAGE_RECEIVED = "message.received"
    ENDPOINT_DISABLED = "endpoint.disabled"
    PING = "ping"


class GroupBy(StrEnum):
    TENANT = "tenant"
    POOL = "pool"
    COUNTRY = "country"
    NUMBER = "number"


class Handover(StrEnum):
    CLEARING = "clearing"
    CLEARING_FAILED = "clearing_failed"
    UNCLEARED = "uncleared"


class KeyScope(StrEnum):
    ADMIN = "admin"
    TENANT = "tenant"


class NumberState(StrEnum):
    ORDERING = "ordering"
    ACTIVE = "active"
    DELETING = "deleting"
    MISSING = "missing"
    DELETED = "deleted"
    FAILED = "failed"


class OperationKind(StrEnum):
    ORDER = "order"
    UPDATE = "update"
    DELETE = "delete"
    SYNC = "sync"


class OperationStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class PaymentInterval(StrEnum):
    MONTHLY = "monthly"
    ANNUALLY = "annually"


class AllocationCreate(_Model):
    pool: UUID
    tenant: UUID | UnsetType | None = UNSET
    country: str | UnsetType | None = UNSET
    features: list[Literal["sms", "a2p_sms", "voice"]] | UnsetType = UNSET
    order_if_empty: bool | UnsetType = UNSET
    payment_interval: PaymentInterval | UnsetType | None = UNSET


class AllocationOut(_Model):
    id: UUID
    number: str
    pool: UUID | None
    pool_name: str | None
    tenant: UUID
    tenant_name: str
    allocated_at: datetime
    released_at: datetime | None
    available_at: datetime | None


class AttemptOut(_Model):
    at: datetime
    status_code: int | None
    latency_ms: int | None
    response: str | None
    error: str | None


class AuditEntryOut(_Model):
    id: int
    at: datetime
    actor: str
    key: UUID | None
    scope: str
    tenant: UUID | None
    tenant_name: str | None
    pool_name: str | None
    action: str
    target: str | None
    request_id: str | None
    outcome: str
    details: dict[str, Any]


class AuditPage(_Model):
    items: list[AuditEntryOut]
    next_cursor: str | None


class AvailableFeesOut(_Model):
    monthly: IntervalFeesOut
    annually: IntervalFeesOut
    sms_mo: Decimal
    voice_mo: Decimal


class AvailableNumberOut(_Model):
    country: str
    number: str
    number_parsed: str
    fees: AvailableFeesOut
    features: Features
    monthly_equivalent: MonthlyEquivalent


class AvailableNumbers(_Model):
    items: list[AvailableNumberOut]


class BillingOut(_Model):
    fees: FeesOut
    payment_interval: PaymentInterval


class CostReportOut(_Model):
    month: str
    basis: Basis
    group_by: GroupBy
    currency: Literal["EUR"]
    rows: list[CostRowOut]
    totals: CostTotalsOut


class CostRowOut(_Model):
    key: str
    name: str | None
    numbers: int
    recurring: Decimal
    setup: Decimal
    usage: Decimal
    total: Decimal


class CostTotalsOut(_Model):
    numbers: int
    recurring: Decimal
    setup: Decimal
    usage: Decimal
    total: Decimal


class DeliveryOut(_Model):
    id: UUID
    event: UUID
    type: EventType
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    finished_at: datetime | None
    attempt_log: list[AttemptOut]


class DeliveryPage(_Model):
    items: list[DeliveryOut]
    next_cursor: str | None


class DriftOut(_Model):
    number: str
    kind: DriftKind
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class EmailForwardChange(_Model):
    address: list[str] | UnsetType = UNSET
    enabled: bool | UnsetType = UNSET


class EndpointCreate(_Model):
    url: str
    events: list[str]
    description: str | UnsetType = UNSET
    tenant: UUID | UnsetType | None = UNSET


class EndpointCreated(_Model):
    id: UUID
    url: str
    events: list[str]
    description: str
    enabled: bool
    tenant: UUID | None
    failing_since: datetime | None
    created_at: datetime
    updated_at: datetime
    secret: str


class EndpointOut(_Model):
    id: UUID
    url: str
    events: list[str]
    description: str
    enabled: bool
    tenant: UUID | None
    failing_since: datetime | None
    created_at: datetime
    updated_at: datetime


class EndpointUpdate(_Model):
    url: str | UnsetType | None = UNSET
    events: list[str] | UnsetType | None = UNSET
    enabled: bool | UnsetType | None = UNSET
    description: str | UnsetType | None = UNSET


class ErrorBody(_Model):
    status: int
    code: str
    message: str
    details: Any | UnsetType = UNSET


class EventOut(_Model):
    id: UUID
    type: EventType
    created_at: datetime
    tenant: UUID | None
    number: str | None
    data: dict[str, Any]


class EventPage(_Model):
    items: list[EventOut]
    next_cursor: str | None


class Features(_Model):
    sms: bool
    a2p_sms: bool
    voice: bool


class FeesOut(_Model):
    setup: Decimal | None
    basic_charge: Decimal | None
    sms_mo: Decimal | None
    voice_mo: Decimal | None


class ForecastMonthOut(_Model):
    month: str
    numbers: int
    recurring: Decimal
    setup: Decimal
    total: Decimal
    unpriced: int


class ForecastOut(_Model):
    currency: Literal["EUR"]
    basis: Literal["cash"]
    months: list[ForecastMonthOut]
    totals: ForecastTotalsOut


class ForecastTotalsOut(_Model):
    recurring: Decimal
    setup: Decimal
    total: Decimal


class ForwardChange(_Model):
    sms: SmsForwardChange | UnsetType | None = UNSET
    email: EmailForwardChange | UnsetType | None = UNSET


class IntervalFeesOut(_Model):
    basic_charge: Decimal
    setup: Decimal


class IssuedKey(_Model):
    id: UUID
    scope: KeyScope
    tenant: UUID | None
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    key: str


class KeyCreate(_Model):
    name: str | UnsetType = UNSET


class KeyOut(_Model):
    id: UUID
    scope: KeyScope
    tenant: UUID | None
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class MonthlyEquivalent(_Model):
    monthly: Decimal
    annually: Decimal


class NumberChange(_Model):
    friendly_name: str | UnsetType | None = UNSET
    sms_forward: list[str] | UnsetType | None = UNSET
    email_forward: list[str] | UnsetType | None = UNSET
    forward_sms_mo: ForwardChange | UnsetType | None = UNSET


class NumberOut(_Model):
    country: str
    number: str
    friendly_name: str
    billing: BillingOut
    features: Features
    forward_sms_mo: dict[str, Any]
    expires: datetime | None
    created: datetime | None
    state: NumberState
    tenant: UUID | None
    pool: UUID | None
    monthly_cost: Decimal | None
    synced_at: datetime | None
    pending_operation: UUID | None
    missing_since: datetime | None
    handover: Handover | None
    handover_operation: UUID | None
    seven: SevenTimes


class NumberPage(_Model):
    items: list[NumberOut]
    next_cursor: str | None


class OperationError(_Model):
    code: str
    message: str


class OperationOut(_Model):
    id: UUID
    kind: OperationKind
    status: OperationStatus
    number: str | None
    tenant: UUID | None
    attempts: int
    error: OperationError | None
    created_at: datetime
    updated_at: datetime
    params: dict[str, Any] | UnsetType = UNSET
    warnings: list[OperationError] | UnsetType = UNSET


class OperationPage(_Model):
    items: list[OperationOut]
    next_cursor: str | None


class OrderCreate(_Model):
    number: str
    payment_interval: PaymentInterval
    pool: UUID | UnsetType | None = UNSET
    tenant: UUID | UnsetType | None = UNSET
    friendly_name: str | UnsetType | None = UNSET


class PoolCreate(_Model):
    name: str
    country: str | UnsetType | None = UNSET
    features: list[Literal["sms", "a2p_sms", "voice"]] | UnsetType = UNSET
    cooldown_days: int | UnsetType = UNSET


class PoolNumber(_Model):
    number: str


class PoolOut(_Model):
    id: UUID
    name: str
    country: str | None
    features: list[str]
    cooldown_days: int
    created_at: datetime
    numbers: int
    allocated: int
    free: int
    cooling: int
    clearing: int
    clearing_failed: int
    uncleared: int


class PoolUpdate(_Model):
    cooldown_days: int


class ReleaseOut(_Model):
    id: UUID
    number: str
    pool: UUID | None
    pool_name: str | None
    tenant: UUID
    tenant_name: str
    allocated_at: datetime
    released_at: datetime | None
    available_at: datetime | None
    clearing_operation: UUID | None


class SevenTimes(_Model):
    created: str | None
    expires: str | None


class SmsForwardChange(_Model):
    number: list[str] | UnsetType = UNSET
    enabled: bool | UnsetType = UNSET


class SyncCounts(_Model):
    fetched: int
    added: int
    changed: int
    removed: int
    unchanged: int
    skipped: int


class SyncRunOut(_Model):
    id: UUID
    started_at: datetime
    finished_at: datetime | None
    status: OperationStatus
    counts: SyncCounts
    drift: list[DriftOut]
    drift_total: int
    baseline: bool
    operation: UUID | None
    error: str | None
    next_drift_cursor: str | UnsetType | None = UNSET


class SyncRunPage(_Model):
    items: list[SyncRunOut]
    next_cursor: str | None


class SyncStart(_Model):
    force: bool | UnsetType = UNSET


class TenantCreate(_Model):
    name: str


class TenantOut(_Model):
    id: UUID
    name: str
    created_at: datetime


class WebhookOut(_Model):
    status: Literal["counted", "duplicate", "ignored"]


class WhoAmI(_Model):
    scope: KeyScope
    key_id: UUID | None
    tenant_id: UUID | None
