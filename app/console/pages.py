"""The console's pages (GET): each reads through the same services as its ``/v1`` route,
with the signed-in key's tenancy, so a tenant key sees exactly what its API sees."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from litestar.di import Provide
from litestar.response import Template
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.console import overview
from app.console.chart import Bar, bar_chart
from app.console.sessions import CSRF_BYTES
from app.console.web import (
    SIGN_IN_COOKIE,
    Caller,
    SignInRequired,
    admin_only,
    cookie_secure,
    page,
    provide_caller,
)
from app.costs import service as costs
from app.costs.controller import parse_group_by_param, parse_month, tenant_scope
from app.costs.limits import take_report_slot
from app.costs.model import TAG_PREFIX, Basis, GroupBy, Month
from app.costs.rendered import row_cells
from app.db.models import Number
from app.db.vocabulary import IN_FLIGHT, NumberState, OperationStatus
from app.lib import params
from app.lib.errors import InvalidInput, NotFound
from app.lib.money import money
from app.lib.pagination import PageQuery
from app.numbers import service as numbers
from app.numbers.query import MAX_Q_LENGTH, NumberQuery
from app.operations import reads
from app.operations.schemas import OperationOut
from app.pools import service as pools
from app.settings import Settings
from app.sync import runs
from app.tenants import service as tenants

FORECAST_MONTHS = 3
RECENT_OPERATIONS = 50
# How often the operations page reloads itself while an operation is pending.
REFRESH_SECONDS = 3


def number_digits(number: str) -> str:
    """The number as the mirror stores it; a number that cannot be one is not found."""
    try:
        return params.parse_number(number)
    except InvalidInput:
        raise _no_such_number() from None


def _no_such_number() -> NotFound:
    """One page for a number that does not exist, is another tenant's or is no number."""
    return NotFound("There is no such number.", code="number_not_found")


async def visible_number(state: State, caller: Caller, number: str) -> dict[str, Any]:
    """The number as ``GET /v1/numbers/{number}`` shows it to the caller."""
    digits = number_digits(number)
    try:
        document = await numbers.number_document(
            state.engine, state.number_cache, caller.principal, digits
        )
    except NotFound:
        raise _no_such_number() from None
    found: dict[str, Any] = msgspec.json.decode(document)
    return found


@dataclass(frozen=True, slots=True)
class CostsQuery:
    month: Month
    basis: Basis
    group_by: GroupBy
    tag: str | None = None

    @property
    def grouping(self) -> str:
        """``group_by`` as written in a URL: ``tag:<key>`` for a tag's."""
        return f"{TAG_PREFIX}{self.tag}" if self.tag is not None else str(self.group_by)


#: The groupings that need no key; a tag's is offered for each key in use.
GROUPINGS = tuple(str(grouping) for grouping in GroupBy if grouping is not GroupBy.TAG)


def _costs_query(month: str | None, basis: str | None, group_by: str | None) -> CostsQuery:
    grouping, tag = parse_group_by_param(group_by)
    return CostsQuery(
        parse_month(month),
        Basis(params.parse_choice(basis, "basis", tuple(Basis)) or "cash"),
        grouping,
        tag,
    )


async def _report_scope(
    session: AsyncSession, caller: Caller, settings: Settings
) -> uuid.UUID | None:
    """The tenant whose days ``GET /v1/costs`` shows this key, holding one of its report
    slots."""
    tenant = tenant_scope(caller.principal)
    await take_report_slot(session, caller.principal, settings.cost_reports_per_key)
    return tenant


