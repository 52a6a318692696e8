"""A live month's report kept in two parts, so that a usage write does not recompute the
recurring charges (migration 0025).

The recurring part: each number's holder slices of the month with their recurring and
setup charges, exact (``cost_live_slices``), per month and basis, stamped with the
snapshot of the statement that computed and stored them. Only numbers, fee versions and
allocations change it, and their writes record change rows of the recurring kind; a
usage day records one of the usage kind. A part is valid for a reader while no change of
the recurring kind to its month that the reader sees escaped its snapshot
(``live.valid_sql``), as a kept report is for any change.

The usage part is priced afresh with each report from the part (the month's usage days
and their fee versions, by index), in the reader's statement, which also checks the
part's validity: the report is what the whole statement would answer in that snapshot
(the recurring inputs it sees are the part's, the usage is its own). So a report after a
usage write is the slices plus usage, not the recurring charges over every number and
fee version again. When no part is valid (after a recurring write), the whole statement
answers and keeps the part as it goes (:func:`computed`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.costs.live import valid_sql
from app.costs.model import Basis, GroupBy, Month
from app.costs.sql import (
    PARTS_REPORT_PARAMETERS,
    REPORT_PARAMETERS,
    TUNING_SQL,
    numbered,
    part_and_report_sql,
    parts_report_sql,
)

#: The report of each grouping from the valid part (no rows at all when there is none).
REPORT_SQL = {
    group_by: numbered(parts_report_sql(group_by, valid_sql("p", True)), PARTS_REPORT_PARAMETERS)
    for group_by in GroupBy
    if group_by != GroupBy.TAG
}
_PART_AND_REPORT_SQL = {
    group_by: numbered(part_and_report_sql(group_by), REPORT_PARAMETERS) for group_by in REPORT_SQL
}
# The parts this one replaces (older ones of the month and basis: outdated, or as exact
# as this one), with their slices; a reader still reading one keeps its snapshot's rows.
# (The slices have no foreign key: checking it took longer than computing them.)
_DROP_OLDER = text(
    "WITH gone AS (DELETE FROM cost_live_parts p WHERE p.month = :month AND p.basis = :basis"
    " AND p.id < (SELECT max(id) FROM cost_live_parts WHERE month = :month AND basis = :basis)"
    " RETURNING p.id)"
    " DELETE FROM cost_live_slices s WHERE s.part IN (SELECT id FROM gone)"
)


async def computed(
    engine: AsyncEngine, month: Month, basis: Basis, group_by: GroupBy, values: dict[str, Any]
) -> list[Any]:
    """The report's rows (``sql.report_sql``'s), computed by the whole statement, which
    keeps the recurring part of ``month`` on ``basis`` as it goes; in a transaction of its
    own, which writes only the part (``values``: the report's bind parameters)."""
    async with engine.begin() as connection:
        await connection.execute(text(TUNING_SQL))
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None
        records = await driver.fetch(
            _PART_AND_REPORT_SQL[group_by], *(values[name] for name in REPORT_PARAMETERS)
        )
        await connection.execute(_DROP_OLDER, {"month": month.start, "basis": basis.value})
    return records
