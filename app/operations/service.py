"""Submitting orders, updates and deletes, and reading operations back.

Each submit verb validates, then writes the operation and the number's new state in one
transaction and returns the operation, flushed; the caller commits it and hands its id to
the queue (app.lib.queue.commit_and_enqueue).
Two requests racing for one number are decided by the database, not by timing: the
number's row is locked (``FOR UPDATE``) while its state is checked, a brand-new number
is claimed by inserting its row (primary key), and ``uq_operations_number_in_flight``
allows one queued or running operation per number whatever happens above it.

A tenant key learns nothing about numbers it does not hold: whatever keeps it from
ordering one (seven does not offer it, another tenant holds it, it is on the account
unheld, being ordered or deleted for someone else) is one answer, 409
``number_unavailable`` with one message. Its orders are checked against seven's offer
first (``offered_fees``), so a number that is simply not for sale is refused in the same
words at once rather than by a failed operation later.

An order for a tenant meets the tenant's limits (app.operations.limits) in the
transaction that creates it; one beyond only the monthly budget of a tenant that has
such orders approved is created ``awaiting_approval`` (app.operations.approval), its
number shown as ``ordering`` meanwhile and nothing asked of seven.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Number, Operation, Pool
from app.db.vocabulary import EventType, NumberState, OperationStatus
from app.events.outbox import emit
from app.lib.auth import Actor, Principal
from app.lib.errors import Conflict, InvalidInput, NotFound
from app.lib.params import EXPECTED_NUMBER, invalid, parse_number
from app.lib.phone import region_of
from app.lib.pool_fit import check_fits
from app.lib.tenancy import (
    acting_tenant,
    may_see,
    open_to,
    scope_numbers,
    tenant_not_entitled,
)
from app.numbers.locks import check_unlocked
from app.numbers.mirror import SEVEN_COLUMNS
from app.operations import idempotency, limits
from app.operations.params import (
    BulkOrderParams,
    BulkUpdateParams,
    DeleteParams,
    OperationParams,
    OrderParams,
    kind_of,
    stored,
)
from app.operations.schemas import (
    EmailForwardChange,
    ForwardChange,
    NumberChange,
    OrderCreate,
    SmsForwardChange,
    operation_out,
)
from app.seven.types import AvailableFees, IntervalFees, NumberUpdate, PaymentInterval

# Mirror columns that only seven's answer fills in, as they are before it arrives; a number
# ordered again starts from these, not from what seven said about it last time.
_BEFORE_SEVEN: dict[str, Any] = {
    **dict.fromkeys(SEVEN_COLUMNS),
    "feature_sms": False,
    "feature_a2p_sms": False,
    "feature_voice": False,
    "forward_sms_mo": {},
}


#: seven's fees for a number (digits, its country) it offers right now; None when it
#: does not offer it.
OfferedFees = Callable[[str, str], Awaitable[AvailableFees | None]]


def number_unavailable() -> Conflict:
    """What a tenant key is told about any number it may not order, whatever the reason."""
    return Conflict("This number is not available to order.", code="number_unavailable")


def number_not_offered() -> Conflict:
    """An admin's order for a tenant with a monthly budget, for a number seven does not
    offer now: without seven's fees it cannot be priced against the budget."""
    return Conflict(
        "seven does not offer this number now, so what it would cost against the tenant's "
        "monthly budget is unknown.",
        code="number_not_offered",
    )


def _interval_fees(fees: AvailableFees | None, order: OrderCreate) -> IntervalFees | None:
    """seven's fees for the order's payment interval (None: not priced)."""
    if fees is None:
        return None
    if order.payment_interval == PaymentInterval.MONTHLY:
        return fees.monthly
    return fees.annually


def payment_interval_required() -> InvalidInput:
    """The 422 for an order that does not say how seven is to bill it: none is chosen for
    the caller (annually would bill a whole year up front)."""
    choices = " or ".join(PaymentInterval)
    return InvalidInput(
        f"payment_interval is required: {choices} ('{PaymentInterval.MONTHLY}' bills each "
        f"month, '{PaymentInterval.ANNUALLY}' bills a whole year up front).",
        code="payment_interval_required",
        details={"parameter": "payment_interval", "location": "body", "expected": choices},
    )


