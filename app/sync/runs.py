"""Reading past sync runs: newest first, keyset pagination, drift per run."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Row, exists, func, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.db.models import SyncDrift, SyncRun
from app.lib.errors import InvalidInput, NotFound
from app.sync.schemas import DriftOut, SyncCounts, SyncRunOut, SyncRunPage

DEFAULT_RUNS = 20
MAX_RUNS = 100
#: Drift items shown per run in the list; the rest are at ``GET /v1/sync/runs/{id}``.
DRIFT_IN_LIST = 50
DEFAULT_DRIFT = 1000
MAX_DRIFT = 10_000


@dataclass(frozen=True, slots=True)
class RunsQuery:
    limit: int
    after: tuple[datetime, uuid.UUID] | None


@dataclass(frozen=True, slots=True)
class DriftQuery:
    limit: int
    after: int


def parse_limit(raw: str | None, *, name: str, default: int, maximum: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= maximum:
        raise InvalidInput(
            f"{name} must be a whole number from 1 to {maximum}",
            code=f"invalid_{name}",
            details={"parameter": name},
        )
    return value


def runs_query(limit: str | None, cursor: str | None) -> RunsQuery:
    after = None
    if cursor:
        try:
            started, _, run_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
            after = (datetime.fromisoformat(started), uuid.UUID(run_id))
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise InvalidInput(
                "cursor is not a next_cursor this endpoint gave",
                code="invalid_cursor",
                details={"parameter": "cursor"},
            ) from None
    return RunsQuery(
        limit=parse_limit(limit, name="limit", default=DEFAULT_RUNS, maximum=MAX_RUNS),
        after=after,
    )


def drift_query(limit: str | None, cursor: str | None) -> DriftQuery:
    after = 0
    if cursor:
        try:
            after = int(cursor)
        except ValueError:
            after = -1
        if after < 0:
            raise InvalidInput(
                "drift_cursor is not a next_drift_cursor this endpoint gave",
                code="invalid_drift_cursor",
                details={"parameter": "drift_cursor"},
            )
    return DriftQuery(
        limit=parse_limit(limit, name="drift_limit", default=DEFAULT_DRIFT, maximum=MAX_DRIFT),
        after=after,
    )


def _cursor(run: Row[tuple[SyncRun, bool]]) -> str:
    text = f"{run.SyncRun.started_at.isoformat()}|{run.SyncRun.id}"
    return base64.urlsafe_b64encode(text.encode()).decode()


def _baseline_column() -> ColumnElement[bool]:
    """True for a run with no succeeded run before it (see ``diff.apply_diff``)."""
    earlier = aliased(SyncRun)
    return ~exists().where(earlier.status == "succeeded", earlier.started_at < SyncRun.started_at)


async def list_runs(session: AsyncSession, query: RunsQuery) -> SyncRunPage:
    stmt = (
        select(SyncRun, _baseline_column().label("baseline"))
        .order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
        .limit(query.limit + 1)
    )
    if query.after is not None:
        started, run_id = query.after
        stmt = stmt.where(
            tuple_(SyncRun.started_at, SyncRun.id) < tuple_(literal(started), literal(run_id))
        )
    rows = (await session.execute(stmt)).all()
    page, more = rows[: query.limit], len(rows) > query.limit
    drift, totals = await _drift_heads([row.SyncRun.id for row in page], DRIFT_IN_LIST, session)
    items = [
        _run_out(row.SyncRun, row.baseline, drift.get(row.SyncRun.id, []), totals) for row in page
    ]
    return SyncRunPage(items=items, next_cursor=_cursor(page[-1]) if more else None)


async def get_run(session: AsyncSession, run_id: uuid.UUID, query: DriftQuery) -> SyncRunOut:
    row = (
        await session.execute(
            select(SyncRun, _baseline_column().label("baseline")).where(SyncRun.id == run_id)
        )
    ).first()
    if row is None:
        raise NotFound(f"no sync run {run_id}", code="sync_run_not_found")
    drift_rows = (
        (
            await session.execute(
                select(SyncDrift)
                .where(SyncDrift.run_id == run_id, SyncDrift.id > query.after)
                .order_by(SyncDrift.id)
                .limit(query.limit + 1)
            )
        )
        .scalars()
        .all()
    )
    page = drift_rows[: query.limit]
    total = (
        await session.execute(select(func.count()).where(SyncDrift.run_id == run_id))
    ).scalar_one()
    run = _run_out(row.SyncRun, row.baseline, [_drift_out(d) for d in page], {run_id: total})
    if len(drift_rows) > query.limit:
        run.next_drift_cursor = str(page[-1].id)
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
    return DriftOut(number=row.number, kind=row.kind, before=row.before, after=row.after)  # type: ignore[arg-type]


def _run_out(
    run: SyncRun, baseline: bool, drift: list[DriftOut], totals: dict[uuid.UUID, int]
) -> SyncRunOut:
    skipped = run.fetched - run.added - run.changed - run.unchanged
    return SyncRunOut(
        id=run.id,
        started_at=run.started_at,
        finished_at=run.finished_at,
        status=run.status,  # type: ignore[arg-type]
        counts=SyncCounts(
            fetched=run.fetched,
            added=run.added,
            changed=run.changed,
            removed=run.removed,
            unchanged=run.unchanged,
            skipped=max(skipped, 0) if run.status == "succeeded" else 0,
        ),
        drift=drift,
        drift_total=totals.get(run.id, 0),
        baseline=baseline and run.status == "succeeded",
        operation=run.operation_id,
        error=run.error_message,
    )
