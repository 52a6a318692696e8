"""The tables. Postgres is the truth; every other store is derived from these rows."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import UserDefinedType

from app.db.base import Base, Timestamps
from app.db.vocabulary import (
    IN_FLIGHT,
    NUMBER_OPERATION_KINDS,
    AuditActor,
    DeliveryStatus,
    DriftKind,
    EventType,
    Handover,
    KeyScope,
    NumberState,
    OperationKind,
    OperationStatus,
    OverBudget,
    RunStatus,
    sql,
)
from app.seven.types import PaymentInterval

# A pool's cool-down unless its creator says otherwise: a week, so one-time codes sent to
# the previous holder have stopped before the next one receives the number's SMS.
DEFAULT_COOLDOWN_DAYS = 7


def _one_of(column: str, values: Iterable[StrEnum]) -> str:
    return f"{column} IN {sql(values)}"


_TAGS_OBJECT = "jsonb_typeof(tags) = 'object'"


def _tags_column() -> Mapped[dict[str, str]]:
    """Labels (key -> value, checked by app.lib.tags) for reports and filters."""
    return mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))


class Tenant(Timestamps, Base):
    """A team using the service, with its limits (NULL: none; app.operations.limits)."""

    __tablename__ = "tenants"
    __table_args__ = (
        CheckConstraint(_TAGS_OBJECT, name="tags_object"),
        CheckConstraint(
            "limit_max_numbers >= 0 AND limit_monthly_budget >= 0 AND limit_orders_per_day >= 0",
            name="limits_not_negative",
        ),
        CheckConstraint(_one_of("over_budget", OverBudget), name="over_budget"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(Text, unique=True)
    tags: Mapped[dict[str, str]] = _tags_column()
    # Numbers held at once, in any state but deleted (orders in flight included).
    limit_max_numbers: Mapped[int | None]
    # EUR: the month's cash charges plus what new orders would add this month.
    limit_monthly_budget: Mapped[Decimal | None]
    # Order operations created in one Europe/Berlin day.
    limit_orders_per_day: Mapped[int | None]
    over_budget: Mapped[str] = mapped_column(
        Text, default=OverBudget.REFUSE, server_default=OverBudget.REFUSE
    )


class ApiKey(Base):
    """A caller's key, stored only as its SHA-256 digest."""

    __tablename__ = "api_keys"
    __table_args__ = (
        CheckConstraint(_one_of("scope", KeyScope), name="scope"),
        # An admin key belongs to no tenant; a tenant key to exactly one.
        CheckConstraint(
            f"(scope = {sql(KeyScope.ADMIN)}) = (tenant_id IS NULL)", name="tenant_matches_scope"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    scope: Mapped[str] = mapped_column(Text)
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(Text, default="")
    prefix: Mapped[str] = mapped_column(Text)
    key_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class Pool(Timestamps, Base):
    __tablename__ = "pools"
    __table_args__ = (CheckConstraint("cooldown_days >= 0", name="cooldown_not_negative"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(Text, unique=True)
    country: Mapped[str | None] = mapped_column(String(2))
    # Features every number of the pool must have (any of "sms", "a2p_sms", "voice").
    features: Mapped[list[str]] = mapped_column(
        ARRAY(Text), default=list, server_default=text("'{}'")
    )
    cooldown_days: Mapped[int] = mapped_column(
        default=DEFAULT_COOLDOWN_DAYS, server_default=text(str(DEFAULT_COOLDOWN_DAYS))
    )
    # Open to every tenant; else only to the tenants ``pool_tenants`` lists for it.
    all_tenants: Mapped[bool] = mapped_column(default=True, server_default=text("true"))


class PoolTenant(Base):
    """A tenant a pool is open to (when the pool is not open to all)."""

    __tablename__ = "pool_tenants"

    pool_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("pools.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Number(Base):
    """The mirror of one of the account's numbers, with seven's fields and our own."""

    __tablename__ = "numbers"
    __table_args__ = (
        CheckConstraint(_one_of("state", NumberState), name="state"),
        CheckConstraint(_one_of("payment_interval", PaymentInterval), name="payment_interval"),
        # When a number was first missed is known exactly while it is missing, and only then.
        CheckConstraint(
            f"(state = {sql(NumberState.MISSING)}) = (missing_since IS NOT NULL)",
            name="missing_since_when_missing",
        ),
        CheckConstraint(_one_of("handover", Handover), name="handover"),
        CheckConstraint(_TAGS_OBJECT, name="tags_object"),
        # Containment (``tag=key:value``) and key existence (``tag=key``).
        Index("ix_numbers_tags", "tags", postgresql_using="gin"),
        # A lock says when and by whom it was set; a reason only with a lock.
        CheckConstraint(
            "(deletion_locked_at IS NULL) = (deletion_locked_by IS NULL)"
            " AND (deletion_locked_at IS NOT NULL OR deletion_lock_reason IS NULL)",
            name="deletion_lock_whole",
        ),
        Index(
            "ix_numbers_number_trgm",
            "number",
            postgresql_using="gin",
            postgresql_ops={"number": "gin_trgm_ops"},
        ),
        Index(
            "ix_numbers_friendly_name_trgm",
            "friendly_name",
            postgresql_using="gin",
            postgresql_ops={"friendly_name": "gin_trgm_ops"},
        ),
        # A list page filtered by one of these is the next rows of its range in number
        # order (a scan of the primary key would skip every number of other values);
        # each also serves the lookups by the column alone.
        *(
            Index(f"ix_numbers_{column}_number", column, "number")
            for column in ("country", "state", "tenant_id", "pool_id")
        ),
    )

    # seven's fields. The number is digits only, country code first, as seven shows it.
    number: Mapped[str] = mapped_column(Text, primary_key=True)
    country: Mapped[str] = mapped_column(String(2))
    friendly_name: Mapped[str] = mapped_column(Text, default="", server_default="")
    payment_interval: Mapped[str] = mapped_column(Text)
    # Fees are unknown while a number is being ordered; seven's answer fills them in.
    fee_setup: Mapped[Decimal | None]
    fee_basic_charge: Mapped[Decimal | None]
    fee_sms_mo: Mapped[Decimal | None]
    fee_voice_mo: Mapped[Decimal | None]
    feature_sms: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    feature_a2p_sms: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    feature_voice: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    forward_sms_mo: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    # seven's strings exactly as received ("YYYY-MM-DD HH:MM:SS", Europe/Berlin) ...
    created: Mapped[str | None] = mapped_column(Text)
    expires: Mapped[str | None] = mapped_column(Text)
    # ... and the same instants in UTC, for queries and the cost model.
    seven_created_at: Mapped[datetime | None]
    seven_expires_at: Mapped[datetime | None]
    # BLAKE2b-128 of seven's item as it was sent, while the row holds exactly what that
    # item maps to: written by the sync with the row, cleared by a trigger when anything
    # else writes what the sync compares (migration 0022, app/sync/digests.py).
    seven_digest: Mapped[bytes | None] = mapped_column(LargeBinary)

    # The service's own fields.
    state: Mapped[str] = mapped_column(Text)
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("tenants.id"))
    pool_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("pools.id"))
    pending_operation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("operations.id", ondelete="SET NULL")
    )
    synced_at: Mapped[datetime | None]
    # The first sync that no longer found the number in seven's list (state ``missing``).
    missing_since: Mapped[datetime | None]
    # A previous holder's settings (forwarding, friendly name) may still be at seven:
    # ``clearing`` (an update clearing them is pending), ``clearing_failed`` or
    # ``uncleared`` (the number was deleted while held, and may come back). NULL: nothing
    # of a previous holder is left. Nobody is given the number while it is set.
    handover: Mapped[str | None] = mapped_column(Text)
    # The latest operation clearing them; NULL again once one has succeeded.
    handover_operation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("operations.id", ondelete="SET NULL")
    )
    tags: Mapped[dict[str, str]] = _tags_column()
    # While set, every DELETE of the number is refused (app.numbers.locks): when, by whom
    # (as app.numbers.locks.who names a caller) and why.
    deletion_locked_at: Mapped[datetime | None]
    deletion_locked_by: Mapped[str | None] = mapped_column(Text)
    deletion_lock_reason: Mapped[str | None] = mapped_column(Text)
    inserted_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    updated_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class Operation(Timestamps, Base):
    """A durable request to change something at seven, carried out by a worker job."""

    __tablename__ = "operations"
    __table_args__ = (
        CheckConstraint(_one_of("kind", OperationKind), name="kind"),
        CheckConstraint(_one_of("status", OperationStatus), name="status"),
        # One decisive guard against two operations racing on one number: the second
        # insert fails on this index, whatever the timing.
        Index(
            "uq_operations_number_in_flight",
            "number",
            unique=True,
            postgresql_where=text(
                f"{_one_of('status', IN_FLIGHT)} AND {_one_of('kind', NUMBER_OPERATION_KINDS)}"
            ),
        ),
        Index("ix_operations_status_updated_at", "status", "updated_at"),
        Index("ix_operations_kind_created_at", "kind", "created_at"),
        Index(
            "ix_operations_parent_id", "parent_id", postgresql_where=text("parent_id IS NOT NULL")
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(
        Text, default=OperationStatus.QUEUED, server_default=OperationStatus.QUEUED
    )
    number: Mapped[str | None] = mapped_column(Text, index=True)
    # What the caller asked for (payment_interval, friendly_name, forwards, ...).
    params: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    attempts: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    error_code: Mapped[str | None] = mapped_column(Text)
    error_message: Mapped[str | None] = mapped_column(Text)
    # The recovery point: set and committed just before a paid or destructive call.
    # An operation found with this set and no outcome is settled by asking seven, not
    # before ``settle_after`` (until then seven may still be carrying the call out).
    submitted_at: Mapped[datetime | None]
    settle_after: Mapped[datetime | None]
    # seven clearly accepted the paid or destructive call: it is never sent again.
    accepted_at: Mapped[datetime | None]
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    idempotency_key: Mapped[str | None] = mapped_column(Text)
    request_hash: Mapped[str | None] = mapped_column(Text)
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("tenants.id"), index=True)
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="SET NULL")
    )
    request_id: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # The bulk operation (bulk_order, bulk_update) this order or update was made for.
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("operations.id"))
    # An order for a tenant with a monthly budget: what it was priced to add to its
    # month's cash charges, counted against the budget until seven has quoted its fees.
    month_charge: Mapped[Decimal | None]