class ConsolePages(Controller):
    path = "/"
    dependencies = {"caller": Provide(provide_caller)}
    include_in_schema = False

    @get("/")
    async def overview_or_sign_in(
        self, request: Request[Any, Any, State], db_session: AsyncSession
    ) -> Template:
        """Signed in: the overview; otherwise the sign-in form."""
        try:
            caller = await provide_caller(request)
        except SignInRequired:
            return sign_in_page(request)
        return await _overview(db_session, caller)

    @get("/costs")
    async def costs_page(
        self,
        db_session: AsyncSession,
        caller: Caller,
        settings: Settings,
        month: str | None = None,
        basis: str | None = None,
        group_by: str | None = None,
    ) -> Template:
        query = _costs_query(month, basis, group_by)
        tenant = await _report_scope(db_session, caller, settings)
        report = await costs.cost_report(
            db_session, query.month, query.basis, query.group_by, tenant, query.tag
        )
        forecast = await costs.forecast(
            db_session, FORECAST_MONTHS, costs.berlin_today(), tenant_scope(caller.principal)
        )
        bars = [Bar(row.name or row.key, row.total, money(row.total)) for row in report.rows]
        forecast_bars = [Bar(m.month, m.total, money(m.total)) for m in forecast]
        return page(
            "costs.html",
            caller,
            query=query,
            rows=[row_cells(row) for row in report.rows],
            totals=row_cells(report.totals),
            chart=bar_chart(bars, f"Total cost by {query.grouping}, {query.month}"),
            forecast=forecast,
            forecast_chart=bar_chart(forecast_bars, "Forecast of cash charges"),
            bases=tuple(Basis),
            groupings=(
                *GROUPINGS,
                *(
                    f"{TAG_PREFIX}{key}"
                    for key in await costs.tag_keys(db_session, tenant_scope(caller.principal))
                ),
            ),
        )

    @get("/costs.csv")
    async def costs_csv(
        self,
        db_session: AsyncSession,
        caller: Caller,
        settings: Settings,
        month: str | None = None,
        basis: str | None = None,
        group_by: str | None = None,
    ) -> Response[bytes]:
        """Exactly the table the costs page shows, as ``GET /v1/costs`` writes its CSV."""
        query = _costs_query(month, basis, group_by)
        tenant = await _report_scope(db_session, caller, settings)
        answer = await costs.cost_answer(
            db_session, query.month, query.basis, query.group_by, tenant, query.tag, as_csv=True
        )
        name = f"costs-{query.month}-{query.basis}-by-{query.grouping.replace(':', '-')}.csv"
        return Response(
            answer.csv,
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @get("/numbers")
    async def numbers_page(
        self,
        state: State,
        caller: Caller,
        country: str | None = None,
        number_state: str | None = None,
        q: str | None = None,
        cursor: str | None = None,
    ) -> Template:
        query = NumberQuery(
            country=params.parse_country(country),
            state=params.parse_choice(number_state, "state", tuple(NumberState)),
            q=params.parse_text(q, "q", max_length=MAX_Q_LENGTH),
            page=numbers.PAGES.query(None, cursor),
        )
        async with numbers.reading(state.engine) as connection:
            found = await numbers.list_numbers(connection, caller.principal, query)
        return page(
            "numbers.html",
            caller,
            found=found,
            query=query,
            states=tuple(NumberState),
            first_page=cursor is None,
        )

    @get("/numbers/{number:str}")
    async def number_page(
        self, state: State, db_session: AsyncSession, caller: Caller, number: str
    ) -> Template:
        shown = await visible_number(state, caller, number)
        digits = shown["number"]
        held = await pools.list_allocations(
            db_session, caller.principal, number=digits, current=False
        )
        operations = await reads.list_operations(
            db_session,
            caller.principal,
            reads.OperationQuery(page=PageQuery(limit=RECENT_OPERATIONS), number=digits),
        )
        return page(
            "number.html",
            caller,
            number=shown,
            held=held,
            operations=operations.items,
        )

    @get("/numbers/{number:str}/release")
    async def confirm_release(self, state: State, caller: Caller, number: str) -> Template:
        return await _confirmation(state, caller, number, "release")

    @get("/numbers/{number:str}/delete")
    async def confirm_delete(self, state: State, caller: Caller, number: str) -> Template:
        return await _confirmation(state, caller, number, "delete")

    @get("/operations")
    async def operations_page(
        self,
        db_session: AsyncSession,
        caller: Caller,
        status: str | None = None,
        cursor: str | None = None,
    ) -> Template:
        query = reads.OperationQuery(
            status=params.parse_choice(status, "status", tuple(OperationStatus)),
            page=reads.PAGES.query(None, cursor),
        )
        found = await reads.list_operations(db_session, caller.principal, query)
        pending = any(operation.status in IN_FLIGHT for operation in found.items)
        return page(
            "operations.html",
            caller,
            found=found,
            status=query.status,
            statuses=tuple(OperationStatus),
            refresh=REFRESH_SECONDS if pending else None,
        )

    @get("/pools")
    async def pools_page(self, db_session: AsyncSession, caller: Caller) -> Template:
        admin_only(caller)
        found = await pools.list_pools(db_session)
        counts = await pools.pool_counts(db_session, [pool.id for pool in found])
        allocations = await pools.list_allocations(db_session, caller.principal)
        return page(
            "pools.html",
            caller,
            pools=[(pool, counts.get(pool.id, pools.PoolCounts())) for pool in found],
            allocations=allocations,
        )

    @get("/tenants")
    async def tenants_list(self, db_session: AsyncSession, caller: Caller) -> Template:
        admin_only(caller)
        return await tenants_page(db_session, caller)


async def _confirmation(state: State, caller: Caller, number: str, action: str) -> Template:
    """The confirmation step of a release or a deletion (admin): it names the number and
    its monthly cost, and its form posts to the same path."""
    admin_only(caller)
    shown = await visible_number(state, caller, number)
    return page("confirm.html", caller, action=action, number=shown)


async def tenants_page(
    session: AsyncSession, caller: Caller, issued: tuple[uuid.UUID | None, str] | None = None
) -> Template:
    """The tenants with their keys; ``issued``, a key just issued (its owner and plaintext),
    is shown this once."""
    keys = await tenants.list_keys(session)
    by_tenant: dict[uuid.UUID | None, list[Any]] = {}
    for key in keys:
        by_tenant.setdefault(key.tenant_id, []).append(key)
    return page(
        "tenants.html",
        caller,
        tenants=await tenants.list_tenants(session),
        keys=by_tenant,
        issued=issued,
    )


async def _overview(session: AsyncSession, caller: Caller) -> Template:
    principal = caller.principal
    in_flight: list[OperationOut] = []
    for status in IN_FLIGHT:
        query = reads.OperationQuery(page=PageQuery(limit=RECENT_OPERATIONS), status=status)
        in_flight += (await reads.list_operations(session, principal, query)).items
    failed_query = reads.OperationQuery(
        page=PageQuery(limit=RECENT_OPERATIONS), status=OperationStatus.FAILED
    )
    now = await session.scalar(select(func.now()))
    assert now is not None
    failed = [
        operation
        for operation in (await reads.list_operations(session, principal, failed_query)).items
        if operation.updated_at > now - timedelta(days=1)
    ]
    last_sync = None
    if principal.is_admin:
        last_runs = await runs.list_runs(session, PageQuery(limit=1))
        last_sync = last_runs.items[0] if last_runs.items else None
    return page(
        "overview.html",
        caller,
        by_state=await overview.numbers_by(session, principal, Number.state),
        by_country=await overview.numbers_by(session, principal, Number.country),
        by_pool=await overview.numbers_by_pool(session) if principal.is_admin else None,
        in_flight=in_flight,
        failed=failed,
        last_sync=last_sync,
        failed_deliveries=await overview.failed_deliveries(session, principal),
    )


def sign_in_page(
    request: Request[Any, Any, State], status_code: int = 200, problem: str | None = None
) -> Template:
    """The sign-in form, with a fresh CSRF token in it and in its cookie."""
    token = secrets.token_urlsafe(CSRF_BYTES)
    response = page("sign_in.html", None, status_code=status_code, csrf=token, problem=problem)
    response.set_cookie(
        SIGN_IN_COOKIE,
        token,
        path="/console",
        httponly=True,
        samesite="strict",
        secure=cookie_secure(request),
    )
    return response