async def order_pool(
    session: AsyncSession, principal: Principal, pool_id: uuid.UUID, tenant: uuid.UUID | None
) -> Pool:
    """The pool an order names, if the number may go into it for ``tenant``: a pool not
    open to a tenant key's tenant is unknown to it, as one that does not exist."""
    unknown = InvalidInput(f"There is no pool {pool_id}.", code="unknown_pool")
    pool = await session.get(Pool, pool_id)
    if pool is None:
        raise unknown
    if tenant is not None and not await session.scalar(
        select(open_to(tenant)).where(Pool.id == pool_id)
    ):
        raise tenant_not_entitled(pool_id, tenant) if principal.is_admin else unknown
    return pool


class Stamp(NamedTuple):
    """What a submitted operation is inserted with to recognise its replays."""

    idempotency_key: str | None
    request_hash: str | None


@dataclass(frozen=True, slots=True)
class Submitted:
    operation: Operation
    replayed: bool
    """True when an ``Idempotency-Key`` returned an earlier operation: enqueue nothing."""


# -- the three write verbs ---------------------------------------------------------


async def submit_order(
    session: AsyncSession,
    actor: Actor,
    order: OrderCreate,
    key: str | None,
    offered_fees: OfferedFees | None = None,
) -> Submitted:
    """``offered_fees``: seven's offer, asked after an ``Idempotency-Key`` replay is ruled
    out, outside a transaction: a tenant key's order is refused unless seven offers the
    number, and an order for a tenant with a monthly budget is priced with its fees (an
    admin's for a number seven does not offer then is 409 ``number_not_offered``)."""
    principal = actor.principal
    number = parse_number(order.number, strict=True)
    country = region_of(number)
    if country is None:
        raise invalid("number", order.number, EXPECTED_NUMBER, reason="it belongs to no country")
    tenant = await acting_tenant(session, principal, order.tenant)
    if order.pool is not None:
        check_fits(await order_pool(session, principal, order.pool, tenant), number, country)
    params = OrderParams(order.payment_interval, order.friendly_name, order.pool)
    priced = tenant is not None and await limits.has_budget(session, tenant)
    fees: AvailableFees | None = None

    async def create(stamp: Stamp) -> Operation:
        admission = (
            None
            if tenant is None
            else await limits.admit_orders(
                session, tenant, 1, order.payment_interval, _interval_fees(fees, order)
            )
        )
        row = await session.scalar(select(Number).where(Number.number == number).with_for_update())
        if row is not None:
            _check_orderable(row, principal)
        awaiting = admission is not None and admission.awaiting_approval
        operation = await _add_operation(
            session,
            actor,
            number,
            params,
            tenant,
            status=OperationStatus.AWAITING_APPROVAL if awaiting else OperationStatus.QUEUED,
            stamp=stamp,
            month_charge=admission.month_charge if admission else None,
        )
        values: dict[str, Any] = {
            "country": country,
            "payment_interval": order.payment_interval,
            "friendly_name": order.friendly_name or "",
            "state": NumberState.ORDERING,
            "tenant_id": tenant,
            "pool_id": order.pool,
            "pending_operation_id": operation.id,
        }
        if row is None:
            session.add(Number(number=number, **values))
        else:
            # A deleted or failed number is ordered again in its old row: seven's
            # previous answer no longer describes it.
            for name, value in {**_BEFORE_SEVEN, **values}.items():
                setattr(row, name, value)
        if awaiting:
            await session.flush()
            await session.refresh(operation)
            await emit(
                session,
                EventType.OPERATION_AWAITING_APPROVAL,
                tenant=tenant,
                data=operation_out(operation),
                number=number,
            )
        return operation

    async def check_offered() -> None:
        nonlocal fees
        if offered_fees is None or (principal.is_admin and not priced):
            return
        fees = await offered_fees(number, country)
        if fees is None:
            raise number_unavailable() if not principal.is_admin else number_not_offered()

    # The request as the caller sent it, which names the tenant (the row holds it apart).
    request = {"number": number, **stored(params), "tenant": str(tenant) if tenant else None}
    fingerprint = idempotency.request_hash("POST", "/v1/orders", request)
    return await _submit(session, principal, key, fingerprint, create, check_offered)


