"""The cost model: what seven charges for a number, on which day, and to whom.

Plain functions over plain data, Decimal throughout. This is the specification the
SQL in ``sql.py`` implements for speed; the tests hold both to the same figures.

Rules (the contract's "Costs" section, made precise):

- Days are Europe/Berlin calendar days (seven bills in Germany). ``created`` is the day
  the number was created; ``ends`` is the first day it is no longer charged (the
  ``expires`` day of a number deleted at period end), or None.
- ``setup`` falls once, on ``created``.
- ``basic_charge`` falls on every billing day before ``ends``: ``created`` and then the
  same day of each following month (the month's last day when shorter; always counted
  from ``created``, so 31 Jan gives 28 Feb, then 31 Mar) or of each following year.
- ``usage``: inbound SMS times ``sms_mo`` plus voice minutes times ``voice_mo``, on its day
  (only days from ``created`` up to ``ends``: usage seen outside them is not charged).
- Fees are versioned: a charge uses the version in effect on its day (the latest one
  whose ``valid_from`` is not after the day; days before the first known version use
  the first). A basic charge is priced on its billing day, so a fee change takes effect
  from the next billing day on: the days before it keep the old fee, on both bases.
- ``cash`` puts a charge on its day. ``accrual`` spreads each basic charge evenly over
  the days it pays for: its billing day up to the next one, cut short at ``ends``.
- Each day belongs to the tenant holding the number that day (an allocation covers the
  days from its allocation day up to, not including, its release day), else to the
  number's pool, else to nobody (``unassigned``).
- Amounts stay exact until a report row is built; each row is rounded half-even to
  cents once. Totals are the exact sum rounded once, so they agree across groupings.
"""

from __future__ import annotations

import calendar
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Literal

import msgspec

from app.lib.tags import is_key
from app.seven.types import PaymentInterval


class Basis(StrEnum):
    """When a charge counts: on the day it is billed (``cash``), or spread over the days
    it pays for (``accrual``)."""

    CASH = "cash"
    ACCRUAL = "accrual"


class GroupBy(StrEnum):
    """What a report's rows are (see :func:`group_key`)."""

    TENANT = "tenant"
    POOL = "pool"
    COUNTRY = "country"
    NUMBER = "number"
    TAG = "tag"
    """Written ``tag:<key>``: see :func:`parse_group_by`."""


ChargeKind = Literal["recurring", "setup", "usage"]
UNASSIGNED = "unassigned"
UNTAGGED = "untagged"
TAG_PREFIX = "tag:"
POOL_KEY_PREFIX = "pool:"
CENT = Decimal("0.01")
ZERO = Decimal(0)
_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])", re.ASCII)


@dataclass(frozen=True, slots=True)
class Month:
    """A calendar month as the half-open day range ``[start, stop)``."""

    start: date
    stop: date

    @classmethod
    def parse(cls, text: str) -> Month:
        """``YYYY-MM``; ValueError for anything else."""
        match = _MONTH.fullmatch(text)
        if match is None:
            raise ValueError(f"expected a month as YYYY-MM, got {text!r}")
        return cls.of(date(int(match[1]), int(match[2]), 1))

    @classmethod
    def of(cls, day: date) -> Month:
        start = day.replace(day=1)
        return cls(start, add_months(start, 1))

    def next(self) -> Month:
        return Month(self.stop, add_months(self.stop, 1))

    def __str__(self) -> str:
        return f"{self.start.year:04d}-{self.start.month:02d}"


