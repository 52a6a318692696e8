"""The bodies of ``/v1`` as the service's OpenAPI schema names and describes them.

One struct per schema component, named as the component is, so ``/schema`` and this
module read alike. A field the schema does not require defaults to ``UNSET``: left out of
a request (the service applies its default) and absent from an answer that omits it.
Money is ``Decimal`` (the API's decimal strings, never floats), times are ``datetime``
and days ``date``.
``tests/client/test_drift.py`` fails when a struct here disagrees with the schema.
"""

from __future__ import annotations

from datetime import date, datetime
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
    OPERATION_AWAITING_APPROVAL = "operation.awaiting_approval"
    OPERATION_APPROVED = "operation.approved"
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
    TAG = "tag"


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
    BULK_ORDER = "bulk_order"
    BULK_UPDATE = "bulk_update"


class OperationStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    AWAITING_APPROVAL = "awaiting_approval"


class OverBudget(StrEnum):
    """A tenant's order beyond its monthly budget: refused (``limit_exceeded``) or held
    for an admin's approval (``awaiting_approval``)."""

    REFUSE = "refuse"
    APPROVE = "approve"


class PaymentInterval(StrEnum):
    MONTHLY = "monthly"
    ANNUALLY = "annually"


class RunStatus(StrEnum):
    """A sync run's status (an operation's, less ``awaiting_approval``)."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


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


class BulkOrderCreate(_Model):
    country: str
    count: int
    payment_interval: PaymentInterval
    features: list[str] | UnsetType = UNSET
    pool: UUID | UnsetType | None = UNSET
    tenant: UUID | UnsetType | None = UNSET


class CostReportOut(_Model):
    month: str
    basis: Basis
    group_by: GroupBy
    currency: Literal["EUR"]
    rows: list[CostRowOut]
    totals: CostTotalsOut
    #: The tag's key when ``group_by`` is ``tag`` (``group_by="tag:<key>"``).
    tag: str | UnsetType | None = UNSET


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


class DeletionLockOut(_Model):
    locked_at: datetime
    locked_by: str
    reason: str | None


class DeletionLockSet(_Model):
    reason: str | UnsetType | None = UNSET


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


class IdleNumberOut(_Model):
    number: str
    country: str
    tenant: UUID | None
    tenant_name: str | None
    pool: UUID | None
    pool_name: str | None
    monthly_cost: Decimal | None
    active_since: datetime | None
    last_inbound_day: date | None


class IdleNumberPage(_Model):
    items: list[IdleNumberOut]
    next_cursor: str | None


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


class LimitsChange(_Model):
    """An absent limit stays as it is; ``None`` removes it. ``monthly_budget`` is EUR as a
    decimal string (``"50.00"``)."""

    max_numbers: int | UnsetType | None = UNSET
    monthly_budget: str | UnsetType | None = UNSET
    orders_per_day: int | UnsetType | None = UNSET
    over_budget: OverBudget | UnsetType | None = UNSET


class LimitsOut(_Model):
    max_numbers: int | None
    monthly_budget: Decimal | None
    orders_per_day: int | None
    over_budget: OverBudget


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
    tags: dict[str, str]
    deletion_lock: DeletionLockOut | None


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
    #: The bulk operation this one is a child of.
    parent: UUID | UnsetType | None = UNSET
    #: A bulk operation's children, counted.
    progress: Progress | UnsetType | None = UNSET
    #: A bulk operation's children: ``/v1/operations?parent=<id>``.
    children: str | UnsetType | None = UNSET


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
    tenants: list[UUID] | UnsetType | None = UNSET
    all: bool | UnsetType | None = UNSET


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


class PoolTenantsOut(_Model):
    pool: UUID
    all: bool
    tenants: list[TenantRef]


class PoolTenantsSet(_Model):
    """``tenants`` replaces who may use the pool (empty: nobody), or ``all=True`` opens it
    to every tenant; one of the two."""

    tenants: list[UUID] | UnsetType | None = UNSET
    all: bool | UnsetType | None = UNSET


class PoolUpdate(_Model):
    cooldown_days: int


class Progress(_Model):
    succeeded: int = 0
    failed: int = 0
    pending: int = 0


class Rejection(_Model):
    reason: str


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
    status: RunStatus
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
    tags: dict[str, str]
    limits: LimitsOut


class TenantRef(_Model):
    id: UUID
    name: str


class TenantUpdate(_Model):
    """``tags`` replaces the tenant's tags; ``limits`` changes the limits it names."""

    tags: dict[str, str] | UnsetType = UNSET
    limits: LimitsChange | UnsetType = UNSET


class WebhookOut(_Model):
    status: Literal["counted", "duplicate", "ignored"]


class WhoAmI(_Model):
    scope: KeyScope
    key_id: UUID | None
    tenant_id: UUID | None
