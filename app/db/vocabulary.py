"""The closed vocabularies the tables hold and the API shows, each written out once.

A member of a ``StrEnum`` is its value (``NumberState.ACTIVE == "active"``), so it goes
into SQLAlchemy, msgspec and asyncpg as the text the column holds, and the OpenAPI
document lists its values. The check constraints (app.db.models) and the SQL written by
hand (the sync's diff, the cost report) are rendered from these classes with
:func:`sql`; tests/app/test_vocabulary.py fails when one of the values is written out
anywhere else in ``app/``. seven's own vocabulary (``PaymentInterval``) lives with its
payload types in app.seven.types.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class NumberState(StrEnum):
    """Where a mirrored number stands: being ordered, on the account (``active``, or
    ``deleting`` at the end of its period), ``missing`` (absent from seven's last list,
    not yet confirmed gone), ``deleted``, or ``failed`` (its order failed)."""

    ORDERING = "ordering"
    ACTIVE = "active"
    DELETING = "deleting"
    MISSING = "missing"
    DELETED = "deleted"
    FAILED = "failed"


#: On the account as far as the mirror knows (a missing number may still be): seven may
#: bill it, and what a holder set may still be there.
LIVE_STATES = (NumberState.ACTIVE, NumberState.DELETING, NumberState.MISSING)


class OperationKind(StrEnum):
    """What an operation changes at seven: one number (order, update, delete), the
    mirror as a whole (sync), or many numbers through child orders or updates
    (bulk_order, bulk_update)."""

    ORDER = "order"
    UPDATE = "update"
    DELETE = "delete"
    SYNC = "sync"
    BULK_ORDER = "bulk_order"
    BULK_UPDATE = "bulk_update"


#: Operations on one number: at most one of them is in flight per number.
NUMBER_OPERATION_KINDS = (OperationKind.ORDER, OperationKind.UPDATE, OperationKind.DELETE)
#: Parents of ordinary operations (their children, ``operations.parent_id``).
BULK_OPERATION_KINDS = (OperationKind.BULK_ORDER, OperationKind.BULK_UPDATE)


class OperationStatus(StrEnum):
    """Where an operation (or a sync run) stands. An order beyond its tenant's monthly
    budget, when the tenant's ``over_budget`` is ``approve``, waits in
    ``awaiting_approval`` (not in flight: no job, no call to seven) until an admin approves
    it (``queued``) or rejects it, or it expires (``failed``)."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    AWAITING_APPROVAL = "awaiting_approval"


IN_FLIGHT = (OperationStatus.QUEUED, OperationStatus.RUNNING)
FINISHED = (OperationStatus.SUCCEEDED, OperationStatus.FAILED)


class RunStatus(StrEnum):
    """Where a sync run stands: an operation's statuses but ``awaiting_approval`` (only an
    order awaits approval). Spelled out so that type checkers know its members;
    ``tests/app/test_vocabulary.py`` keeps it equal to the statuses it stands for."""

    QUEUED = OperationStatus.QUEUED.value
    RUNNING = OperationStatus.RUNNING.value
    SUCCEEDED = OperationStatus.SUCCEEDED.value
    FAILED = OperationStatus.FAILED.value


class OverBudget(StrEnum):
    """What a tenant's order beyond its monthly budget becomes: refused (409
    ``limit_exceeded``), or an operation awaiting an admin's approval."""

    REFUSE = "refuse"
    APPROVE = "approve"


class Handover(StrEnum):
    """What a previous holder set at seven (forwarding, friendly name) may still be
    there: an update clearing it is pending (``clearing``), failed
    (``clearing_failed``), or the number was deleted while held (``uncleared``)."""

    CLEARING = "clearing"
    CLEARING_FAILED = "clearing_failed"
    UNCLEARED = "uncleared"


class DriftKind(StrEnum):
    """A difference a sync found that none of our operations explains."""

    ADDED = "added"
    CHANGED = "changed"
    MISSING = "missing"
    REMOVED = "removed"


class KeyScope(StrEnum):
    """What an API key may do: everything (``admin``) or act for one tenant."""

    ADMIN = "admin"
    TENANT = "tenant"


class AuditActor(StrEnum):
    """Who an audit row is about: a stored key, the bootstrap ADMIN_API_KEY, or the
    operator CLI."""

    KEY = "key"
    BOOTSTRAP = "bootstrap"
    CLI = "cli"


class EventType(StrEnum):
    """What an event (app.events, the outbox) reports: a change of state, written in the
    transaction of the change."""

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
    #: ``POST /v1/webhook-endpoints/{id}/test``: sent to that endpoint only.
    PING = "ping"


class DeliveryStatus(StrEnum):
    """Where the delivery of one event to one webhook endpoint stands."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


def sql(values: StrEnum | Iterable[StrEnum]) -> str:
    """Vocabulary as SQL literals: ``'active'`` for one value, ``('active', 'deleting')``
    for several. Rendered rather than bound where the planner must see the value (the
    partial indexes' predicates) or the SQL is a module constant."""
    if isinstance(values, StrEnum):
        return f"'{values.value}'"
    return f"({', '.join(sql(value) for value in values)})"