@dataclass(frozen=True, slots=True)
class FeeVersion:
    valid_from: date
    setup: Decimal
    basic_charge: Decimal
    sms_mo: Decimal = ZERO
    voice_mo: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class Holding:
    """A tenant held the number on the days ``[start, end)``; ``end`` None = still."""

    tenant: str
    start: date
    end: date | None = None
    pool: str | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    sms_mo: int = 0
    voice_mo_minutes: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class NumberFacts:
    """Everything the model needs about one number."""

    number: str
    country: str
    payment_interval: PaymentInterval
    created: date
    fees: tuple[FeeVersion, ...]
    ends: date | None = None
    pool: str | None = None
    holdings: tuple[Holding, ...] = ()
    usage: Mapping[date, Usage] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Charge:
    """An exact (unrounded) amount of one kind, for one number, owed by one holder."""

    number: str
    country: str
    kind: ChargeKind
    amount: Decimal
    tenant: str | None
    pool: str | None


class Row(msgspec.Struct, frozen=True, gc=False):
    """A report row. A msgspec struct: a report by number builds 100,000 of them, which
    a frozen dataclass made six times slower. Its fields bear the API's names, so a
    stored report's JSON decodes into rows directly (``app.costs.rendered.decoded``)."""

    key: str
    numbers: int
    recurring: Decimal
    setup: Decimal
    usage: Decimal
    total: Decimal
    name: str | None = None
    """The tenant's or pool's name a ``tenant``/``pool`` row's key stands for (the report
    query looks it up); None for ``unassigned``, countries and numbers."""


def add_months(day: date, months: int) -> date:
    """``day`` moved by ``months``, clamped to the target month's last day."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def billing_day(created: date, interval: PaymentInterval, k: int) -> date:
    """The ``k``-th billing day (``k = 0`` is ``created``), always counted from ``created``."""
    return add_months(created, k if interval == PaymentInterval.MONTHLY else 12 * k)


def fee_on(fees: tuple[FeeVersion, ...], day: date) -> FeeVersion:
    """The version in effect on ``day``; the first version also covers earlier days."""
    current = fees[0]
    for version in fees:
        if version.valid_from <= day:
            current = version
    return current


def holder_on(facts: NumberFacts, day: date) -> tuple[str | None, str | None]:
    """(tenant, pool) holding the number on ``day``."""
    for holding in facts.holdings:
        if holding.start <= day and (holding.end is None or day < holding.end):
            return holding.tenant, holding.pool or facts.pool
    return None, facts.pool


def _periods(facts: NumberFacts, month: Month) -> Iterator[tuple[date, date]]:
    """Billing periods ``[billing day, next billing day or ends)`` overlapping ``month``."""
    k = 0
    while True:
        start = billing_day(facts.created, facts.payment_interval, k)
        if start >= month.stop or (facts.ends is not None and start >= facts.ends):
            return
        stop = billing_day(facts.created, facts.payment_interval, k + 1)
        if facts.ends is not None:
            stop = min(stop, facts.ends)
        if stop > month.start:
            yield start, stop
        k += 1


def _days(start: date, stop: date) -> Iterator[date]:
    for offset in range((stop - start).days):
        yield start + timedelta(days=offset)


def _on_day(facts: NumberFacts, kind: ChargeKind, amount: Decimal, day: date) -> Charge:
    tenant, pool = holder_on(facts, day)
    return Charge(facts.number, facts.country, kind, amount, tenant, pool)


def charges(facts: NumberFacts, month: Month, basis: Basis) -> Iterator[Charge]:
    """The number's charges falling into ``month`` on ``basis``, one per holder and kind."""
    if not facts.fees:
        return
    if month.start <= facts.created < month.stop:
        setup = fee_on(facts.fees, facts.created).setup
        yield _on_day(facts, "setup", setup, facts.created)
    for start, stop in _periods(facts, month):
        fee = fee_on(facts.fees, start).basic_charge
        if basis == Basis.CASH:
            if start >= month.start:
                yield _on_day(facts, "recurring", fee, start)
            continue
        # Accrual: each day of the period carries fee / length; count days per holder.
        days_by_holder: dict[tuple[str | None, str | None], int] = defaultdict(int)
        for day in _days(max(start, month.start), min(stop, month.stop)):
            days_by_holder[holder_on(facts, day)] += 1
        length = (stop - start).days
        for (tenant, pool), days in days_by_holder.items():
            amount = fee * days / length
            yield Charge(facts.number, facts.country, "recurring", amount, tenant, pool)
    for day, used in facts.usage.items():
        alive = facts.created <= day and (facts.ends is None or day < facts.ends)
        if alive and month.start <= day < month.stop:
            version = fee_on(facts.fees, day)
            amount = used.sms_mo * version.sms_mo + used.voice_mo_minutes * version.voice_mo
            yield _on_day(facts, "usage", amount, day)