async def submit_change(
    session: AsyncSession,
    actor: Actor,
    number_text: str,
    request: NumberChange | DeleteParams,
    key: str | None,
) -> Submitted:
    """A change (``PATCH``) or a deletion (``DELETE``) of a number the caller may change."""
    number = parse_number(number_text, strict=True)
    params = request if isinstance(request, DeleteParams) else number_update(request)
    deleting = isinstance(params, DeleteParams)

    async def create(stamp: Stamp) -> Operation:
        row = await _changeable(session, actor.principal, number, deleting=deleting)
        operation = await _add_operation(session, actor, number, params, row.tenant_id, stamp=stamp)
        row.pending_operation_id = operation.id
        return operation

    method = "DELETE" if deleting else "PATCH"
    fingerprint = idempotency.request_hash(method, f"/v1/numbers/{number}", stored(params))
    return await _submit(session, actor.principal, key, fingerprint, create)


async def add_update(
    session: AsyncSession,
    actor: Actor,
    row: Number,
    changes: NumberUpdate,
    tenant: uuid.UUID | None,
) -> Operation:
    """An ``update`` of ``row`` that the service itself decides on (app/pools/handover.py
    clears what a holder set), added to the caller's transaction so it commits with the
    change that calls for it. ``row`` is locked by the caller; 409 ``number_busy`` while
    another operation on the number is pending."""
    if row.pending_operation_id is not None:
        raise _busy(row)
    try:
        operation = await _add_operation(session, actor, row.number, changes, tenant)
    except IntegrityError:
        # The in-flight index: an operation the row did not show yet (the caller holds it).
        raise _busy(row) from None
    row.pending_operation_id = operation.id
    return operation


async def submit_bulk(
    session: AsyncSession,
    actor: Actor,
    params: BulkOrderParams | BulkUpdateParams,
    tenant: uuid.UUID | None,
    key: str | None,
    request: tuple[str, str, dict[str, Any]],
    check: Callable[[], Awaitable[None]] | None = None,
    admit: Callable[[], Awaitable[None]] | None = None,
) -> Submitted:
    """A bulk operation (app.bulk), validated by the caller: the parent alone, which the
    worker gives its children. ``request``: the method, path and body (as the caller sent
    it, the tenant named) its ``Idempotency-Key`` is bound to. Once a replay is ruled
    out: ``check`` with no transaction open (it may ask seven), then ``admit`` in the
    transaction that adds the parent (the tenant's limits); either refuses by raising."""

    async def create(stamp: Stamp) -> Operation:
        if admit is not None:
            await admit()
        return await _add_operation(session, actor, None, params, tenant, stamp=stamp)

    fingerprint = idempotency.request_hash(*request)
    return await _submit(session, actor.principal, key, fingerprint, create, check)


# -- the shared transaction --------------------------------------------------------


async def _submit(
    session: AsyncSession,
    principal: Principal,
    raw_key: str | None,
    fingerprint: str,
    create: Callable[[Stamp], Awaitable[Operation]],
    check: Callable[[], Awaitable[None]] | None = None,
) -> Submitted:
    """``check`` runs once a replay is ruled out, with no transaction open (it may ask
    seven), and refuses by raising; ``create`` adds the operation with the stamp."""
    key = idempotency.scoped_key(principal, raw_key)
    if (earlier := await idempotency.replayed(session, key, fingerprint)) is not None:
        return Submitted(earlier, replayed=True)
    if check is not None:
        await session.commit()  # end the reads: no transaction stays open while seven answers
        await check()
    try:
        operation = await create(Stamp(key, fingerprint if key else None))
        await session.flush()
    except IntegrityError as error:
        await session.rollback()
        # The same key sent twice at once: the loser returns the winner's operation.
        if (earlier := await idempotency.replayed(session, key, fingerprint)) is not None:
            return Submitted(earlier, replayed=True)
        raise _conflict_for(error, principal) from None
    await session.refresh(operation)  # created_at/updated_at come from the database
    return Submitted(operation, replayed=False)