Index(
    "uq_operations_idempotency_key",
    Operation.idempotency_key,
    unique=True,
    postgresql_where=Operation.idempotency_key.is_not(None),
)


class SyncRun(Base):
    __tablename__ = "sync_runs"
    __table_args__ = (CheckConstraint(_one_of("status", RunStatus), name="status"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    operation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("operations.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(Text, default=OperationStatus.RUNNING)
    started_at: Mapped[datetime] = mapped_column(server_default=text("now()"), index=True)
    finished_at: Mapped[datetime | None]
    fetched: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    added: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    changed: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    removed: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    unchanged: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    error_message: Mapped[str | None] = mapped_column(Text)


class DeferredIndexBuild(Base):
    """An index of the mirror dropped by the first sync and not yet built again
    (``app/sync/indexes.py``): its name and the statement that creates it."""

    __tablename__ = "deferred_index_builds"

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    definition: Mapped[str] = mapped_column(Text)
    deferred_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class SyncDrift(Base):
    """A difference a sync found that none of our operations explains."""

    __tablename__ = "sync_drift"
    __table_args__ = (CheckConstraint(_one_of("kind", DriftKind), name="kind"),)

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    run_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sync_runs.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class Allocation(Base):
    """Who held which number from when to when; cost reports attribute charges with it.

    An open interval ends when its number becomes ``deleted``, by whatever path: the
    trigger ``numbers_release_deleted`` (migrations 0005, 0009) closes it and clears the
    holder. A release ends it too; its cool-down starts only once what the holder set at
    seven has been cleared (app/pools/handover.py).
    """

    __tablename__ = "allocations"
    __table_args__ = (
        Index(
            "uq_allocations_number_open",
            "number",
            unique=True,
            postgresql_where=text("released_at IS NULL"),
        ),
        CheckConstraint(
            "released_at IS NULL OR released_at >= allocated_at", name="released_after_allocated"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    number: Mapped[str] = mapped_column(ForeignKey("numbers.number"), index=True)
    pool_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("pools.id"), index=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    allocated_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    released_at: Mapped[datetime | None]
    # End of the pool's cool-down, counted from the clearing of what the holder set at
    # seven (NULL until that succeeded): nobody else gets the number before it.
    available_at: Mapped[datetime | None]


class AuditEntry(Base):
    """One request that changed (or tried to change) something. Append-only: a trigger
    refuses UPDATE and DELETE, so a row, once written, says what happened for good."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_action_at", "action", "at"),
        Index("ix_audit_log_target_at", "target", "at"),
        CheckConstraint(_one_of("actor", AuditActor), name="actor"),
        CheckConstraint(
            f"(actor = {sql(AuditActor.KEY)}) = (api_key_id IS NOT NULL)", name="key_matches_actor"
        ),
    )

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    # Who acted: ``key`` (then api_key_id says which), ``bootstrap`` or ``cli``.
    actor: Mapped[str] = mapped_column(Text)
    # The key's id, never the key; None when the actor is not a stored key.
    # No foreign keys: an audit row must outlive whatever it names.
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    scope: Mapped[str] = mapped_column(Text)
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    action: Mapped[str] = mapped_column(Text)
    target: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(Text)
    # "ok", or the stable error code the request was refused with.
    outcome: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )


class NumberFeeVersion(Base):
    """A number's fees from ``valid_from`` on. Written only by the triggers on
    ``numbers`` (migration 0003, inserts per statement since 0004) when a number is
    inserted with fees or its fees change, so the cost reports keep charging the days
    before a change at the old fee."""

    __tablename__ = "number_fee_versions"
    __table_args__ = (Index("ix_number_fee_versions_number_valid_from", "number", "valid_from"),)

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    number: Mapped[str] = mapped_column(Text)
    valid_from: Mapped[datetime] = mapped_column(server_default=text("now()"))
    payment_interval: Mapped[str] = mapped_column(Text)
    fee_setup: Mapped[Decimal]
    fee_basic_charge: Mapped[Decimal]
    fee_sms_mo: Mapped[Decimal]
    fee_voice_mo: Mapped[Decimal]


class NumberUsageDaily(Base):
    """Inbound use of a number on one Europe/Berlin day, counted from seven's webhooks.
    No foreign key: usage seven reports for a number the mirror has not caught up with
    yet must not be lost."""

    __tablename__ = "number_usage_daily"
    __table_args__ = (
        CheckConstraint("sms_mo >= 0 AND voice_mo_minutes >= 0", name="not_negative"),
        Index("ix_number_usage_daily_day", "day"),
    )

    number: Mapped[str] = mapped_column(Text, primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    sms_mo: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    voice_mo_minutes: Mapped[Decimal] = mapped_column(default=0, server_default=text("0"))


class WebhookEvent(Base):
    """A webhook event already counted: seven retries, a replay must change nothing."""

    __tablename__ = "webhook_events"

    event_type: Mapped[str] = mapped_column(Text, primary_key=True)
    event_id: Mapped[str] = mapped_column(Text, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class Event(Base):
    """One change of state, for other services (the outbox, app.events): written in the
    transaction of the change, so both commit or neither does. ``seq`` orders them (the
    newest-first list, one number's events in the order they happened); ``id`` is the
    stable id callers and webhook receivers see. No tenant: an admin's event."""

    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint(_one_of("type", EventType), name="type"),
        Index("ix_events_tenant_id_seq", "tenant_id", "seq"),
        Index("ix_events_number_seq", "number", "seq"),
        Index("ix_events_created_at", "created_at"),
    )

    seq: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(
        unique=True, default=uuid.uuid4, server_default=text("gen_random_uuid()")
    )
    type: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE")
    )
    number: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)


class WebhookEndpoint(Timestamps, Base):
    """Where a tenant's events (or, without a tenant, the admin's) are pushed."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(Text)
    # Event types, or "*" for every type.
    events: Mapped[list[str]] = mapped_column(ARRAY(Text))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The Standard Webhooks signing secret (whsec_ + base64): needed in the clear to sign.
    secret: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    # The first failure since the last success: an endpoint failing long enough is disabled.
    failing_since: Mapped[datetime | None]


class Delivery(Base):
    """One event to one endpoint: attempted until it is answered 2xx or its retry window
    ends. ``key`` orders them: an endpoint gets one number's events in ``event_seq`` order."""

    __tablename__ = "deliveries"
    __table_args__ = (
        CheckConstraint(_one_of("status", DeliveryStatus), name="status"),
        Index("uq_deliveries_endpoint_id_event_seq", "endpoint_id", "event_seq", unique=True),
        Index(
            "ix_deliveries_pending",
            "next_attempt_at",
            postgresql_where=text(f"status = {sql(DeliveryStatus.PENDING)}"),
        ),
        Index(
            "ix_deliveries_endpoint_id_key_event_seq",
            "endpoint_id",
            "key",
            "event_seq",
            postgresql_where=text(f"status = {sql(DeliveryStatus.PENDING)}"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    event_seq: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("events.seq", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(
        Text, default=DeliveryStatus.PENDING, server_default=DeliveryStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    next_attempt_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    first_attempt_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class DeliveryAttempt(Base):
    """One POST of a delivery, as the endpoint answered it (or why it was not made)."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    delivery_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    status_code: Mapped[int | None]
    latency_ms: Mapped[int | None]
    # The first KiB of the answer's body.
    response: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)


class ConsoleSession(Base):
    """A browser signed in to the console: its cookie holds the opaque id whose SHA-256
    digest is ``id_hash``; the key it signed in with is checked again on every request."""

    __tablename__ = "console_sessions"

    id_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    # Null for the bootstrap ADMIN_API_KEY, which has no row.
    key_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), index=True
    )
    key_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    csrf_token: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    expires_at: Mapped[datetime] = mapped_column(index=True)


class CostRollupMonth(Base):
    """A closed month's version: every late change to what its costs are computed from
    bumps it, in the change's transaction (triggers, migration 0019)."""

    __tablename__ = "cost_rollup_months"

    month: Mapped[date] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)


class CostRollup(Base):
    """A closed month's finished cost report (app.costs.rollups), encoded as the answers
    write it (app.costs.rendered), valid while its ``version`` equals the month's.
    ``tenant_id``: the tenant a tenant key's report is scoped to; null for the whole
    account."""

    __tablename__ = "cost_rollups"
    __table_args__ = (
        UniqueConstraint(
            "month", "basis", "group_by", "tenant_id", postgresql_nulls_not_distinct=True
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    month: Mapped[date]
    basis: Mapped[str] = mapped_column(Text)
    group_by: Mapped[str] = mapped_column(Text)
    # No foreign key: a report may be asked for any tenant id, and a removed tenant's
    # rollups are outdated by the removal of its allocations anyway.
    tenant_id: Mapped[uuid.UUID | None]
    version: Mapped[int] = mapped_column(BigInteger)
    rows_json: Mapped[bytes] = mapped_column(LargeBinary)
    totals_json: Mapped[bytes] = mapped_column(LargeBinary)
    csv: Mapped[bytes] = mapped_column(LargeBinary)
    computed_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class _PostgresType(UserDefinedType[str]):
    """A PostgreSQL type SQLAlchemy does not know, named as it is (values as text)."""

    cache_ok = True

    def __init__(self, name: str) -> None:
        self.name = name

    def get_col_spec(self, **kw: Any) -> str:
        return self.name


class CostLiveChange(Base):
    """A transaction (``xid``) that changed what the costs of ``month`` and later months
    are computed from; written by the triggers of migration 0019 (since 0023), once per
    transaction and month, updated only by its own transaction (its numbers, since 0027)."""

    __tablename__ = "cost_live_changes"

    xid: Mapped[str] = mapped_column(_PostgresType("xid8"), primary_key=True)
    month: Mapped[date] = mapped_column(primary_key=True)
    # False for a write to usage alone (since 0025): it leaves a kept recurring part
    # (``cost_live_parts``) valid.
    recurring: Mapped[bool] = mapped_column(primary_key=True, server_default=text("true"))
    # The numbers a recurring change touched (since 0027): a kept part is served with
    # their slices computed afresh. NULL: every number (a wide change, or usage).
    numbers: Mapped[list[str] | None] = mapped_column(ARRAY(Text))


class CostLiveReport(Base):
    """The report of a month not rolled up yet (app.costs.live), as the answers write it,
    computed in ``snapshot``: served while no change to its month committed outside that
    snapshot. ``csv``: kept when an answer wrote it (else written from the rows)."""

    __tablename__ = "cost_live_reports"
    __table_args__ = (
        UniqueConstraint(
            "month", "basis", "group_by", "tenant_id", postgresql_nulls_not_distinct=True
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    month: Mapped[date]
    basis: Mapped[str] = mapped_column(Text)
    group_by: Mapped[str] = mapped_column(Text)
    tenant_id: Mapped[uuid.UUID | None]
    snapshot: Mapped[str] = mapped_column(_PostgresType("pg_snapshot"))
    rows_json: Mapped[bytes] = mapped_column(LargeBinary)
    totals_json: Mapped[bytes] = mapped_column(LargeBinary)
    csv: Mapped[bytes | None] = mapped_column(LargeBinary)
    computed_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class CostLivePart(Base):
    """The recurring and setup charges of a month not rolled up yet, on one basis, per
    number and holder slice (``CostLiveSlice``), computed in ``snapshot``: valid while no
    change of the recurring kind to its month committed outside that snapshot
    (app.costs.parts). UNLOGGED, with its slices: a cache."""

    __tablename__ = "cost_live_parts"
    __table_args__ = (
        Index("ix_cost_live_parts_month_basis", "month", "basis"),
        {"prefixes": ["UNLOGGED"]},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    month: Mapped[date]
    basis: Mapped[str] = mapped_column(Text)
    snapshot: Mapped[str] = mapped_column(_PostgresType("pg_snapshot"))
    computed_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


# A number's holder slice of the month in a kept recurring part: what the report groups
# it by, its days [sf, st), the number's [c, e), and its recurring and setup charges,
# exact (NULL: none in the slice). Written and read in SQL alone (app.costs.parts), so a
# table without a key rather than a mapped class with one to maintain.
cost_live_slices = Table(
    "cost_live_slices",
    Base.metadata,
    Column("part", BigInteger, nullable=False),  # no foreign key: see migration 0025
    Column("number", Text, nullable=False),
    Column("country", String(2), nullable=False),
    Column("tenant_id", Uuid),
    Column("pool_id", Uuid),
    Column("shared", Boolean, nullable=False),
    *(Column(name, Date, nullable=False) for name in ("sf", "st", "c", "e")),
    Column("recurring", Numeric),
    Column("setup", Numeric),
    Index("ix_cost_live_slices_part", "part"),
    prefixes=["UNLOGGED"],
)


# A kept recurring part's account-wide report by number with no usage, as the answers
# write it (each row's JSON and a comma, at the byte offsets of ``offsets``, in the order
# of ``keys``), and the exact sums its totals start from (app.costs.splice, migration
# 0026). Written and read in SQL alone, like the slices.
cost_live_number_rows = Table(
    "cost_live_number_rows",
    Base.metadata,
    Column("part", BigInteger, primary_key=True),  # no foreign key: see migration 0026
    Column("numbers", Integer, nullable=False),
    Column("recurring", Numeric, nullable=False),
    Column("setup", Numeric, nullable=False),
    *(Column(name, LargeBinary, nullable=False) for name in ("keys", "offsets", "rows")),
    prefixes=["UNLOGGED"],
)


class CostLiveHorizon(Base):
    """One row: the change rows below ``horizon`` are deleted, so a live report whose
    snapshot's xmin is below it is not served (app.costs.live.prune)."""

    __tablename__ = "cost_live_horizon"
    __table_args__ = (CheckConstraint("one", name="one"),)

    one: Mapped[bool] = mapped_column(primary_key=True, server_default=text("true"))
    horizon: Mapped[str] = mapped_column(_PostgresType("xid8"))
