"""A tenant's limits, checked in the transaction that creates its orders or grants it a number.

Each check first locks the tenant's row (``SELECT ... FOR UPDATE``) and only then counts, so
requests for one tenant pass the check one after another: the next one counts what the
previous one committed, and twenty orders at once under ``max_numbers: 5`` give five. The
lock is held until the caller's transaction ends, which must therefore also write what the
check admitted (the order operations, the allocation).

- ``max_numbers``: numbers the tenant holds at once, in any state but ``deleted`` (and
  ``failed``, an order that came to nothing): active ones, and orders not yet carried out
  or awaiting approval, whose numbers the mirror shows as ``ordering``.
- ``orders_per_day``: order operations created for the tenant in the current Europe/Berlin
  day, whatever became of them.
- ``monthly_budget``: this month's cash charges for the tenant (the cost report's figure),
  plus the orders for it still in flight, plus what the new orders would add this month,
  each priced by the cost rules (app.costs.model) from seven's quoted fees.

Beyond a limit is 409 ``limit_exceeded``; beyond only the budget, for a tenant whose
``over_budget`` is ``approve``, the orders are admitted to await an admin's approval.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.costs.model import ZERO, Basis, FeeVersion, GroupBy, Month, NumberFacts, charges
from app.costs.service import berlin_today, cost_report
from app.db.models import Number, Operation, Tenant
from app.db.vocabulary import IN_FLIGHT, NumberState, OperationKind, OverBudget
from app.lib.errors import Conflict
from app.lib.money import money
from app.lib.tenancy import tenant_not_found
from app.numbers.mirror import SEVEN_TIME_ZONE
from app.seven.types import IntervalFees, PaymentInterval

LIMIT_EXCEEDED = "limit_exceeded"
#: The states of a number its holder no longer holds.
_NOT_HELD = (NumberState.DELETED, NumberState.FAILED)


@dataclass(frozen=True, slots=True)
class Admission:
    """What the limits make of orders that may go ahead."""

    awaiting_approval: bool
    """Beyond the monthly budget of a tenant whose ``over_budget`` is ``approve``."""
    month_charge: Decimal | None
    """What each order adds to this month's cash charges; None when the tenant has no
    budget (the orders were not priced)."""


def limit_exceeded(
    limit: str, value: int | str, current: int | str, requested: int | str
) -> Conflict:
    """The 409 for a request beyond one of the tenant's limits, with the figures."""
    return Conflict(
        f"This would exceed the tenant's {limit} of {value}: {current} now, "
        f"{requested} more requested.",
        code=LIMIT_EXCEEDED,
        details={"limit": limit, "value": value, "current": current, "requested": requested},
    )


def month_charge(interval: PaymentInterval, fees: IntervalFees, today: date) -> Decimal:
    """What a number ordered ``today`` at ``fees`` adds to this month's cash charges: the
    cost rules' charges of a number created today (its setup and first basic charge)."""
    facts = NumberFacts(
        number="",
        country="",
        payment_interval=interval,
        created=today,
        fees=(FeeVersion(today, fees.setup, fees.basic_charge),),
    )
    return sum((charge.amount for charge in charges(facts, Month.of(today), Basis.CASH)), ZERO)


async def has_budget(session: AsyncSession, tenant_id: uuid.UUID) -> bool:
    """Whether the tenant's orders must be priced (it has a monthly budget)."""
    budget = await session.scalar(select(Tenant.limit_monthly_budget).where(Tenant.id == tenant_id))
    return budget is not None


