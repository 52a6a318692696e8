"""Cost cases worked out by hand, and the writer that puts an inventory into Postgres.

The unit tests check the pure model against ``CASES``; the integration tests write the
same inventories with ``store`` and expect the same figures from ``GET /v1/costs``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.costs.model import Basis, FeeVersion, GroupBy, Holding, NumberFacts, Usage
from app.numbers.mirror import SEVEN_TIME_ZONE, format_seven_time
from tests.support.db import connected

TENANT_A = "00000000-0000-4000-8000-00000000000a"
TENANT_B = "00000000-0000-4000-8000-00000000000b"
POOL_P = "00000000-0000-4000-8000-0000000000f1"


def fee_version(setup: str, basic: str, sms: str = "0") -> FeeVersion:
    """Fees in force since long before any case starts."""
    return FeeVersion(date(2020, 1, 1), Decimal(setup), Decimal(basic), Decimal(sms))


# Created on 31 January: billed 31 Jan, 28 Feb, 31 Mar, ...
END_OF_MONTH = NumberFacts(
    "4915100000031", "DE", "monthly", date(2026, 1, 31), (fee_version("5", "10"),)
)
# Annual, created mid-June: billed 15 June every year, periods of 365 days.
ANNUAL = NumberFacts(
    "4915100000615", "DE", "annually", date(2025, 6, 15), (fee_version("0", "120"),)
)
# First month: setup, the first basic charge and 3 inbound SMS at 0.05 on 12 March.
FIRST_MONTH = NumberFacts(
    "4915100000310",
    "AT",
    "monthly",
    date(2026, 3, 10),
    (fee_version("20", "10", sms="0.05"),),
    usage={date(2026, 3, 12): Usage(sms_mo=3)},
)
# Deleted at period end: expires on the billing day 10 April, which is not charged.
DELETED = NumberFacts(
    "4915100000110",
    "DE",
    "monthly",
    date(2026, 1, 10),
    (fee_version("0", "10"),),
    ends=date(2026, 4, 10),
)
# Deleted at period end too, with inbound SMS on its last charged day (9 April) and on the
# day it expires (10 April, when seven no longer charges it).
USED_TO_THE_END = NumberFacts(
    "4915100000112",
    "DE",
    "monthly",
    date(2026, 1, 10),
    (fee_version("0", "10", sms="0.05"),),
    ends=date(2026, 4, 10),
    usage={date(2026, 4, 9): Usage(sms_mo=2), date(2026, 4, 10): Usage(sms_mo=3)},
)
# Deleted mid-period: a deleted number's end is the day it went, any day (here 20 March).
DELETED_MID_PERIOD = NumberFacts(
    "4915100000111",
    "DE",
    "monthly",
    date(2026, 1, 10),
    (fee_version("0", "10"),),
    ends=date(2026, 3, 20),
)
# The sync saw the basic charge go from 10 to 13 on 20 March: 10 April is the first at 13.
FEE_CHANGE = NumberFacts(
    "4915100000120",
    "DE",
    "monthly",
    date(2026, 1, 10),
    (fee_version("0", "10"), FeeVersion(date(2026, 3, 20), Decimal(0), Decimal(13))),
)
# 31 a month and March has 31 days: 1.00 a day. Tenant A until 10 March, the pool from
# 11 to 20 March, tenant B from 21 March.
MOVED = NumberFacts(
    "4915100000101",
    "FR",
    "monthly",
    date(2026, 1, 1),
    (fee_version("0", "31"),),
    pool=POOL_P,
    holdings=(
        Holding(TENANT_A, date(2026, 1, 1), date(2026, 3, 11)),
        Holding(TENANT_B, date(2026, 3, 21)),
    ),
)


@dataclass(frozen=True)
class Case:
    name: str
    facts: NumberFacts
    month: str
    group_by: GroupBy
    # basis -> {key: (recurring, setup, usage, total)}
    expected: dict[Basis, dict[str, tuple[str, str, str, str]]]


def _total(figure: str) -> tuple[str, str, str, str]:
    return (figure, "0.00", "0.00", figure)


CASES = [
    Case(
        "monthly from the 31st, February bills on the 28th",
        END_OF_MONTH,
        "2026-02",
        "number",
        {
            "cash": {END_OF_MONTH.number: _total("10.00")},
            # 27 days of [31 Jan, 28 Feb) at 10/28 + 28 Feb of [28 Feb, 31 Mar) at 10/31
            "accrual": {END_OF_MONTH.number: _total("9.97")},
        },
    ),
    Case(
        "monthly from the 31st, March bills on the 31st again",
        END_OF_MONTH,
        "2026-03",
        "number",
        {
            "cash": {END_OF_MONTH.number: _total("10.00")},
            # 30 days of [28 Feb, 31 Mar) at 10/31 + 31 Mar of [31 Mar, 30 Apr) at 10/30
            "accrual": {END_OF_MONTH.number: _total("10.01")},
        },
    ),
    Case(
        "first month of the number from the 31st, with its setup fee",
        END_OF_MONTH,
        "2026-01",
        "number",
        {
            "cash": {END_OF_MONTH.number: ("10.00", "5.00", "0.00", "15.00")},
            # 31 Jan alone: 10/28
            "accrual": {END_OF_MONTH.number: ("0.36", "5.00", "0.00", "5.36")},
        },
    ),
    Case(
        "annual number renewing mid-month",
        ANNUAL,
        "2026-06",
        "country",
        {
            "cash": {"DE": _total("120.00")},
            # 14 + 16 days, each at 120/365
            "accrual": {"DE": _total("9.86")},
        },
    ),
    Case(
        "annual number in a month without its renewal",
        ANNUAL,
        "2026-07",
        "country",
        {"cash": {}, "accrual": {"DE": _total("10.19")}},  # 31 * 120/365
    ),
    Case(
        "first month: setup, first charge and inbound SMS",
        FIRST_MONTH,
        "2026-03",
        "number",
        {
            "cash": {FIRST_MONTH.number: ("10.00", "20.00", "0.15", "30.15")},
            # 22 days of [10 Mar, 10 Apr) at 10/31 = 7.0968
            "accrual": {FIRST_MONTH.number: ("7.10", "20.00", "0.15", "27.25")},
        },
    ),
    Case(
        "deleted at period end: the last month it runs",
        DELETED,
        "2026-03",
        "number",
        {
            "cash": {DELETED.number: _total("10.00")},
            # 9 days at 10/28 + 22 days at 10/31
            "accrual": {DELETED.number: _total("10.31")},
        },
    ),
    Case(
        "deleted at period end: the month it expires",
        DELETED,
        "2026-04",
        "number",
        {"cash": {}, "accrual": {DELETED.number: _total("2.90")}},  # 9 days at 10/31
    ),
    Case(
        "deleted at period end: usage on the day it expires is not charged",
        USED_TO_THE_END,
        "2026-04",
        "number",
        {
            "cash": {USED_TO_THE_END.number: ("0.00", "0.00", "0.10", "0.10")},
            # 9 days at 10/31, and 2 SMS at 0.05 on 9 April
            "accrual": {USED_TO_THE_END.number: ("2.90", "0.00", "0.10", "3.00")},
        },
    ),
    Case(
        "deleted at period end: after it expired",
        DELETED,
        "2026-05",
        "number",
        {"cash": {}, "accrual": {}},
    ),
    Case(
        "deleted mid-period: the month it ends",
        DELETED_MID_PERIOD,
        "2026-03",
        "number",
        {
            "cash": {DELETED_MID_PERIOD.number: _total("10.00")},
            # 9 days at 10/28, then [10 Mar, 20 Mar) is the whole last period: 10
            "accrual": {DELETED_MID_PERIOD.number: _total("13.21")},
        },
    ),
    Case(
        "deleted mid-period: the month after it ended owes nothing",
        DELETED_MID_PERIOD,
        "2026-04",
        "number",
        {"cash": {}, "accrual": {}},
    ),
    Case(
        "fee change mid-month: the month of the change keeps the old fee",
        FEE_CHANGE,
        "2026-03",
        "number",
        {
            "cash": {FEE_CHANGE.number: _total("10.00")},
            "accrual": {FEE_CHANGE.number: _total("10.31")},
        },
    ),
    Case(
        "fee change mid-month: the next billing day charges the new fee",
        FEE_CHANGE,
        "2026-04",
        "number",
        {
            "cash": {FEE_CHANGE.number: _total("13.00")},
            # 9 days of [10 Mar, 10 Apr) at 10/31 + 21 days of [10 Apr, 10 May) at 13/30
            "accrual": {FEE_CHANGE.number: _total("12.00")},
        },
    ),
    Case(
        "moved between tenants mid-month, by tenant",
        MOVED,
        "2026-03",
        "tenant",
        {
            "cash": {TENANT_A: _total("31.00")},  # billed 1 March, while A held it
            "accrual": {
                TENANT_A: _total("10.00"),
                TENANT_B: _total("11.00"),
                f"pool:{POOL_P}": _total("10.00"),
            },
        },
    ),
    Case(
        "moved between tenants mid-month, by pool",
        MOVED,
        "2026-03",
        "pool",
        {"cash": {POOL_P: _total("31.00")}, "accrual": {POOL_P: _total("31.00")}},
    ),
]


def berlin(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), SEVEN_TIME_ZONE)


@asynccontextmanager
async def engine_holding(
    database_url: str, inventory: list[NumberFacts]
) -> AsyncIterator[AsyncEngine]:
    """An engine on the test database (``database_url``: asyncpg's plain URL) once
    ``inventory`` is stored in it; disposed after."""
    engine = create_async_engine(database_url.replace("postgresql://", "postgresql+asyncpg://"))
    async with connected(database_url) as conn:
        await store(conn, inventory)
    try:
        yield engine
    finally:
        await engine.dispose()


async def store(conn: asyncpg.Connection, inventory: list[NumberFacts]) -> None:
    """Write ``inventory`` into the mirror, the fee history, allocations and usage."""
    tenants = {h.tenant for f in inventory for h in f.holdings}
    pools = {f.pool for f in inventory} | {h.pool for f in inventory for h in f.holdings}
    for tenant in tenants:
        await conn.execute(
            "INSERT INTO tenants (id, name) VALUES ($1, $2)", uuid.UUID(tenant), tenant
        )
    for pool in pools - {None}:
        await conn.execute(
            "INSERT INTO pools (id, name) VALUES ($1, $2)", uuid.UUID(str(pool)), pool
        )
    for facts in inventory:
        await _store_number(conn, facts)


async def _set_fees(conn: asyncpg.Connection, number: str, version: FeeVersion) -> None:
    """Change the mirror's fees as the sync does; the trigger records the version,
    which is then back-dated to when the change is meant to have been seen."""
    await conn.execute(
        "UPDATE numbers SET fee_setup = $2, fee_basic_charge = $3, fee_sms_mo = $4,"
        " fee_voice_mo = $5 WHERE number = $1",
        number,
        version.setup,
        version.basic_charge,
        version.sms_mo,
        version.voice_mo,
    )
    await conn.execute(
        "UPDATE number_fee_versions SET valid_from = $2 WHERE id ="
        " (SELECT max(id) FROM number_fee_versions WHERE number = $1)",
        number,
        berlin(version.valid_from),
    )


async def _store_number(conn: asyncpg.Connection, facts: NumberFacts) -> None:
    created = berlin(facts.created)
    expires = berlin(facts.ends) if facts.ends else None
    await conn.execute(
        "INSERT INTO numbers (number, country, payment_interval, state, pool_id, created,"
        " seven_created_at, expires, seven_expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        facts.number,
        facts.country,
        facts.payment_interval,
        "deleting" if expires else "active",
        uuid.UUID(facts.pool) if facts.pool else None,
        format_seven_time(created),
        created,
        format_seven_time(expires) if expires else None,
        expires,
    )
    for version in facts.fees:
        await _set_fees(conn, facts.number, version)
    for holding in facts.holdings:
        await conn.execute(
            "INSERT INTO allocations (id, number, tenant_id, pool_id, allocated_at, released_at)"
            " VALUES (gen_random_uuid(), $1, $2, $3, $4, $5)",
            facts.number,
            uuid.UUID(holding.tenant),
            uuid.UUID(holding.pool) if holding.pool else None,
            berlin(holding.start, 9),
            berlin(holding.end, 9) if holding.end else None,
        )
    for day, used in facts.usage.items():
        await conn.execute(
            "INSERT INTO number_usage_daily (number, day, sms_mo, voice_mo_minutes)"
            " VALUES ($1, $2, $3, $4)",
            facts.number,
            day,
            used.sms_mo,
            used.voice_mo_minutes,
        )
