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
fee version again.

A recurring write touches one number in the common case, and a number's slices are
computed from its own rows alone (its ``numbers`` row, fee versions and allocations:
``sql.py`` partitions and joins every recurring CTE by number). So a recurring change
row names the numbers its transaction touched (``numbers``, migration 0027; NULL, a wide
change: a ``TRUNCATE``, a statement of over 1,000 rows or a transaction over 1,000
numbers, the rows from before 0027), and a part is *usable* for a reader
(``live.usable_sql``) while every recurring change to its month that the reader sees and
its snapshot did not names its numbers, at most ``live.WIDEST`` of them: the report is
then the part's slices of every other number and the slices of those numbers computed
afresh by the whole statement's own CTEs restricted to them (``sql._part_ctes``: one
computation of the pricing, not a copy), all in the reader's statement, which also finds
the part and its numbers. It is what the whole statement answers in that statement's
snapshot R:

- a number no escaped change names: every transaction that wrote its rows and that R
  sees either was visible to the part's snapshot too (then the part has its effect), or
  wrote a change row naming it, visible to R, its xid not visible to the part's
  snapshot: escaped, so named; a contradiction. Its rows are the same in both
  snapshots, and so are its kept slices (a change row is written by the change's own
  transaction, and rows below the pruning horizon are never needed: the part's xmin is
  not below it);
- a named number: computed in R from its rows as R sees them;
- a change still in progress: invisible to R, its data as well as its row; rolled
  back: neither; committed later: a later reader sees its row; the reader's own
  uncommitted change: its row and data both seen, and nothing is kept (``_UNWRITTEN``);
