"""``GET /v1/reports/idle-numbers``: thin HTTP over the report service."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from sqlalchemy.ext.asyncio import AsyncSession

from app.lib import params, query_parameters
from app.lib.auth import Principal
from app.lib.pagination import Page
from app.lib.query_parameters import page_schema
from app.numbers.mirror import berlin_today
from app.reports import service
from app.reports.schemas import IdleNumberOut

IdleNumberPage = Annotated[Page[IdleNumberOut], page_schema("IdleNumberPage")]


class ReportController(Controller):
    path = "/reports"
    tags = ["reports"]

    @get(
        "/idle-numbers",
        summary="Active numbers without inbound traffic: what could be released",
        description=(
            "Active numbers with no inbound SMS or call counted (seven's `sms_mo` webhooks,"
            " per Europe/Berlin day) in the last `days` days, today included, with their"
            " holder and monthly cost. A number on the account for less than `days` is not"
            " listed (it has not had the time to be used). A tenant key sees its own"
            " numbers. In number order; pass `next_cursor` back as `cursor`."
        ),
    )
    async def idle_numbers(
        self,
        db_session: AsyncSession,
        principal: Principal,
        days: Annotated[
            str | None, query_parameters.count_parameter(service.DEFAULT_DAYS, service.MAX_DAYS)
        ] = None,
        limit: Annotated[str | None, service.PAGES.limit_parameter] = None,
        cursor: Annotated[str | None, service.PAGES.cursor_parameter] = None,
    ) -> IdleNumberPage:
        query = service.IdleQuery(
            days=params.parse_count(
                days, "days", default=service.DEFAULT_DAYS, maximum=service.MAX_DAYS
            ),
            today=berlin_today(),
            page=service.PAGES.query(limit, cursor),
        )
        return await service.idle_numbers(db_session, principal, query)
