"""Closed months' cost reports, computed once and kept: the ``cost_rollups`` table.

A month is rolled up from the second day after it ends (Europe/Berlin): each report of it
(basis, grouping, and the tenant a tenant key sees) is stored finished, as the live
computation (``service.live_report``) answered it and encoded as every answer writes it
(``app.costs.rendered``: the rows' JSON and the CSV), stamped with the month's version read
*before* that computation. Reading one back is a fetch, no decoding: a report by number
hands its stored bytes to the response. Every write to what the costs are computed from bumps the
versions of the closed months it reaches, in its own transaction (triggers, migration
0019); a rollup is served only while its stamp equals its month's version. So a late
change is never served stale once it is committed: a rollup computed before the commit
carries the older version, whichever transaction stores it.

Reports by tag are not rolled up: a tag's value is read as it is now, and tags change
any time, with no bearing on costs. The names beside tenant and pool keys are read as
they are now too, on every answer.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.costs.model import Basis, GroupBy, Month, Report
from app.costs.rendered import Rendered, decoded, render, stored
from app.costs.sql import name_lookup_sql

#: The groupings whose reports are rolled up (a tag's are always computed live).
ROLLED_UP = (GroupBy.TENANT, GroupBy.POOL, GroupBy.COUNTRY, GroupBy.NUMBER)


def rolls_up(month: Month, group_by: GroupBy, today: date) -> bool:
    """Whether ``month``'s report by ``group_by`` comes from a rollup. From the second
    day after the month: a change written before the month ended does not bump it (it
    was still open), so the day between lets any transaction open across its end finish
    first."""
    return group_by in ROLLED_UP and month.stop + timedelta(days=1) <= today


_VERSION = "COALESCE((SELECT version FROM cost_rollup_months WHERE month = :month), 0)"
# Only the part an answer writes is fetched: a report by number is ~11 MB of JSON and
# ~4 MB of CSV.
_READ_JSON, _READ_CSV = (
    text(
        f"SELECT {columns} FROM cost_rollups WHERE month = :month AND basis = :basis"  # noqa: S608
        " AND group_by = :group_by AND tenant_id IS NOT DISTINCT FROM :tenant"
        f" AND version = {_VERSION}"
    )
    for columns in ("rows_json, totals_json", "csv")
)
_STORE = text(
    "INSERT INTO cost_rollups"
    " (month, basis, group_by, tenant_id, version, rows_json, totals_json, csv)"
    " VALUES (:month, :basis, :group_by, :tenant, :version, :rows, :totals, :csv)"
    " ON CONFLICT ON CONSTRAINT uq_cost_rollups_month_basis_group_by_tenant_id DO UPDATE"
    " SET version = excluded.version, rows_json = excluded.rows_json,"
    " totals_json = excluded.totals_json, csv = excluded.csv, computed_at = now()"
    # Two computations at once: the one that read the later version stays.
    " WHERE cost_rollups.version <= excluded.version"
)


async def month_version(session: AsyncSession, month: Month) -> int:
    """The month's version now: read before computing a report to store."""
    return int(await session.scalar(text(f"SELECT {_VERSION}"), {"month": month.start}) or 0)


async def read(
    session: AsyncSession,
    month: Month,
    basis: Basis,
    group_by: GroupBy,
    tenant_id: uuid.UUID | None,
    as_csv: bool = False,
) -> Rendered | None:
    """The stored report, if it is still valid; names as they are now. ``as_csv``: the
    answer writes CSV (only that is fetched where the stored bytes are the answer)."""
    names_sql = name_lookup_sql(group_by)
    csv_alone = as_csv and names_sql is None
    found = (
        await session.execute(
            _READ_CSV if csv_alone else _READ_JSON,
            {"month": month.start, "basis": basis, "group_by": group_by, "tenant": tenant_id},
        )
    ).first()
    if found is None:
        return None
    return await with_names_now(
        session, group_by, stored(csv=found[0]) if csv_alone else stored(*found)
    )


async def with_names_now(session: AsyncSession, group_by: GroupBy, answer: Rendered) -> Rendered:
    """A stored report with the names beside its keys as they are now (by tenant or pool:
    a few hundred rows at most); by country and by number the stored bytes are the
    answer."""
    names_sql = name_lookup_sql(group_by)
    if names_sql is None:
        return answer
    report = decoded(answer)
    if not report.rows:
        return answer
    found_names = await session.execute(text(names_sql), {"keys": [row.key for row in report.rows]})
    names = {key: name for key, name in found_names}
    rows_now = [msgspec.structs.replace(row, name=names.get(row.key)) for row in report.rows]
    return render(Report(rows_now, report.totals))


async def store(
    engine: AsyncEngine,
    month: Month,
    basis: Basis,
    group_by: GroupBy,
    tenant_id: uuid.UUID | None,
    version: int,
    report: Rendered,
) -> None:
    """Keep ``report``, computed after reading ``version``, in a transaction of its own
    (the caller's may well be rolled back: a report's request only reads)."""
    async with engine.begin() as connection:
        await connection.execute(
            _STORE,
            {
                "month": month.start,
                "basis": basis,
                "group_by": group_by,
                "tenant": tenant_id,
                "version": version,
                "rows": bytes(report.rows),
                "totals": bytes(report.totals),
                "csv": report.csv,
            },
        )


async def valid(engine: AsyncEngine, months: list[Month]) -> set[tuple[date, str, str]]:
    """(month, basis, group_by) of the account-wide rollups still valid among ``months``."""
    async with engine.connect() as connection:
        found = await connection.execute(
            text(
                "SELECT r.month, r.basis, r.group_by FROM cost_rollups r"
                " LEFT JOIN cost_rollup_months m ON m.month = r.month"
                " WHERE r.tenant_id IS NULL AND r.month = ANY(:months)"
                " AND r.version = COALESCE(m.version, 0)"
            ),
            {"months": [month.start for month in months]},
        )
        return {(month, basis, group_by) for month, basis, group_by in found.tuples()}
