"""Reading past sync runs: newest first, keyset pagination, drift per run."""

from __future__ import annotations

import uuid
from collections import defaultdict

from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.db.models import SyncDrift, SyncRun
from app.db.vocabulary import OperationStatus
from app.lib.errors import NotFound
from app.lib.pagination import Keyset, Page, PageQuery
from app.lib.structs import from_row
from app.sync.diff import caller_names
from app.sync.schemas import DriftOut, SyncCounts, SyncRunOut, drift_values

#: Drift items shown per run in the list; the rest are at ``GET /v1/sync/runs/{id}``.
DRIFT_IN_LIST = 50
RUN_PAGES = Keyset(SyncRun.started_at, SyncRun.id, descending=True, limit=20, max_limit=100)
DRIFT_PAGES = Keyset(
    SyncDrift.id,
    limit=1000,
    max_limit=10_000,
    limit_name="drift_limit",
    cursor_name="drift_cursor",
    cursor_from="next_drift_cursor",
)


def _baseline_column() -> ColumnElement[bool]:
    """True for a run with no succeeded run before it (see ``diff.apply_diff``)."""
    earlier = aliased(SyncRun)
    return ~exists().where(
        earlier.status == OperationStatus.SUCCEEDED, earlier.started_at < SyncRun.started_at
    )


async def list_runs(session: AsyncSession, query: PageQuery) -> Page[SyncRunOut]:
    stmt = select(SyncRun, _baseline_column().label("baseline"))
    rows = (await session.execute(RUN_PAGES.select(stmt, query))).all()
    page = RUN_PAGES.page(rows, query, key=lambda row: (row.SyncRun.started_at, row.SyncRun.id))
    ids = [row.SyncRun.id for row in page.items]
    drift, totals = await _drift_heads(ids, DRIFT_IN_LIST, session)
    return page.map(
        lambda row: _run_out(row.SyncRun, row.baseline, drift.get(row.SyncRun.id, []), totals)
    )


async def get_run(session: AsyncSession, run_id: uuid.UUID, query: PageQuery) -> SyncRunOut:
    row = (
        await session.execute(
            select(SyncRun, _baseline_column().label("baseline")).where(SyncRun.id == run_id)
        )
    ).first()
    if row is None:
        raise NotFound(f"no sync run {run_id}", code="sync_run_not_found")
    stmt = select(SyncDrift).where(SyncDrift.run_id == run_id)
    drift_rows = (await session.scalars(DRIFT_PAGES.select(stmt, query))).all()
    page = DRIFT_PAGES.page(drift_rows, query).map(_drift_out)
    total = (
        await session.execute(select(func.count()).where(SyncDrift.run_id == run_id))
    ).scalar_one()
    run = _run_out(row.SyncRun, row.baseline, page.items, {run_id: total})
    run.next_drift_cursor = page.next_cursor
    return run


async def _drift_heads(
    run_ids: list[uuid.UUID], per_run: int, session: AsyncSession
) -> tuple[dict[uuid.UUID, list[DriftOut]], dict[uuid.UUID, int]]:
    """The first ``per_run`` drift items of each run, and each run's total, in two queries."""
    if not run_ids:
        return {}, {}
    ranked = (
        select(
            SyncDrift,
            func.row_number().over(partition_by=SyncDrift.run_id, order_by=SyncDrift.id).label("n"),
        )
        .where(SyncDrift.run_id.in_(run_ids))
        .subquery()
    )
    drift_alias = aliased(SyncDrift, ranked)
    heads = (
        (
            await session.execute(
                select(drift_alias).where(ranked.c.n <= per_run).order_by(ranked.c.id)
            )
        )
        .scalars()
        .all()
    )
    counted = await session.execute(
        select(SyncDrift.run_id, func.count())
        .where(SyncDrift.run_id.in_(run_ids))
        .group_by(SyncDrift.run_id)
    )
    totals: dict[uuid.UUID, int] = {run_id: count for run_id, count in counted.tuples()}
    grouped: dict[uuid.UUID, list[DriftOut]] = defaultdict(list)
    for item in heads:
        grouped[item.run_id].append(_drift_out(item))
    return grouped, totals


def _drift_out(row: SyncDrift) -> DriftOut:
    return from_row(
        DriftOut,
        row,
        before=drift_values(caller_names(row.before)),
        after=drift_values(caller_names(row.after)),
    )


def _run_out(
    run: SyncRun, baseline: bool, drift: list[DriftOut], totals: dict[uuid.UUID, int]
) -> SyncRunOut:
    skipped = run.fetched - run.added - run.changed - run.unchanged
    return SyncRunOut(
        id=run.id,
        started_at=run.started_at,
        finished_at=run.finished_at,
        status=run.status,  # type: ignore[arg-type]
        counts=from_row(
            SyncCounts,
            run,
            skipped=max(skipped, 0) if run.status == OperationStatus.SUCCEEDED else 0,
        ),
        drift=drift,
        drift_total=totals.get(run.id, 0),
        baseline=baseline and run.status == OperationStatus.SUCCEEDED,
        operation=run.operation_id,
        error=run.error_message,
    )