async def admit_orders(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    count: int,
    interval: PaymentInterval,
    fees: IntervalFees | None,
    *,
    today: date | None = None,
    approvable: bool = True,
) -> Admission:
    """Admit ``count`` orders for the tenant at once, or raise 409 ``limit_exceeded``.

    For every way an order is made (one order, an allocation's ``order_if_empty``, a bulk
    order's whole count up front): call it in the transaction that then creates the
    operations, and commit them in it (the tenant's row stays locked until then). ``fees``
    are seven's quoted fees for ``interval`` of each number ordered (a bulk order passes
    the dearest it may order); they are needed only when the tenant has a monthly budget
    (:func:`has_budget`). The country and features of the numbers do not enter into any
    limit. ``today`` is the Europe/Berlin day (default: now). ``approvable=False``: beyond
    the budget is refused even for a tenant whose orders there await approval (a bulk
    order is not held for approval as a whole).
    """
    tenant = await _locked(session, tenant_id)
    today = today or berlin_today()
    await _check_max_numbers(session, tenant, count)
    await _check_orders_per_day(session, tenant, count, today)
    budget = tenant.limit_monthly_budget
    if budget is None:
        return Admission(awaiting_approval=False, month_charge=None)
    if fees is None:
        # The caller priced nothing: it gave no fees, or the budget was set after it
        # asked has_budget. Never let an unpriced order past a budget.
        raise Conflict(
            "This order could not be priced against the tenant's monthly budget (seven's "
            "fees for it are unknown); send it again.",
            code="price_unknown",
        )
    each = month_charge(interval, fees, today)
    current = await _month_spend(session, tenant.id, today)
    requested = each * count
    if current + requested <= budget:
        return Admission(awaiting_approval=False, month_charge=each)
    if approvable and tenant.over_budget == OverBudget.APPROVE:
        return Admission(awaiting_approval=True, month_charge=each)
    raise limit_exceeded("monthly_budget", money(budget), money(current), money(requested))


async def admit_allocation(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    """Admit one more number granted to the tenant from a pool (``max_numbers``), in the
    transaction that grants it; 409 ``limit_exceeded`` beyond it."""
    await _check_max_numbers(session, await _locked(session, tenant_id), 1)


async def _locked(session: AsyncSession, tenant_id: uuid.UUID) -> Tenant:
    tenant = await session.scalar(
        select(Tenant).where(Tenant.id == tenant_id).with_for_update(),
        execution_options={"populate_existing": True},
    )
    if tenant is None:
        raise tenant_not_found()
    return tenant


async def _check_max_numbers(session: AsyncSession, tenant: Tenant, count: int) -> None:
    limit = tenant.limit_max_numbers
    if limit is None:
        return
    held = await session.scalar(
        select(func.count())
        .select_from(Number)
        .where(Number.tenant_id == tenant.id, Number.state.not_in(_NOT_HELD))
    )
    if (held or 0) + count > limit:
        raise limit_exceeded("max_numbers", limit, held or 0, count)


async def _check_orders_per_day(
    session: AsyncSession, tenant: Tenant, count: int, today: date
) -> None:
    limit = tenant.limit_orders_per_day
    if limit is None:
        return
    day_start = datetime.combine(today, time.min, tzinfo=SEVEN_TIME_ZONE)
    ordered = await session.scalar(
        select(func.count())
        .select_from(Operation)
        .where(
            Operation.tenant_id == tenant.id,
            Operation.kind == OperationKind.ORDER,
            Operation.created_at >= day_start,
        )
    )
    if (ordered or 0) + count > limit:
        raise limit_exceeded("orders_per_day", limit, ordered or 0, count)


async def _month_spend(session: AsyncSession, tenant_id: uuid.UUID, today: date) -> Decimal:
    """The month's cash charges for the tenant as the cost report has them, plus what its
    orders in flight were priced to add (seven has not quoted their fees yet)."""
    report = await cost_report(session, Month.of(today), Basis.CASH, GroupBy.TENANT, tenant_id)
    in_flight = await session.scalar(
        select(func.coalesce(func.sum(Operation.month_charge), 0)).where(
            Operation.tenant_id == tenant_id,
            Operation.kind == OperationKind.ORDER,
            Operation.status.in_(IN_FLIGHT),
        )
    )
    return report.totals.total + Decimal(in_flight or 0)
