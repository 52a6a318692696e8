"""The reports of months not rolled up yet (the current month above all), kept exactly:
the ``cost_live_reports`` table (migration 0023).

Such a month still changes, so its report is stamped not with a version but with the
snapshot its statement read in (``pg_current_snapshot()``, returned by the report's own
statement: ``sql.report_sql``). Every write to what the costs are computed from records,
in its own transaction, its xid and the first month it reaches (``cost_live_changes``,
written by the triggers of migration 0019 since 0023: insert-only, one row per
transaction and month, so concurrent writers share no row). A reader is served a stored
report of month M only while every change row of a month up to M *that the reader can
see* was visible to the report's snapshot. The reader sees a change row exactly when it
sees the change (same transaction), so the answer is the one the live statement would
give in the reader's snapshot:

- a change committed before the report's snapshot: in the report;
- committed after it (also while the report was computed or stored): the reader sees
  its row, the snapshot did not see its xid: not served, computed again;
- still in progress: invisible to the reader and to the report alike, and a check once
  it commits; rolled back: no row.

A transaction that has written (``pg_current_xact_id_if_assigned()``) stores nothing:
what it sees may be rolled back. xid8 and ``pg_snapshot`` throughout: no wrap-around.

Reports by tag are never kept (tags change without touching costs); names beside keys
are read as they are now, as for rollups.

Since 0025 a change row also says its kind (``recurring``: false for usage alone), so
that the recurring part a report is computed from (``app.costs.parts``) outlives usage
writes; the same check, restricted to that kind, keeps it exact (:func:`valid_sql`).
Since 0027 a recurring change row names the numbers it touched, and a part is served
with those numbers computed afresh while they are few (:func:`usable_sql`; the argument
is in ``app.costs.parts``).
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.costs import rollups
from app.costs.model import Basis, GroupBy, Month
from app.costs.rendered import Rendered, stored
from app.costs.sql import drop_parts_sql, name_lookup_sql

#: The groupings whose live reports are kept (a tag's are always computed).
KEPT = rollups.ROLLED_UP


#: The most numbers a part is served with computed afresh (``usable_sql``); a change
#: row names at most as many (migration 0027's bound, the same figure).
WIDEST = 1000


def _not_older_than_pruned(alias: str) -> str:
    """Whether the snapshot of ``alias`` is not older than the pruned changes (no horizon
    row: none pruned)."""
    return (
        f"pg_snapshot_xmin({alias}.snapshot)"  # noqa: S608  (alias: a constant)
        " >= COALESCE((SELECT horizon FROM cost_live_horizon), '0')"
    )


def _escaped(alias: str, recurring_only: bool) -> str:
    """The change rows ``c`` to the month of ``alias`` (or before) that the reader sees
    and the snapshot of ``alias`` did not; with ``recurring_only``, of the recurring
    kind. Changes below the snapshot's xmin were finished before it, so only those since
    are looked at (the primary key leads with xid)."""
    kind = " AND c.recurring" if recurring_only else ""
    return (  # alias and kind: constants of this package
        f"c.xid >= pg_snapshot_xmin({alias}.snapshot) AND c.month <= {alias}.month{kind}"
        f" AND NOT pg_visible_in_snapshot(c.xid, {alias}.snapshot)"
    )


def valid_sql(alias: str, recurring_only: bool = False) -> str:
    """Whether the row ``alias`` (its ``snapshot`` and ``month``) is valid for the reader:
    its snapshot is not older than the pruned changes, and no change to the month that
    the reader sees escaped it; with ``recurring_only``, no change of the recurring kind
    (a kept recurring part, ``app.costs.parts``)."""
    return (
        f"{_not_older_than_pruned(alias)} AND NOT EXISTS"  # noqa: S608
        f" (SELECT 1 FROM cost_live_changes c WHERE {_escaped(alias, recurring_only)})"
    )


def touched_sql(alias: str) -> str:
    """The numbers (text[]) that the recurring changes which escaped the part ``alias``
    touched (empty: none escaped)."""
    return (
        "ARRAY(SELECT DISTINCT t FROM cost_live_changes c CROSS JOIN unnest(c.numbers) t"  # noqa: S608
        f" WHERE {_escaped(alias, True)})"
    )


def usable_sql(alias: str) -> str:
    """Whether the part ``alias`` serves the reader with the numbers of
    :func:`touched_sql` computed afresh (``app.costs.parts``): its snapshot is not older
    than the pruned changes, every recurring change that escaped it names its numbers
    (none was wide), and they are at most :data:`WIDEST`."""
    return (
        f"{_not_older_than_pruned(alias)} AND NOT EXISTS"  # noqa: S608
        f" (SELECT 1 FROM cost_live_changes c WHERE {_escaped(alias, True)}"
        f" AND c.numbers IS NULL) AND cardinality({touched_sql(alias)}) <= {WIDEST}"
    )


_VALID = valid_sql("r")
_PART_VALID = valid_sql("p", recurring_only=True)
_PART_USABLE = usable_sql("p")
_KEY = (
    "r.month = :month AND r.basis = :basis AND r.group_by = :group_by"
    " AND r.tenant_id IS NOT DISTINCT FROM :tenant"
)
# A CSV answer by country or number: the stored CSV if an answer wrote one, else the
# rows to write it from. Otherwise the JSON (by tenant or pool the CSV is written from
# the rows, with the names as they are now).
_READ_JSON, _READ_CSV = (
    text(f"SELECT {columns} FROM cost_live_reports r WHERE {_KEY} AND {_VALID}")  # noqa: S608
    for columns in (
        "NULL, r.rows_json, r.totals_json",
        "r.csv, CASE WHEN r.csv IS NULL THEN r.rows_json END,"
        " CASE WHEN r.csv IS NULL THEN r.totals_json END",
    )
)
_STORE = text(
    "INSERT INTO cost_live_reports AS r"
    " (month, basis, group_by, tenant_id, snapshot, rows_json, totals_json, csv)"
    " VALUES (:month, :basis, :group_by, :tenant, CAST(CAST(:snapshot AS text) AS pg_snapshot),"
    " :rows, :totals, :csv)"
    " ON CONFLICT ON CONSTRAINT uq_cost_live_reports_month_basis_group_by_tenant_id DO UPDATE"
    " SET snapshot = excluded.snapshot, rows_json = excluded.rows_json,"
    " totals_json = excluded.totals_json, csv = excluded.csv, computed_at = now()"
    # Two computations at once: the later snapshot stays (either is exact for its own).
    " WHERE pg_snapshot_xmax(r.snapshot) <= pg_snapshot_xmax(excluded.snapshot)"
)


def keeps(group_by: GroupBy) -> bool:
    """Whether a live report by ``group_by`` is kept."""
    return group_by in KEPT


async def read(
    session: AsyncSession,
    month: Month,
    basis: Basis,
    group_by: GroupBy,
    tenant_id: uuid.UUID | None,
    as_csv: bool = False,
) -> Rendered | None:
    """The kept report, if it is what the live statement would answer now; names as
    they are now."""
    csv_alone = as_csv and name_lookup_sql(group_by) is None
    found = (
        await session.execute(
            _READ_CSV if csv_alone else _READ_JSON,
            {"month": month.start, "basis": basis, "group_by": group_by, "tenant": tenant_id},
        )
    ).first()
    if found is None:
        return None
    csv, rows, totals = found
    return await rollups.with_names_now(session, group_by, stored(rows, totals, csv))


async def store(
    engine: AsyncEngine,
    month: Month,
    basis: Basis,
    group_by: GroupBy,
    tenant_id: uuid.UUID | None,
    snapshot: str,
    report: Rendered,
    with_csv: bool,
) -> None:
    """Keep ``report``, computed in ``snapshot``, in a transaction of its own (the
    caller's may well be rolled back). The rows' JSON always; the CSV when the answer
    wrote it (``with_csv``): encoding 97,000 lines an answer does not send costs more than
    writing them from the rows on the day someone asks."""
    async with engine.begin() as connection:
        await connection.execute(
            _STORE,
            {
                "month": month.start,
                "basis": basis,
                "group_by": group_by,
                "tenant": tenant_id,
                "snapshot": snapshot,
                "rows": bytes(report.rows),
                "totals": bytes(report.totals),
                "csv": report.csv if with_csv else None,
            },
        )


# One pruner at a time: the horizon's row, made on the first run, is locked.
_LOCK_HORIZON = text(
    "INSERT INTO cost_live_horizon (horizon) VALUES ('0')"
    " ON CONFLICT (one) DO UPDATE SET horizon = cost_live_horizon.horizon"
)
# Reports and recurring parts no longer served: of months now rolled up, or invalid
# (a part with its slices and its rows by number; one that recurring changes touched
# is still served while usable, with the numbers they touched computed afresh).
_DROP = [
    text(
        "DELETE FROM cost_live_reports r WHERE r.month < :oldest OR NOT (" + _VALID + ")"  # noqa: S608
    ),
    text(drop_parts_sql("p.month < :oldest OR NOT (" + _PART_USABLE + ")")),
]
# A report still valid now is what the live statement answers in this statement's
# snapshot too (every change to its months this snapshot sees was visible to it), so it
# takes this snapshot: kept reports never hold the horizon back; so does a valid part.
# (One stored meanwhile from a later snapshot may not be re-stamped with an earlier one.)
# A part that recurring changes touched is not: its kept slices of the numbers they
# touched are not this snapshot's. It keeps its snapshot, and so the change rows naming
# those numbers, until it is built again (``service.rebuild_touched_parts``, hourly).
_RESTAMP = [
    text(
        f"UPDATE {table} {alias} SET snapshot = pg_current_snapshot()"  # noqa: S608
        f" WHERE pg_snapshot_xmax({alias}.snapshot) <= pg_snapshot_xmax(pg_current_snapshot())"
        f" AND {valid}"
    )
    for table, alias, valid in (
        ("cost_live_reports", "r", _VALID),
        ("cost_live_parts", "p", _PART_VALID),
    )
]
# The new horizon: no change at or above the oldest xmin of the reports and parts kept
# (they are valid: every change below it was visible to them), nor of any transaction
# running (its reports to come); never lower than before.
_RAISE_HORIZON = text(
    "UPDATE cost_live_horizon SET horizon = GREATEST(horizon, LEAST("
    " pg_snapshot_xmin(pg_current_snapshot()),"
    " (SELECT min(pg_snapshot_xmin(snapshot)) FROM cost_live_reports),"
    " (SELECT min(pg_snapshot_xmin(snapshot)) FROM cost_live_parts)))"
    " RETURNING horizon::text"
)
_DROP_CHANGES = text("DELETE FROM cost_live_changes WHERE xid < CAST(:horizon AS xid8)")


async def prune(engine: AsyncEngine, today: date) -> tuple[int, int]:
    """Delete the kept reports (and recurring parts) no longer served, re-stamp the
    others with a snapshot of now, and delete the change rows none kept (nor one being
    computed) needs: (reports, changes) deleted. A report or part stored later from a
    snapshot older than the new horizon is not served (its xmin is below it)."""
    oldest = Month.of(today - timedelta(days=1))  # the first month not rolled up
    async with engine.begin() as connection:
        await connection.execute(_LOCK_HORIZON)
        reports, _ = [
            (await connection.execute(drop, {"oldest": oldest.start})).rowcount for drop in _DROP
        ]
        for restamp in _RESTAMP:
            await connection.execute(restamp)
        horizon = (await connection.execute(_RAISE_HORIZON)).scalar_one()
        changes = (await connection.execute(_DROP_CHANGES, {"horizon": int(horizon)})).rowcount
    return reports, changes