async def _add_operation(
    session: AsyncSession,
    actor: Actor,
    number: str | None,
    params: OperationParams,
    tenant: uuid.UUID | None,
    *,
    status: OperationStatus = OperationStatus.QUEUED,
    stamp: Stamp | None = None,
    month_charge: Decimal | None = None,
) -> Operation:
    """The one place an operation is created for a caller: it carries the caller's key and
    the request's id, which the worker logs with (one id from the API to seven), and
    everything it is inserted with (set after the flush, each was an UPDATE more)."""
    operation = Operation(
        id=uuid.uuid4(),
        kind=kind_of(params),
        status=status,
        number=number,
        params=stored(params),
        tenant_id=tenant,
        api_key_id=actor.principal.key_id,
        request_id=actor.request_id,
        idempotency_key=stamp.idempotency_key if stamp else None,
        request_hash=stamp.request_hash if stamp else None,
        month_charge=month_charge,
    )
    session.add(operation)
    await session.flush()  # before the number row that points at it
    return operation


def _conflict_for(error: IntegrityError, principal: Principal) -> Conflict:
    """The answer to losing a race for the number (a tenant hears only ``unavailable``)."""
    text = str(error.orig)
    if "uq_operations_number_in_flight" in text:
        conflict = Conflict(
            "Another operation on this number is still in progress; wait for it to finish.",
            code="number_busy",
        )
    elif "pk_numbers" in text:
        conflict = Conflict("This number is already being ordered.", code="number_being_ordered")
    else:
        raise error
    return conflict if principal.is_admin else number_unavailable()


# -- checks ------------------------------------------------------------------------


def _check_orderable(row: Number, principal: Principal) -> None:
    """Refuse an order of a number the mirror already has in hand; what stands in the way
    is told only to a caller who may see the number."""
    problem = _order_problem(row)
    if problem is not None:
        raise problem if may_see(principal, row.tenant_id) else number_unavailable()


def _order_problem(row: Number) -> Conflict | None:
    if row.pending_operation_id is not None and row.state != NumberState.ORDERING:
        return Conflict(
            "Another operation on this number is still in progress; wait for it to finish.",
            code="number_busy",
        )
    problems: dict[str, tuple[str, str]] = {
        NumberState.ACTIVE: ("number_active", "This number is already active on the account."),
        NumberState.ORDERING: ("number_being_ordered", "This number is already being ordered."),
        NumberState.DELETING: (
            "number_deleting",
            "This number is still on the account until its deletion at period end.",
        ),
        # It may well still be on the account (and held): ordering it could pay twice.
        NumberState.MISSING: (
            "number_missing",
            "seven's last list did not show this number, but it is not confirmed gone; "
            "a sync settles it.",
        ),
    }
    if row.state in problems:
        code, message = problems[row.state]
        return Conflict(message, code=code)
    return None


async def _changeable(
    session: AsyncSession, principal: Principal, number: str, *, deleting: bool
) -> Number:
    """The number's row, locked, if the caller may change it now; else 404 or 409.

    ``deleting``: a DELETE goes ahead for a missing number, which seven may still have
    (and bill): the worker deletes it there, or reads that seven no longer has it, which
    is the goal reached. An update does not.
    """
    row = await session.scalar(
        scope_numbers(select(Number).where(Number.number == number), principal).with_for_update()
    )
    if row is None:
        raise NotFound(f"There is no number {number} on the account.", code="number_not_found")
    problems: dict[str, tuple[str, str]] = {
        NumberState.DELETED: ("number_deleted", "This number has been deleted."),
        NumberState.DELETING: ("number_deleting", "This number is scheduled for deletion."),
        NumberState.ORDERING: ("number_not_active", "This number is still being ordered."),
        NumberState.FAILED: (
            "number_not_active",
            "This number's order failed; it is not on the account.",
        ),
    }
    if not deleting:
        problems[NumberState.MISSING] = (
            "number_missing",
            "seven's last list did not show this number; it cannot be changed until a sync "
            "finds it again or confirms it gone.",
        )
    if row.state in problems:
        code, message = problems[row.state]
        raise Conflict(message, code=code, details={"state": row.state})
    if deleting:
        # Under the row lock that app.numbers.locks takes too: a lock committed before
        # this point is seen here, and none can be set until this transaction ends.
        check_unlocked(row)
        if row.pool_id is not None and not principal.is_admin:
            raise _pooled(row)
    if row.pending_operation_id is not None:
        raise _busy(row)
    return row


