"""One class per resource of ``/v1``, shared by ``Client`` and ``AsyncClient``.

Each method builds a call to one ``Route`` and hands it to the client's runner: with
``Client`` it returns the answer, with ``AsyncClient`` an awaitable of it (``Reply``).
Write methods take the body's fields as keywords (or the body struct itself) and an
optional ``idempotency_key``; without one, a fresh key is sent, the same on every retry.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Iterable, Mapping
from datetime import datetime
from typing import Any, TypeAlias, TypeVar
from uuid import UUID

import msgspec

from seven_numbers_client import models as m
from seven_numbers_client.core import Call, Core, Plan, Route
from seven_numbers_client.errors import OperationTimeout
from seven_numbers_client.pages import Pages
from seven_numbers_client.retry import retry_after_seconds
from seven_numbers_client.transports import Runner
from seven_numbers_client.webhooks import DEFAULT_TOLERANCE_SECONDS, verify

T = TypeVar("T")
#: ``T`` from a ``Client``, an awaitable of ``T`` from an ``AsyncClient``.
Reply: TypeAlias = T | Awaitable[T]
Id = UUID | str
S = TypeVar("S", bound=msgspec.Struct)

_FEATURES = ("features_sms", "features_a2p_sms", "features_voice", "feature")

AVAILABLE_NUMBERS = Route(
    "GET",
    "/v1/available-numbers",
    {200: m.AvailableNumbers},
    query=("country", *_FEATURES, "prefix", "contains"),
)
ORDER = Route("POST", "/v1/orders", {202: m.OperationOut}, body=m.OrderCreate)
BULK_ORDER = Route("POST", "/v1/orders/bulk", {202: m.OperationOut}, body=m.BulkOrderCreate)
NUMBERS = Route(
    "GET",
    "/v1/numbers",
    {200: m.NumberPage},
    query=("country", *_FEATURES, "tenant", "pool", "state", "q", "tag", "limit", "cursor"),
)
NUMBERS_UPDATE = Route(
    "PATCH",
    "/v1/numbers",
    {202: m.OperationOut},
    body=m.NumberChange,
    query=("pool", "tenant", "tag"),
)
NUMBER = Route("GET", "/v1/numbers/{number}", {200: m.NumberOut})
NUMBER_UPDATE = Route("PATCH", "/v1/numbers/{number}", {202: m.OperationOut}, body=m.NumberChange)
NUMBER_DELETE = Route(
    "DELETE", "/v1/numbers/{number}", {202: m.OperationOut}, query=("delete_immediately",)
)
NUMBER_TAGS = Route("PUT", "/v1/numbers/{number}/tags", {200: m.NumberOut}, body=dict[str, str])
NUMBER_LOCK = Route(
    "PUT", "/v1/numbers/{number}/deletion-lock", {200: m.NumberOut}, body=m.DeletionLockSet
)
NUMBER_UNLOCK = Route("DELETE", "/v1/numbers/{number}/deletion-lock", {200: m.NumberOut})
OPERATION = Route("GET", "/v1/operations/{operation_id}", {200: m.OperationOut})
OPERATIONS = Route(
    "GET",
    "/v1/operations",
    {200: m.OperationPage},
    query=("status", "kind", "number", "parent", "limit", "cursor"),
)
OPERATION_APPROVE = Route("POST", "/v1/operations/{operation_id}/approve", {202: m.OperationOut})
OPERATION_REJECT = Route(
    "POST", "/v1/operations/{operation_id}/reject", {200: m.OperationOut}, body=m.Rejection
)
TENANTS = Route("GET", "/v1/tenants", {200: list[m.TenantOut]})
TENANT_CREATE = Route("POST", "/v1/tenants", {201: m.TenantOut}, body=m.TenantCreate)
TENANT = Route("GET", "/v1/tenants/{tenant_id}", {200: m.TenantOut})
TENANT_UPDATE = Route("PATCH", "/v1/tenants/{tenant_id}", {200: m.TenantOut}, body=m.TenantUpdate)
TENANT_KEY_ISSUE = Route(
    "POST", "/v1/tenants/{tenant_id}/keys", {201: m.IssuedKey}, body=m.KeyCreate
)
KEYS = Route("GET", "/v1/keys", {200: list[m.KeyOut]}, query=("tenant", "revoked"))
KEY_ISSUE = Route("POST", "/v1/keys", {201: m.IssuedKey}, body=m.KeyCreate)
KEY_REVOKE = Route("DELETE", "/v1/keys/{key_id}", {200: m.KeyOut})
WHOAMI = Route("GET", "/v1/whoami", {200: m.WhoAmI})
POOLS = Route("GET", "/v1/pools", {200: list[m.PoolOut]})
POOL_CREATE = Route("POST", "/v1/pools", {201: m.PoolOut}, body=m.PoolCreate)
POOL = Route("GET", "/v1/pools/{pool_id}", {200: m.PoolOut})
POOL_UPDATE = Route("PATCH", "/v1/pools/{pool_id}", {200: m.PoolOut}, body=m.PoolUpdate)
POOL_NUMBER_ADD = Route(
    "POST", "/v1/pools/{pool_id}/numbers", {200: m.NumberOut}, body=m.PoolNumber
)
POOL_NUMBER_REMOVE = Route("DELETE", "/v1/pools/{pool_id}/numbers/{number}", {200: m.NumberOut})
POOL_TENANTS = Route("GET", "/v1/pools/{pool_id}/tenants", {200: m.PoolTenantsOut})
POOL_TENANTS_SET = Route(
    "PUT", "/v1/pools/{pool_id}/tenants", {200: m.PoolTenantsOut}, body=m.PoolTenantsSet
)
ALLOCATIONS = Route(
    "GET",
    "/v1/allocations",
    {200: list[m.AllocationOut]},
    query=("tenant", "pool", "number", "current"),
)
ALLOCATE = Route(
    "POST",
    "/v1/allocations",
    {201: m.NumberOut, 202: m.OperationOut},
    body=m.AllocationCreate,
)
RELEASE = Route("DELETE", "/v1/allocations/{number}", {200: m.ReleaseOut})
CLEARING = Route("POST", "/v1/allocations/{number}/clearing", {202: m.OperationOut})
AUDIT = Route(
    "GET",
    "/v1/audit",
    {200: m.AuditPage},
    query=(
        *("actor", "key", "tenant", "action", "target", "outcome", "since", "until"),
        *("limit", "cursor"),
    ),
)
COSTS = Route("GET", "/v1/costs", {200: m.CostReportOut}, query=("month", "group_by", "basis"))
COSTS_CSV = Route("GET", "/v1/costs", {200: str}, query=("month", "group_by", "basis"))
IDLE_NUMBERS = Route(
    "GET",
    "/v1/reports/idle-numbers",
    {200: m.IdleNumberPage},
    query=("days", "limit", "cursor"),
)
FORECAST = Route("GET", "/v1/costs/forecast", {200: m.ForecastOut}, query=("months",))
SYNC = Route("POST", "/v1/sync", {202: m.OperationOut}, body=m.SyncStart)
SYNC_RUNS = Route("GET", "/v1/sync/runs", {200: m.SyncRunPage}, query=("limit", "cursor"))
SYNC_RUN = Route(
    "GET", "/v1/sync/runs/{run_id}", {200: m.SyncRunOut}, query=("drift_limit", "drift_cursor")
)
EVENTS = Route(
    "GET",
    "/v1/events",
    {200: m.EventPage},
    query=("type", "number", "since", "limit", "cursor"),
)
EVENT = Route("GET", "/v1/events/{event_id}", {200: m.EventOut})
ENDPOINTS = Route("GET", "/v1/webhook-endpoints", {200: list[m.EndpointOut]})
ENDPOINT_CREATE = Route(
    "POST", "/v1/webhook-endpoints", {201: m.EndpointCreated}, body=m.EndpointCreate
)
ENDPOINT = Route("GET", "/v1/webhook-endpoints/{endpoint_id}", {200: m.EndpointOut})
ENDPOINT_UPDATE = Route(
    "PATCH", "/v1/webhook-endpoints/{endpoint_id}", {200: m.EndpointOut}, body=m.EndpointUpdate
)
ENDPOINT_DELETE = Route("DELETE", "/v1/webhook-endpoints/{endpoint_id}", {204: None})
DELIVERIES = Route(
    "GET",
    "/v1/webhook-endpoints/{endpoint_id}/deliveries",
    {200: m.DeliveryPage},
    query=("limit", "cursor"),
)
DELIVERY_RETRY = Route(
    "POST",
    "/v1/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/retry",
    {202: m.DeliveryOut},
)
ENDPOINT_TEST = Route("POST", "/v1/webhook-endpoints/{endpoint_id}/test", {202: m.EventOut})

FINAL_STATUSES = frozenset({m.OperationStatus.SUCCEEDED, m.OperationStatus.FAILED})
#: Where ``operations.wait`` stops: a final status, or an order held for an admin's approval.
WAIT_STATUSES = FINAL_STATUSES | {m.OperationStatus.AWAITING_APPROVAL}


def _body(cls: type[S], body: S | None, fields: dict[str, Any]) -> S:
    """The body struct as given, or built from keyword fields (an unknown one is a
    TypeError, before anything is sent)."""
    if body is not None:
        if fields:
            raise TypeError("pass the body struct or its fields, not both")
        return body
    return cls(**fields)


class Resource:
    def __init__(self, core: Core, runner: Runner) -> None:
        self._core = core
        self._runner = runner

    def _run(self, call: Call) -> Any:
        return self._runner.run(self._core.run(call))

    def _pages(self, route: Route, path: dict[str, Any], query: dict[str, Any]) -> Pages[Any]:
        return Pages(
            self._runner,
            self._core,
            lambda cursor: route.call(path=path, query={**query, "cursor": cursor}),
        )


class AvailableNumbers(Resource):
    def list(
        self,
        *,
        country: str | None = None,
        features_sms: bool | None = None,
        features_a2p_sms: bool | None = None,
        features_voice: bool | None = None,
        prefix: str | None = None,
        contains: str | None = None,
    ) -> Reply[m.AvailableNumbers]:
        """seven's live offer (briefly cached by the service); ``.items``. ``prefix``: the
        number starts with these digits, country code first (``"+49 151"``); ``contains``:
        it has these digits anywhere."""
        return self._run(
            AVAILABLE_NUMBERS.call(
                query={
                    "country": country,
                    "features_sms": features_sms,
                    "features_a2p_sms": features_a2p_sms,
                    "features_voice": features_voice,
                    "prefix": prefix,
                    "contains": contains,
                }
            )
        )


class Orders(Resource):
    def create(
        self,
        body: m.OrderCreate | None = None,
        /,
        *,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> Reply[m.OperationOut]:
        """Order a number (``number``, ``payment_interval``, ``pool``, ``tenant``,
        ``friendly_name``): an operation to ``operations.wait`` for."""
        return self._run(
            ORDER.call(body=_body(m.OrderCreate, body, fields), idempotency_key=idempotency_key)
        )

    def bulk(
        self,
        body: m.BulkOrderCreate | None = None,
        /,
        *,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> Reply[m.OperationOut]:
        """Order ``count`` (1 to 100) numbers of ``country`` (``payment_interval``,
        ``features``, ``pool``, ``tenant``): a ``bulk_order`` operation whose ``progress``
        counts its child orders (``operations.list(parent=...)``)."""
        return self._run(
            BULK_ORDER.call(
                body=_body(m.BulkOrderCreate, body, fields), idempotency_key=idempotency_key
            )
        )


class Numbers(Resource):
    def list(
        self,
        *,
        country: str | None = None,
        features_sms: bool | None = None,
        features_a2p_sms: bool | None = None,
        features_voice: bool | None = None,
        tenant: Id | None = None,
        pool: Id | None = None,
        state: m.NumberState | str | None = None,
        q: str | None = None,
        tag: str | Iterable[str] | None = None,
        limit: int | None = None,
    ) -> Pages[m.NumberOut]:
        """``tag``: ``"key"`` (the number has the tag) or ``"key:value"``; several must all
        hold. The number's own tags only."""
        return self._pages(
            NUMBERS,
            {},
            {
                "country": country,
                "features_sms": features_sms,
                "features_a2p_sms": features_a2p_sms,
                "features_voice": features_voice,
                "tenant": tenant,
                "pool": pool,
                "state": state,
                "q": q,
                "tag": _many(tag),
                "limit": limit,
            },
        )

    def get(self, number: str) -> Reply[m.NumberOut]:
        return self._run(NUMBER.call(path={"number": number}))

    def update(
        self,
        number: str,
        body: m.NumberChange | None = None,
        /,
        *,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> Reply[m.OperationOut]:
        """Change ``friendly_name`` and forwarding (``forward_sms_mo``, ``sms_forward``,
        ``email_forward``): an ``update`` operation."""
        return self._run(
            NUMBER_UPDATE.call(
                path={"number": number},
                body=_body(m.NumberChange, body, fields),
                idempotency_key=idempotency_key,
            )
        )

    def bulk_update(
        self,
        body: m.NumberChange | None = None,
        /,
        *,
        pool: Id | None = None,
        tenant: Id | None = None,
        tag: str | Iterable[str] | None = None,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> Reply[m.OperationOut]:
        """The change ``update`` takes, for every active number in ``pool``, held by
        ``tenant`` and with each ``tag`` (``key:value`` or ``key``; one filter is required):
        a ``bulk_update`` operation whose ``progress`` counts its child updates; a number
        busy with another operation is skipped (``warnings``)."""
        return self._run(
            NUMBERS_UPDATE.call(
                query={"pool": pool, "tenant": tenant, "tag": _many(tag)},
                body=_body(m.NumberChange, body, fields),
                idempotency_key=idempotency_key,
            )
        )

    def set_tags(self, number: str, tags: Mapping[str, str]) -> Reply[m.NumberOut]:
        """Replace the number's tags with ``tags`` (``{}`` removes them all); the service's
        own labels, never sent to seven."""
        return self._run(NUMBER_TAGS.call(path={"number": number}, body=dict(tags)))

    def lock_deletion(self, number: str, *, reason: str | None = None) -> Reply[m.NumberOut]:
        """Lock the number against deletion (admin): every ``delete`` raises
        ``DeletionLocked`` until ``unlock_deletion``. Locking again replaces the lock."""
        body = m.DeletionLockSet() if reason is None else m.DeletionLockSet(reason=reason)
        return self._run(NUMBER_LOCK.call(path={"number": number}, body=body))

    def unlock_deletion(self, number: str) -> Reply[m.NumberOut]:
        """Lift the number's deletion lock (admin); a number without one stays as it is."""
        return self._run(NUMBER_UNLOCK.call(path={"number": number}))

    def delete(
        self,
        number: str,
        *,
        delete_immediately: bool | None = None,
        idempotency_key: str | None = None,
    ) -> Reply[m.OperationOut]:
        """Delete at seven (at the end of the paid period unless ``delete_immediately``)."""
        return self._run(
            NUMBER_DELETE.call(
                path={"number": number},
                query={"delete_immediately": delete_immediately},
                idempotency_key=idempotency_key,
            )
        )


class Operations(Resource):
    def get(self, operation: m.OperationOut | Id) -> Reply[m.OperationOut]:
        return self._run(OPERATION.call(path={"operation_id": _operation_id(operation)}))

    def list(
        self,
        *,
        status: m.OperationStatus | str | None = None,
        kind: m.OperationKind | str | None = None,
        number: str | None = None,
        parent: m.OperationOut | Id | None = None,
        limit: int | None = None,
    ) -> Pages[m.OperationOut]:
        """``parent``: the children of this bulk operation."""
        return self._pages(
            OPERATIONS,
            {},
            {
                "status": status,
                "kind": kind,
                "number": number,
                "parent": None if parent is None else _operation_id(parent),
                "limit": limit,
            },
        )

    def approve(self, operation: m.OperationOut | Id) -> Reply[m.OperationOut]:
        """Approve an order ``awaiting_approval`` (admin): it is ``queued`` and carried out.
        ``NotAwaitingApproval`` when it no longer awaits a decision."""
        return self._run(OPERATION_APPROVE.call(path={"operation_id": _operation_id(operation)}))

    def reject(self, operation: m.OperationOut | Id, *, reason: str) -> Reply[m.OperationOut]:
        """Reject an order ``awaiting_approval`` (admin): it fails with ``error.code``
        ``rejected`` and the ``reason``; nothing is asked of seven."""
        return self._run(
            OPERATION_REJECT.call(
                path={"operation_id": _operation_id(operation)},
                body=m.Rejection(reason=reason),
            )
        )

    def wait(
        self,
        operation: m.OperationOut | Id,
        *,
        timeout: float = 60.0,
        poll_initial_seconds: float = 0.25,
        poll_max_seconds: float = 5.0,
    ) -> Reply[m.OperationOut]:
        """The operation once ``succeeded`` or ``failed`` (check ``status``), or an order
        once it is ``awaiting_approval`` (an admin's decision may take hours: ``wait`` again
        after it); raises ``OperationTimeout`` after ``timeout`` seconds. Polls after the answer's
        ``Retry-After`` when it gives one, else at a doubling interval."""
        return self._runner.run(
            self._wait(_operation_id(operation), timeout, poll_initial_seconds, poll_max_seconds)
        )

    def _wait(
        self, operation_id: str, timeout: float, pause: float, max_pause: float
    ) -> Plan[m.OperationOut]:
        deadline = time.monotonic() + timeout
        while True:
            call = OPERATION.call(path={"operation_id": operation_id})
            response = yield from self._core.send(call)
            operation: m.OperationOut = self._core.decode(call, response)
            if operation.status in WAIT_STATUSES:
                return operation
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise OperationTimeout(operation, timeout)
            asked = retry_after_seconds(response.headers.get("Retry-After"))
            yield min(asked if asked is not None else pause, remaining)
            pause = min(pause * 2, max_pause)


def _operation_id(operation: m.OperationOut | Id) -> str:
    return str(operation.id if isinstance(operation, m.OperationOut) else operation)


def _many(value: str | Iterable[str] | None) -> list[str] | None:
    """A repeatable query parameter: one value or several."""
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


class Tenants(Resource):
    def list(self) -> Reply[list[m.TenantOut]]:
        return self._run(TENANTS.call())

    def create(self, *, name: str, idempotency_key: str | None = None) -> Reply[m.TenantOut]:
        return self._run(
            TENANT_CREATE.call(body=m.TenantCreate(name=name), idempotency_key=idempotency_key)
        )

    def get(self, tenant_id: Id) -> Reply[m.TenantOut]:
        return self._run(TENANT.call(path={"tenant_id": tenant_id}))

    def update(
        self, tenant_id: Id, body: m.TenantUpdate | None = None, /, **fields: Any
    ) -> Reply[m.TenantOut]:
        """Change ``tags`` (replaced whole) and/or ``limits`` (a ``LimitsChange``: a limit
        it leaves out stays, ``None`` removes it) (admin)."""
        return self._run(
            TENANT_UPDATE.call(
                path={"tenant_id": tenant_id}, body=_body(m.TenantUpdate, body, fields)
            )
        )

    def issue_key(self, tenant_id: Id, *, name: str | None = None) -> Reply[m.IssuedKey]:
        """A key bound to the tenant; its plaintext ``key`` is in this answer only."""
        return self._run(
            TENANT_KEY_ISSUE.call(
                path={"tenant_id": tenant_id},
                body=m.KeyCreate() if name is None else m.KeyCreate(name=name),
            )
        )


class Keys(Resource):
    def list(
        self, *, tenant: Id | None = None, revoked: bool | None = None
    ) -> Reply[list[m.KeyOut]]:
        return self._run(KEYS.call(query={"tenant": tenant, "revoked": revoked}))

    def issue(self, *, name: str | None = None) -> Reply[m.IssuedKey]:
        """An admin key; its plaintext ``key`` is in this answer only."""
        return self._run(
            KEY_ISSUE.call(body=m.KeyCreate() if name is None else m.KeyCreate(name=name))
        )

    def revoke(self, key_id: Id) -> Reply[m.KeyOut]:
        return self._run(KEY_REVOKE.call(path={"key_id": key_id}))

    def whoami(self) -> Reply[m.WhoAmI]:
        """The calling key's scope and tenant."""
        return self._run(WHOAMI.call())


class Pools(Resource):
    def list(self) -> Reply[list[m.PoolOut]]:
        return self._run(POOLS.call())

    def create(
        self,
        body: m.PoolCreate | None = None,
        /,
        *,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> Reply[m.PoolOut]:
        """A pool (``name``, ``country``, ``features``, ``cooldown_days``)."""
        return self._run(
            POOL_CREATE.call(
                body=_body(m.PoolCreate, body, fields), idempotency_key=idempotency_key
            )
        )

    def get(self, pool_id: Id) -> Reply[m.PoolOut]:
        return self._run(POOL.call(path={"pool_id": pool_id}))

    def update(self, pool_id: Id, *, cooldown_days: int) -> Reply[m.PoolOut]:
        return self._run(
            POOL_UPDATE.call(
                path={"pool_id": pool_id}, body=m.PoolUpdate(cooldown_days=cooldown_days)
            )
        )

    def add_number(self, pool_id: Id, number: str) -> Reply[m.NumberOut]:
        """Put a number of the account into the pool."""
        return self._run(
            POOL_NUMBER_ADD.call(path={"pool_id": pool_id}, body=m.PoolNumber(number=number))
        )

    def remove_number(self, pool_id: Id, number: str) -> Reply[m.NumberOut]:
        return self._run(POOL_NUMBER_REMOVE.call(path={"pool_id": pool_id, "number": number}))

    def tenants(self, pool_id: Id) -> Reply[m.PoolTenantsOut]:
        """Who may use the pool (admin): ``all``, or the ``tenants`` it is open to."""
        return self._run(POOL_TENANTS.call(path={"pool_id": pool_id}))

    def set_tenants(
        self,
        pool_id: Id,
        tenants: Iterable[Id] | None = None,
        *,
        all: bool | None = None,
    ) -> Reply[m.PoolTenantsOut]:
        """Open the pool to these ``tenants`` only (empty: nobody), or with ``all=True`` to
        every tenant (admin); give one of the two."""
        body = m.PoolTenantsSet(
            tenants=m.UNSET if tenants is None else [UUID(str(tenant)) for tenant in tenants],
            all=m.UNSET if all is None else all,
        )
        return self._run(POOL_TENANTS_SET.call(path={"pool_id": pool_id}, body=body))


class Allocations(Resource):
    def list(
        self,
        *,
        tenant: Id | None = None,
        pool: Id | None = None,
        number: str | None = None,
        current: bool | None = None,
    ) -> Reply[list[m.AllocationOut]]:
        return self._run(
            ALLOCATIONS.call(
                query={"tenant": tenant, "pool": pool, "number": number, "current": current}
            )
        )

    def create(
        self,
        body: m.AllocationCreate | None = None,
        /,
        *,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> Reply[m.NumberOut | m.OperationOut]:
        """A free number of the ``pool`` for the tenant (the ``NumberOut``), or with
        ``order_if_empty`` an order for one (an ``OperationOut``)."""
        return self._run(
            ALLOCATE.call(
                body=_body(m.AllocationCreate, body, fields), idempotency_key=idempotency_key
            )
        )

    def release(self, number: str) -> Reply[m.ReleaseOut]:
        """Back to its pool, cleared at seven by the ``clearing_operation``."""
        return self._run(RELEASE.call(path={"number": number}))

    def clear(self, number: str) -> Reply[m.OperationOut]:
        """Queue another clearing of a released number whose clearing failed (admin)."""
        return self._run(CLEARING.call(path={"number": number}))


class Audit(Resource):
    def list(self, **filters: Any) -> Pages[m.AuditEntryOut]:
        """Filters: ``actor``, ``key``, ``tenant``, ``action``, ``target``, ``outcome``,
        ``since``, ``until``, ``limit``."""
        return self._pages(AUDIT, {}, filters)


class Costs(Resource):
    def report(
        self,
        *,
        month: str | None = None,
        basis: m.Basis | str | None = None,
        group_by: m.GroupBy | str | None = None,
    ) -> Reply[m.CostReportOut]:
        """A month's costs (``YYYY-MM``; this month in Europe/Berlin by default), one row
        per ``group_by``: ``tenant``, ``pool``, ``country``, ``number`` or ``tag:<key>``."""
        return self._run(COSTS.call(query={"month": month, "basis": basis, "group_by": group_by}))

    def report_csv(
        self,
        *,
        month: str | None = None,
        basis: m.Basis | str | None = None,
        group_by: m.GroupBy | str | None = None,
    ) -> Reply[str]:
        """The same rows as CSV text."""
        return self._run(
            COSTS_CSV.call(
                query={"month": month, "basis": basis, "group_by": group_by}, accept="text/csv"
            )
        )

    def forecast(self, *, months: int | None = None) -> Reply[m.ForecastOut]:
        return self._run(FORECAST.call(query={"months": months}))


class Reports(Resource):
    def idle_numbers(
        self, *, days: int | None = None, limit: int | None = None
    ) -> Pages[m.IdleNumberOut]:
        """Active numbers without inbound SMS or calls in the last ``days`` (default 30),
        with their holder and monthly cost: what could be released."""
        return self._pages(IDLE_NUMBERS, {}, {"days": days, "limit": limit})


class Sync(Resource):
    def start(self, *, force: bool | None = None) -> Reply[m.OperationOut]:
        """A ``sync`` operation: the mirror read again from seven."""
        return self._run(
            SYNC.call(body=m.SyncStart() if force is None else m.SyncStart(force=force))
        )

    def runs(self, *, limit: int | None = None) -> Pages[m.SyncRunOut]:
        return self._pages(SYNC_RUNS, {}, {"limit": limit})

    def run(
        self, run_id: Id, *, drift_limit: int | None = None, drift_cursor: str | None = None
    ) -> Reply[m.SyncRunOut]:
        return self._run(
            SYNC_RUN.call(
                path={"run_id": run_id},
                query={"drift_limit": drift_limit, "drift_cursor": drift_cursor},
            )
        )


class Events(Resource):
    def list(
        self,
        *,
        type: m.EventType | str | None = None,
        number: str | None = None,
        since: datetime | str | None = None,
        limit: int | None = None,
    ) -> Pages[m.EventOut]:
        return self._pages(
            EVENTS, {}, {"type": type, "number": number, "since": since, "limit": limit}
        )

    def get(self, event_id: Id) -> Reply[m.EventOut]:
        return self._run(EVENT.call(path={"event_id": event_id}))

    @staticmethod
    def verify(
        body: bytes | str,
        headers: Any,
        secret: str,
        *,
        tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
    ) -> m.EventOut:
        """A webhook delivery's event, once its Standard Webhooks signature and timestamp
        check out; ``WebhookVerificationError`` otherwise."""
        return verify(body, headers, secret, tolerance_seconds=tolerance_seconds)


class WebhookEndpoints(Resource):
    def list(self) -> Reply[list[m.EndpointOut]]:
        return self._run(ENDPOINTS.call())

    def create(
        self,
        body: m.EndpointCreate | None = None,
        /,
        *,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> Reply[m.EndpointCreated]:
        """An endpoint (``url``, ``events``, ``description``, ``tenant``); its ``secret``
        is in this answer only."""
        return self._run(
            ENDPOINT_CREATE.call(
                body=_body(m.EndpointCreate, body, fields), idempotency_key=idempotency_key
            )
        )

    def get(self, endpoint_id: Id) -> Reply[m.EndpointOut]:
        return self._run(ENDPOINT.call(path={"endpoint_id": endpoint_id}))

    def update(
        self, endpoint_id: Id, body: m.EndpointUpdate | None = None, /, **fields: Any
    ) -> Reply[m.EndpointOut]:
        return self._run(
            ENDPOINT_UPDATE.call(
                path={"endpoint_id": endpoint_id}, body=_body(m.EndpointUpdate, body, fields)
            )
        )

    def delete(self, endpoint_id: Id) -> Reply[None]:
        return self._run(ENDPOINT_DELETE.call(path={"endpoint_id": endpoint_id}))

    def deliveries(self, endpoint_id: Id, *, limit: int | None = None) -> Pages[m.DeliveryOut]:
        return self._pages(DELIVERIES, {"endpoint_id": endpoint_id}, {"limit": limit})

    def retry_delivery(self, endpoint_id: Id, delivery_id: Id) -> Reply[m.DeliveryOut]:
        return self._run(
            DELIVERY_RETRY.call(path={"endpoint_id": endpoint_id, "delivery_id": delivery_id})
        )

    def test(self, endpoint_id: Id) -> Reply[m.EventOut]:
        """Send a ``ping`` event to the endpoint."""
        return self._run(ENDPOINT_TEST.call(path={"endpoint_id": endpoint_id}))
