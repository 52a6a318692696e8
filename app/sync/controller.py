"""``POST /v1/sync`` and ``GET /v1/sync/runs[/{id}]``: thin HTTP over the sync (admin only)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from arq import ArqRedis
from litestar import Controller, Request, Response, get, post
from sqlalchemy.ext.asyncio import AsyncSession

from app.lib.auth_middleware import admin_only
from app.lib.pagination import Page
from app.lib.query_parameters import page_schema
from app.lib.request_context import request_id_of
from app.operations.accepted import accepted
from app.operations.schemas import OperationOut
from app.sync import runs
from app.sync.schemas import SyncRunOut, SyncStart
from app.sync.service import request_sync

SyncRunPage = Annotated[Page[SyncRunOut], page_schema("SyncRunPage")]


class SyncController(Controller):
    path = "/sync"
    tags = ["sync"]
    # A tenant key gets 404, as for anything it may not see (the contract: never 403).
    guards = [admin_only]

    @post(
        "/",
        status_code=202,
        summary="Start a sync of the mirror with seven",
        description=(
            "Answers 202 with a `sync` operation (and its `Location`). If a sync is "
            "already running when this one starts, this one ends at once as `succeeded` "
            "without a run of its own: the running one covers it. The run a sync operation "
            "made lists the operation's id as `operation`. A number seven's list leaves "
            "out becomes `missing` (its holder kept) until a read of it at seven or a sync "
            "`SYNC_CONFIRM_MISSING_SECONDS` later confirms it gone. A run that would take "
            "more than `SYNC_MAX_REMOVED_SHARE` (default 0.5) of the mirror's live numbers "
            "off the account (`missing`, or `deleted` after being missed long enough) "
            "without one of our deletes explaining it writes nothing and fails with the "
            "code `sync_guard_tripped` (seven answering with a short or empty list must not "
            'release every number); the body `{"force": true}` applies such a run. '
            "The body is optional."
        ),
    )
    async def start_sync(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        queue: ArqRedis,
        data: SyncStart | None = None,
    ) -> Response[OperationOut]:
        force = data is not None and data.force
        operation = await request_sync(db_session, request_id_of(request.scope), force=force)
        return await accepted(db_session, queue, operation)

    @get(
        "/runs",
        summary="Past sync runs, newest first",
        description=(
            f"Each run shows its first {runs.DRIFT_IN_LIST} drift items and `drift_total`; "
            "`GET /v1/sync/runs/{id}` pages through all of them."
        ),
    )
    async def list_runs(
        self,
        db_session: AsyncSession,
        limit: Annotated[str | None, runs.RUN_PAGES.limit_parameter] = None,
        cursor: Annotated[str | None, runs.RUN_PAGES.cursor_parameter] = None,
    ) -> SyncRunPage:
        return await runs.list_runs(db_session, runs.RUN_PAGES.query(limit, cursor))

    @get("/runs/{run_id:uuid}", summary="One sync run with all its drift, paginated")
    async def get_run(
        self,
        db_session: AsyncSession,
        run_id: uuid.UUID,
        drift_limit: Annotated[str | None, runs.DRIFT_PAGES.limit_parameter] = None,
        drift_cursor: Annotated[str | None, runs.DRIFT_PAGES.cursor_parameter] = None,
    ) -> SyncRunOut:
        query = runs.DRIFT_PAGES.query(drift_limit, drift_cursor)
        return await runs.get_run(db_session, run_id, query)