def _pooled(row: Number) -> Conflict:
    """A tenant holds a pool's number for a while; the pool's numbers are the admin's to
    delete (seven has no undo), the holder's to give back."""
    return Conflict(
        f"Number {row.number} belongs to a pool: only an admin may delete it. Release it "
        f"instead: DELETE /v1/allocations/{row.number}.",
        code="pooled_number",
        details={"pool": str(row.pool_id)},
    )


def _busy(row: Number) -> Conflict:
    pending = row.pending_operation_id
    return Conflict(
        "Another operation on this number is still in progress; wait for it to finish.",
        code="number_busy",
        details={"operation": str(pending)} if pending else None,
    )


def number_update(change: NumberChange) -> NumberUpdate:
    """The PATCH for seven, its entries checked; None leaves a setting as it is (a
    change of one number, or of each number a bulk update matches)."""
    if change == NumberChange():
        raise InvalidInput(
            "Nothing to change: give friendly_name, sms_forward, email_forward or forward_sms_mo.",
            code="nothing_to_change",
        )
    read_shape = change.forward_sms_mo or ForwardChange()
    sms = _one_spelling(
        change.sms_forward,
        "sms_forward",
        None if read_shape.sms is None else _if_enabled(read_shape.sms),
        "forward_sms_mo.sms",
    )
    email = _one_spelling(
        change.email_forward,
        "email_forward",
        None if read_shape.email is None else _if_enabled(read_shape.email),
        "forward_sms_mo.email",
    )
    return NumberUpdate(
        friendly_name=change.friendly_name,
        sms_forward=_each(sms.entries, _strict_number, sms.field),
        email_forward=_each(email.entries, _email, email.field),
    )


def _if_enabled(channel: SmsForwardChange | EmailForwardChange) -> list[str]:
    """A channel as a read shows it, as seven's PATCH takes it: disabled is no one."""
    if not channel.enabled:
        return []
    return channel.number if isinstance(channel, SmsForwardChange) else channel.address


@dataclass(frozen=True, slots=True)
class _Spelled:
    entries: list[str] | None
    field: str
    """How the caller named the list, for the errors about its entries."""


def _one_spelling(
    patch_form: list[str] | None, patch_name: str, read_form: list[str] | None, read_name: str
) -> _Spelled:
    """One channel's forwarding, from whichever spelling the caller used (None: neither)."""
    if patch_form is not None and read_form is not None:
        raise InvalidInput(
            f"{patch_name} and {read_name} both set the same forwarding: give one of them.",
            code="conflicting_fields",
            details={"parameters": [patch_name, read_name]},
        )
    if read_form is not None:
        # An entry's error names it where the caller wrote it: forward_sms_mo.sms.number[0].
        inner = "number" if read_name.endswith("sms") else "address"
        return _Spelled(read_form, f"{read_name}.{inner}")
    return _Spelled(patch_form, patch_name)


def _each(
    entries: list[str] | None, check: Callable[[str, str], str], field: str
) -> list[str] | None:
    if entries is None:
        return None
    return [check(entry, f"{field}[{i}]") for i, entry in enumerate(entries)]


def _strict_number(text: str, field: str) -> str:
    return parse_number(text, field, strict=True)


def _email(text: str, field: str) -> str:
    # Imported on first use: only a request that sets an address checks one, and the
    # worker, which imports this module, never does (the import costs it ~30 ms at start).
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise invalid(
            field,
            text,
            "an e-mail address such as ops@example.com",
            reason=str(error),
            code="invalid_email",
        ) from None
