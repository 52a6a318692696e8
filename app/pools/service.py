"""Pools of account numbers and their allocation to tenants: the domain verbs.

Allocation is a single ``SELECT ... FOR UPDATE SKIP LOCKED`` over the pool's free
numbers: concurrent requests lock different rows (or find none), so no number is
ever handed out twice, and nobody waits on a row someone else is taking. The chosen
number's ``tenant_id`` (the denormalized current holder that app.lib.tenancy reads)
and its ``allocations`` row (the interval the cost reports use) change in one
transaction. Releasing is in app.pools.handover: what the holder set at seven is
cleared before anyone else gets the number.

Time: every verb that reads or writes a moment takes ``at``; None means the
database's ``now()``. Tests pass ``at`` to step through a cool-down.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import Actor, AuditNote, audited
from app.db.models import (
    DEFAULT_COOLDOWN_DAYS,
    Allocation,
    Number,
    Operation,
    Pool,
    Tenant,
)
from app.db.rows import add_or_raise, get_or_raise
from app.db.vocabulary import IN_FLIGHT, LIVE_STATES, Handover, NumberState, OperationKind
from app.lib.auth import Principal
from app.lib.errors import Conflict, InvalidInput, NotFound
from app.lib.params import invalid, parse_country, parse_features, parse_number
from app.lib.pool_fit import check_fits
from app.lib.tenancy import (
    acting_tenant,
    open_to,
    owned_by,
    tenant_not_entitled,
)
from app.operations.limits import admit_allocation
from app.pools.entitlements import EVERY_TENANT, Entitlement, entitle, pool_not_found

FEATURE_COLUMNS = {
    "sms": Number.feature_sms,
    "a2p_sms": Number.feature_a2p_sms,
    "voice": Number.feature_voice,
}
MAX_COOLDOWN_DAYS = 3650


async def db_now(session: AsyncSession) -> datetime:
    return (await session.execute(select(func.now()))).scalar_one()


# ------------------------------------------------------------------ pools


async def create_pool(
    session: AsyncSession,
    actor: Actor,
    name: str,
    country: str | None = None,
    features: Sequence[str] | None = None,
    cooldown_days: int = DEFAULT_COOLDOWN_DAYS,
    entitlement: Entitlement = EVERY_TENANT,
) -> Pool:
    """A new pool, open to the tenants ``entitlement`` says (by default all of them)."""
    async with audited(session, actor, "pool.create") as note:
        cleaned = " ".join(name.split())
        if not cleaned or len(cleaned) > 200:
            raise invalid("name", name, "a pool name of 1 to 200 characters", code="invalid_name")
        _check_cooldown(cooldown_days)
        pool = Pool(
            id=uuid.uuid4(),
            name=cleaned,
            country=parse_country(country),
            features=list(parse_features(features, "features")),
            cooldown_days=cooldown_days,
        )
        note.creating(f"pool:{pool.id}")
        note.details = {
            "name": cleaned,
            "all_tenants": entitlement.all,
            "tenants": [str(tenant) for tenant in entitlement.tenants],
        }
        taken = Conflict(f"a pool named {cleaned!r} exists already", code="pool_name_taken")
        await add_or_raise(session, pool, taken)
        await entitle(session, pool, entitlement)
        await session.refresh(pool)
    return pool


def _check_cooldown(cooldown_days: int) -> None:
    if not 0 <= cooldown_days <= MAX_COOLDOWN_DAYS:
        raise invalid(
            "cooldown_days",
            cooldown_days,
            f"a whole number from 0 to {MAX_COOLDOWN_DAYS}",
            code="invalid_cooldown",
        )


async def set_cooldown(
    session: AsyncSession, actor: Actor, pool_id: uuid.UUID, cooldown_days: int
) -> Pool:
    """Change how long released numbers rest; intervals already resting keep their end."""
    async with audited(session, actor, "pool.update", f"pool:{pool_id}") as note:
        _check_cooldown(cooldown_days)
        pool = await get_pool(session, pool_id, lock=True)
        note.details = {"cooldown_days": {"before": pool.cooldown_days, "after": cooldown_days}}
        pool.cooldown_days = cooldown_days
    await session.refresh(pool)
    return pool


async def list_pools(session: AsyncSession) -> list[Pool]:
    return list((await session.scalars(select(Pool).order_by(Pool.name))).all())


async def get_pool(session: AsyncSession, pool_id: uuid.UUID, *, lock: bool = False) -> Pool:
    return await get_or_raise(session, Pool, pool_id, pool_not_found(pool_id), lock=lock)


async def _open_pool(
    session: AsyncSession, principal: Principal, pool_id: uuid.UUID, tenant: uuid.UUID
) -> Pool:
    """The pool, read ``FOR SHARE``, if it is open to ``tenant``. A change of its tenants
    locks it ``FOR UPDATE``: the share lock waits for that change to commit, and the list
    is read after it, in a statement of its own (a statement sees what was committed when
    it began). Not open: 404 to a tenant key, as a pool that does not exist; 409 to an
    admin."""
    pool = await session.scalar(select(Pool).where(Pool.id == pool_id).with_for_update(read=True))
    if pool is None:
        raise pool_not_found(pool_id)
    if await session.scalar(select(open_to(tenant)).where(Pool.id == pool_id)):
        return pool
    if principal.is_admin:
        raise tenant_not_entitled(pool_id, tenant)
    raise pool_not_found(pool_id)


async def _pool_and_number(
    session: AsyncSession, note: AuditNote, pool_id: uuid.UUID, raw_number: str
) -> tuple[Pool, str, Number | None]:
    """The pool (404 without it), the number's digits (noted in the audit entry) and its
    mirror row, locked."""
    digits = parse_number(raw_number)
    note.details = {"number": digits}
    pool = await get_pool(session, pool_id)
    return pool, digits, await session.get(Number, digits, with_for_update=True)


async def add_number(
    session: AsyncSession, actor: Actor, pool_id: uuid.UUID, raw_number: str
) -> Number:
    """Put an active account number into a pool (again into the same pool: no change)."""
    async with audited(session, actor, "pool.add_number", f"pool:{pool_id}") as note:
        pool, digits, number = await _pool_and_number(session, note, pool_id, raw_number)
        if number is None:
            raise InvalidInput(
                f"number {digits} is not on the account (not in the mirror)",
                code="number_not_on_account",
            )
        if number.state != NumberState.ACTIVE:
            raise InvalidInput(
                f"number {digits} is {number.state}, only active numbers go into pools",
                code="number_not_active",
            )
        if number.pool_id not in (None, pool.id):
            raise Conflict(
                f"number {digits} belongs to another pool; take it out of that one first",
                code="number_in_other_pool",
            )
        check_fits(pool, digits, number.country, number)
        number.pool_id = pool.id
    return number


async def remove_number(
    session: AsyncSession, actor: Actor, pool_id: uuid.UUID, raw_number: str
) -> Number:
    """Take a number out of its pool; refused while a tenant holds it."""
    async with audited(session, actor, "pool.remove_number", f"pool:{pool_id}") as note:
        _, digits, number = await _pool_and_number(session, note, pool_id, raw_number)
        if number is None or number.pool_id != pool_id:
            raise NotFound(f"number {digits} is not in pool {pool_id}", code="number_not_in_pool")
        if number.tenant_id is not None:
            raise Conflict(
                f"number {digits} is allocated to a tenant; release it first",
                code="number_allocated",
            )
        number.pool_id = None
    return number


# ------------------------------------------------------------------ allocations


def free_numbers(
    pool_id: uuid.UUID, at: datetime, country: str | None, features: Sequence[str]
) -> list[ColumnElement[bool]]:
    """Conditions on numbers of the pool that nobody holds, rests in or is deleting now."""
    conditions = [Number.pool_id == pool_id, *_free(at, features)]
    if country is not None:
        conditions.append(Number.country == country)
    return conditions


def _free(
    at: datetime | ColumnElement[datetime], features: Sequence[str] = ()
) -> list[ColumnElement[bool]]:
    held_or_resting = exists().where(
        Allocation.number == Number.number,
        or_(Allocation.released_at.is_(None), Allocation.available_at > at),
    )
    being_deleted = exists().where(
        Operation.number == Number.number,
        Operation.kind == OperationKind.DELETE,
        Operation.status.in_(IN_FLIGHT),
    )
    return [
        # Not deleting, and not missing: a missing number may be gone, or back with its holder.
        Number.state == NumberState.ACTIVE,
        Number.tenant_id.is_(None),
        # Nothing of a previous holder's settings may be left at seven (app.pools.handover).
        Number.handover.is_(None),
        ~held_or_resting,
        ~being_deleted,
        *(FEATURE_COLUMNS[name].is_(True) for name in features),
    ]


def _resting_until(at: datetime | ColumnElement[datetime]) -> ColumnElement[bool]:
    """An allocation of the number (a column of the outer query) that was released and
    whose cool-down ends after ``at``."""
    return and_(
        Allocation.number == Number.number,
        Allocation.released_at.is_not(None),
        Allocation.available_at > at,
    )


def _cooling(at: datetime | ColumnElement[datetime]) -> list[ColumnElement[bool]]:
    """Numbers nobody holds that are free but for the cool-down after their release."""
    return [
        Number.state == NumberState.ACTIVE,
        Number.tenant_id.is_(None),
        Number.handover.is_(None),
        exists().where(_resting_until(at)),
    ]


async def next_free_at(
    session: AsyncSession,
    pool_id: uuid.UUID,
    at: datetime,
    country: str | None = None,
    features: Sequence[str] = (),
) -> datetime | None:
    """When the first number of the pool (fitting ``country`` and ``features``) now in
    its cool-down comes out of it; None when none is cooling down."""
    fits: list[ColumnElement[bool]] = [FEATURE_COLUMNS[name].is_(True) for name in features]
    if country is not None:
        fits.append(Number.country == country)
    return await session.scalar(
        select(func.min(Allocation.available_at))
        .join(Number, Number.number == Allocation.number)
        .where(
            Number.pool_id == pool_id,
            _resting_until(at),
            Number.state == NumberState.ACTIVE,
            Number.tenant_id.is_(None),
            Number.handover.is_(None),
            *fits,
        )
    )


def pool_exhausted(message: str, next_free: datetime | None) -> Conflict:
    """409 ``pool_exhausted``, saying when a cooling number will be free, if any is."""
    if next_free is None:
        return Conflict(
            f"{message} None is cooling down.",
            code="pool_exhausted",
            details={"next_free_at": None},
        )
    when = next_free.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return Conflict(
        f"{message} The next one comes out of its cool-down at {when}.",
        code="pool_exhausted",
        details={"next_free_at": when},
    )


@dataclass(frozen=True, slots=True)
class PoolCounts:
    numbers: int = 0
    allocated: int = 0
    free: int = 0
    clearing: int = 0
    clearing_failed: int = 0
    uncleared: int = 0
    cooling: int = 0


async def pool_counts(
    session: AsyncSession, pool_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, PoolCounts]:
    """How many numbers each pool has, how many are held, how many are free now, how
    many wait for a previous holder's settings to be cleared at seven (by state), and how
    many rest in their cool-down after a release."""
    # A deleted number's ``uncleared`` matters only if seven lists it again.
    at_seven = Number.state.in_(LIVE_STATES)
    rows = await session.execute(
        select(
            Number.pool_id,
            func.count(),
            func.count().filter(Number.tenant_id.is_not(None)),
            func.count().filter(and_(*_free(func.now()))),
            *(func.count().filter(at_seven, Number.handover == state) for state in Handover),
            func.count().filter(and_(*_cooling(func.now()))),
        )
        .where(Number.pool_id.in_(pool_ids))
        .group_by(Number.pool_id)
    )
    return {pool_id: PoolCounts(*counts) for pool_id, *counts in rows}


async def allocate(
    session: AsyncSession,
    actor: Actor,
    pool_id: uuid.UUID,
    tenant_id: uuid.UUID | None = None,
    country: str | None = None,
    features: Sequence[str] | None = None,
    *,
    at: datetime | None = None,
) -> Number:
    """Give the tenant a free number of the pool; ``Conflict(pool_exhausted)`` if none,
    ``Conflict(limit_exceeded)`` when the tenant holds its ``max_numbers`` already."""
    async with audited(session, actor, "allocation.create", f"pool:{pool_id}") as note:
        tenant = await acting_tenant(session, actor.principal, tenant_id, required=True)
        note.tenant_id = tenant
        wanted_country = parse_country(country)
        wanted_features = parse_features(features, "features")
        pool = await _open_pool(session, actor.principal, pool_id, tenant)
        # Locks the tenant's row until the grant commits: grants at once count one another.
        await admit_allocation(session, tenant)
        at = at or await db_now(session)
        number = await session.scalar(
            select(Number)
            .where(*free_numbers(pool.id, at, wanted_country, wanted_features))
            .order_by(Number.number)
            .limit(1)
            .with_for_update(skip_locked=True, of=Number)
        )
        if number is None:
            raise pool_exhausted(
                "The pool has no free number that fits the request.",
                await next_free_at(session, pool.id, at, wanted_country, wanted_features),
            )
        _hand_over(session, number, tenant, pool.id, at)
        note.target = f"number:{number.number}"
        note.details = {"pool": str(pool.id)}
        await session.flush()
    return number


def _hand_over(
    session: AsyncSession,
    number: Number,
    tenant_id: uuid.UUID,
    pool_id: uuid.UUID | None,
    at: datetime,
) -> None:
    number.tenant_id = tenant_id
    number.updated_at = at
    session.add(
        Allocation(number=number.number, pool_id=pool_id, tenant_id=tenant_id, allocated_at=at)
    )


@dataclass(frozen=True, slots=True)
class NamedAllocation:
    """An interval with the names of its tenant and pool, for people reading the list."""

    allocation: Allocation
    tenant_name: str
    pool_name: str | None


def _with_names() -> Select[tuple[Allocation, str, str | None]]:
    # Joined in the one query: no lookup per row. The pool's name is None for a number
    # outside any pool (the outer join), which its column's type does not say.
    return cast(
        "Select[tuple[Allocation, str, str | None]]",
        select(Allocation, Tenant.name, Pool.name)
        .join(Tenant, Tenant.id == Allocation.tenant_id)
        .outerjoin(Pool, Pool.id == Allocation.pool_id),
    )


async def list_allocations(
    session: AsyncSession,
    principal: Principal,
    *,
    tenant_id: uuid.UUID | None = None,
    pool_id: uuid.UUID | None = None,
    number: str | None = None,
    current: bool = True,
    limit: int = 500,
) -> list[NamedAllocation]:
    """Allocation intervals, newest first; ``current`` keeps only the ones still held."""
    stmt = (
        _with_names()
        .where(owned_by(principal, Allocation.tenant_id))
        .order_by(Allocation.allocated_at.desc(), Allocation.id)
        .limit(limit)
    )
    if current:
        stmt = stmt.where(Allocation.released_at.is_(None))
    if tenant_id is not None:
        stmt = stmt.where(Allocation.tenant_id == tenant_id)
    if pool_id is not None:
        stmt = stmt.where(Allocation.pool_id == pool_id)
    if number is not None:
        stmt = stmt.where(Allocation.number == number)
    return [NamedAllocation(*row) for row in await session.execute(stmt)]


async def named(session: AsyncSession, allocation: Allocation) -> NamedAllocation:
    """``allocation`` (flushed) with its tenant's and pool's names."""
    _, tenant_name, pool_name = (
        await session.execute(_with_names().where(Allocation.id == allocation.id))
    ).one()
    return NamedAllocation(allocation, tenant_name, pool_name)