- a change to a later month only (a change row's month is the first it reaches):
  ignored, as by the validity check, since none of this month's figures move;
- a number that moved between tenants or pools, was deleted, or whose fee changed from
  a day inside the month: all in its own rows, so its slices afresh have the new holders
  and days, or none (its kept row by number is dropped from the splice).

A report is read from a valid part when there is one (:data:`REPORT_SQL`: no fresh
slices, no union with them), else from a usable one (:data:`AFRESH_SQL`), else the whole
statement answers, as before 0025 (a wide write, or too many numbers touched). After
either of the last two the part is kept anew, off the request's path (:func:`keep_later`):
a report from a usable part costs ~40-60 ms more than from a valid one (every scan of the
kept slices carries all their columns through the union), and the asks after usage
writes, the common ones, should not pay it. The build is a task on the engine, one per
month and basis at a time in this process, and across processes whoever holds the
build's advisory lock; a build that finds a valid part keeps nothing. A part built from
a snapshot that a recurring change escaped is served only with that change's numbers
afresh (or not at all), so building late costs no exactness.

A part that is usable but not valid is not re-stamped by the prune (its touched
numbers' kept slices are not the new snapshot's), so it holds the horizon and keeps the
change rows naming them; one that no answer has built anew (nobody asked) is built by
the hourly job (``service.rebuild_touched_parts``), so neither lingers.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.costs import splice
from app.costs.live import touched_sql, usable_sql, valid_sql
from app.costs.model import Basis, GroupBy, Month
from app.costs.sql import (
    AFRESH_PARAMETERS,
    PART_PARAMETERS,
    PARTS_REPORT_PARAMETERS,
    TUNING_SQL,
    drop_parts_sql,
    numbered,
    part_sql,
    parts_report_sql,
)
from app.db.driver import asyncpg_connection

logger = logging.getLogger(__name__)


def _reports(conditions: tuple[str, ...], names: tuple[str, ...]) -> dict[GroupBy, str]:
    """The report of each grouping from the parts that ``conditions`` pick; no rows at
    all when there is none. Tags are never reported from the parts."""
    return {
        group_by: numbered(parts_report_sql(group_by, *conditions), names)
        for group_by in GroupBy
        if group_by != GroupBy.TAG
    }


#: From the valid part, and from the usable part with the touched numbers' slices
#: computed afresh.
REPORT_SQL = _reports((valid_sql("p", True),), PARTS_REPORT_PARAMETERS)
AFRESH_SQL = _reports(
    (usable_sql("p"), touched_sql("p")), (*PARTS_REPORT_PARAMETERS, *AFRESH_PARAMETERS)
)
_PART_SQL = numbered(part_sql(), PART_PARAMETERS)
# One builder of a month and basis at a time across processes (the lock is the
# transaction's); a second one finds it taken and leaves the build to the first.
_LOCK = text("SELECT pg_try_advisory_xact_lock(hashtext('cost_live_parts ' || :key))")
_HAS_VALID = text(
    "SELECT EXISTS (SELECT 1 FROM cost_live_parts p"  # noqa: S608
    " WHERE p.month = :month AND p.basis = :basis AND " + valid_sql("p", True) + ")"
)
_ANALYZE = text("ANALYZE cost_live_slices")
# The parts this one replaces (older ones of the month and basis: outdated, or as exact
# as this one); a reader still reading one keeps its snapshot's rows.
_DROP_OLDER = text(
    drop_parts_sql(
        "p.month = :month AND p.basis = :basis AND p.id"
        " < (SELECT max(id) FROM cost_live_parts WHERE month = :month AND basis = :basis)"
    )
)


async def build(engine: AsyncEngine, month: Month, basis: Basis, values: dict[str, Any]) -> bool:
    """Keep the recurring part of ``month`` on ``basis`` unless a valid one is kept or
    another builder holds the month and basis; whether this one was kept. In a
    transaction of its own, which writes only the part (``values``: the report's bind
    parameters, of which the window and basis are used)."""
    async with engine.begin() as connection:
        if not await connection.scalar(_LOCK, {"key": f"{month.start} {basis.value}"}):
            return False
        keys = {"month": month.start, "basis": basis.value}
        if await connection.scalar(_HAS_VALID, keys):
            return False
        await connection.execute(text(TUNING_SQL))
        driver = await asyncpg_connection(connection)
        part = await driver.fetchval(_PART_SQL, *(values[name] for name in PART_PARAMETERS))
        await splice.keep(driver, part)
        # Statistics that know the slices: never analyzed, the planner took the part's
        # slices for a few and joined 13,000 usage days to them by index, one by one
        # (the report from the part over 20 s instead of 0.2 s, until autovacuum came).
        await connection.execute(_ANALYZE)
        await connection.execute(_DROP_OLDER, keys)
    return True


# The builds under way in this process, by month and basis (the loop keeps only weak
# references to tasks: these keep them running).
_building: dict[tuple[date, Basis], asyncio.Task[bool]] = {}


def keep_later(engine: AsyncEngine, month: Month, basis: Basis, values: dict[str, Any]) -> None:
    """Build the part of ``month`` on ``basis`` (:func:`build`) in a task of its own,
    which starts when the caller next awaits: the answer does not wait for it. None is
    started while one of the same month and basis is under way here."""
    key = (month.start, basis)
    if key in _building:
        return
    task = asyncio.get_running_loop().create_task(
        build(engine, month, basis, values), name=f"cost part {month} {basis}"
    )
    _building[key] = task
    task.add_done_callback(lambda done: _finished(key, done))


def _finished(key: tuple[date, Basis], task: asyncio.Task[bool]) -> None:
    del _building[key]
    if not task.cancelled() and task.exception() is not None:
        # A part is a cache: the next report without one answers in full and builds again.
        logger.error("keeping a recurring cost part failed", exc_info=task.exception())


async def settled() -> None:
    """Wait for the builds under way in this process (tests, benchmarks). Nothing waits
    for them at shutdown: a build cut short rolls back, and the next ask builds again."""
    while _building:
        await asyncio.gather(*_building.values(), return_exceptions=True)