def parse_group_by(raw: str) -> tuple[GroupBy, str | None]:
    """``tenant``, ``pool``, ``country``, ``number`` or ``tag:<key>``: the grouping and, for
    a tag, its key; ValueError for anything else."""
    if raw.startswith(TAG_PREFIX):
        key = raw.removeprefix(TAG_PREFIX)
        if not is_key(key):
            raise ValueError(f"not a tag key: {key!r}")
        return GroupBy.TAG, key
    grouping = GroupBy(raw)
    if grouping == GroupBy.TAG:
        raise ValueError("a tag grouping names its key: tag:<key>")
    return grouping, None


def group_key(charge: Charge, group_by: GroupBy) -> str:
    """The report row a charge belongs to.

    ``tenant``: the tenant's id; days no tenant held go to ``pool:<pool id>`` when the
    number sat in a pool, else to ``unassigned``. ``pool``: the pool's id (for a tenant's
    days, the pool it was allocated from), else ``unassigned``.
    """
    if group_by == GroupBy.TENANT:
        if charge.tenant is not None:
            return charge.tenant
        return POOL_KEY_PREFIX + charge.pool if charge.pool is not None else UNASSIGNED
    if group_by == GroupBy.POOL:
        return charge.pool or UNASSIGNED
    if group_by == GroupBy.COUNTRY:
        return charge.country
    if group_by == GroupBy.NUMBER:
        return charge.number
    # The model's charges carry no tags; the SQL report groups by them (app.costs.sql).
    raise ValueError(f"the model does not group by {group_by}")


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_EVEN)


def make_row(key: str, numbers: int, recurring: Decimal, setup: Decimal, usage: Decimal) -> Row:
    """A report row from exact sums: each figure rounded once, the total from exact sums."""
    return Row(
        key=key,
        numbers=numbers,
        recurring=cents(recurring),
        setup=cents(setup),
        usage=cents(usage),
        total=cents(recurring + setup + usage),
    )


@dataclass(frozen=True, slots=True)
class Report:
    rows: list[Row]
    totals: Row


def build_report(all_charges: Iterable[Charge], group_by: GroupBy) -> Report:
    """Rows (sorted by key) and totals from exact charges."""
    sums: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    members: dict[str, set[str]] = defaultdict(set)
    for charge in all_charges:
        key = group_key(charge, group_by)
        sums[key][charge.kind] += charge.amount
        members[key].add(charge.number)
    rows = [
        make_row(key, len(members[key]), s["recurring"], s["setup"], s["usage"])
        for key, s in sorted(sums.items())
    ]
    every = set().union(*members.values()) if members else set()
    totals = make_row(
        "total",
        len(every),
        sum((s["recurring"] for s in sums.values()), ZERO),
        sum((s["setup"] for s in sums.values()), ZERO),
        sum((s["usage"] for s in sums.values()), ZERO),
    )
    return Report(rows, totals)


def report(
    inventory: Iterable[NumberFacts],
    month: Month,
    basis: Basis,
    group_by: GroupBy,
    tenant: str | None = None,
) -> Report:
    """The month's report over ``inventory``; with ``tenant``, only that tenant's days."""
    found = (c for facts in inventory for c in charges(facts, month, basis))
    return build_report((c for c in found if tenant is None or c.tenant == tenant), group_by)
