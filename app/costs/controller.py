"""``GET /v1/costs`` and ``GET /v1/costs/forecast``: validate, scope to the caller, take one
of the caller's report slots (app.costs.limits), render."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, MediaType, Request, Response, get
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from sqlalchemy.ext.asyncio import AsyncSession

from app.costs import service
from app.costs.limits import take_report_slot
from app.costs.model import TAG_PREFIX, Basis, GroupBy, Month, parse_group_by
from app.costs.schemas import REPORT_EXAMPLE, CostReportOut, ForecastOut, forecast_out, report_json
from app.lib import params, query_parameters
from app.lib.auth import Principal
from app.lib.error_answers import error_responses
from app.lib.errors import NotFound
from app.lib.openapi import AlsoCsv
from app.lib.tags import KEY_PATTERN
from app.settings import Settings


def tenant_scope(principal: Principal) -> uuid.UUID | None:
    """None (everything) for an admin; a tenant key sees only its tenant's days."""
    if principal.is_admin:
        return None
    if principal.tenant_id is None:  # a check constraint forbids it; fail closed anyway
        raise NotFound("Nothing here.")
    return principal.tenant_id


def parse_month(month: str | None) -> Month:
    """``YYYY-MM``; not given, the current month in Europe/Berlin (seven bills in
    Germany), as the CLI's ``costs`` reads it too."""
    if params.given(month) is None:
        return Month.of(service.berlin_today())
    try:
        return Month.parse(month or "")
    except ValueError:
        raise params.invalid(
            "month", month or "", "a calendar month written YYYY-MM, such as 2026-03"
        ) from None


# The groupings written as themselves; a tag's is ``tag:<key>``.
_PLAIN_GROUPINGS = tuple(grouping for grouping in GroupBy if grouping != GroupBy.TAG)
_EXPECTED_GROUP_BY = f"one of {', '.join(_PLAIN_GROUPINGS)}, or tag:<key> such as tag:cost_center"


def parse_group_by_param(group_by: str | None) -> tuple[GroupBy, str | None]:
    """``group_by`` as the API reads it: the grouping and, for a tag, its key; 422 else."""
    value = params.given(group_by)
    if value is None:
        return GroupBy.TENANT, None
    # Groupings in any case, as every choice is read; a tag's key as written.
    lowered = value.lower()
    if lowered.startswith(TAG_PREFIX):
        lowered = TAG_PREFIX + value[len(TAG_PREFIX) :]
    try:
        return parse_group_by(lowered)
    except ValueError:
        raise params.invalid("group_by", value, _EXPECTED_GROUP_BY) from None


def _wants_csv(request: Request[Any, Any, Any]) -> bool:
    return request.accept.best_match([MediaType.JSON, "text/csv"]) == "text/csv"


class CostController(Controller):
    path = "/costs"
    tags = ["costs"]

    @get(
        "/",
        summary="What the numbers cost in a month, grouped by tenant, pool, country, number or tag",
        operation_class=AlsoCsv,
        responses={
            200: ResponseSpec(
                CostReportOut,
                description="The report (or CSV)",
                # A real-looking report instead of generated random strings and amounts.
                generate_examples=False,
                examples=[Example(summary="By country", value=msgspec.to_builtins(REPORT_EXAMPLE))],
            ),
            **error_responses(429),
        },
    )
    async def report(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        principal: Principal,
        settings: Settings,
        month: Annotated[
            str | None,
            query_parameters.month_parameter(
                "YYYY-MM; default: the current month in Europe/Berlin"
            ),
        ] = None,
        group_by: Annotated[
            str | None,
            query_parameters.choice_or_pattern_parameter(
                "One row per tenant, pool, country or number; or per value of a tag,"
                " `tag:<key>` (such as `tag:cost_center`): the number's own tag, else the"
                " tag of the tenant holding it on those days, else `untagged`",
                _PLAIN_GROUPINGS,
                rf"^{TAG_PREFIX}{KEY_PATTERN}$",
                default="tenant",
            ),
        ] = None,
        basis: Annotated[
            str | None,
            query_parameters.choice_parameter(
                "cash: each charge in the month of its billing day; accrual: spread over the"
                " days it pays for",
                tuple(Basis),
                default="cash",
            ),
        ] = None,
    ) -> Response[Any]:
        """``Accept: text/csv`` answers the same rows as CSV, the totals as the last row."""
        parsed = parse_month(month)
        grouping, tag = parse_group_by_param(group_by)
        chosen = Basis(params.parse_choice(basis, "basis", tuple(Basis)) or "cash")
        tenant = tenant_scope(principal)
        await take_report_slot(db_session, principal, settings.cost_reports_per_key)
        as_csv = _wants_csv(request)
        result = await service.cost_answer(
            db_session, parsed, chosen, grouping, tenant, tag, as_csv=as_csv
        )
        if as_csv:
            # Litestar appends "; charset=utf-8" to text/* itself.
            return Response(result.csv, media_type="text/csv")
        return Response(
            report_json(str(parsed), chosen, grouping, result, tag), media_type=MediaType.JSON
        )

    @get(
        "/forecast",
        summary="Cash charges to come, from the mirror as it is now",
        responses=error_responses(429),
    )
    async def forecast(
        self,
        db_session: AsyncSession,
        principal: Principal,
        settings: Settings,
        months: Annotated[
            str | None, query_parameters.count_parameter(12, service.MAX_FORECAST_MONTHS)
        ] = None,
    ) -> ForecastOut:
        count = params.parse_count(
            months, "months", default=12, maximum=service.MAX_FORECAST_MONTHS
        )
        tenant = tenant_scope(principal)
        await take_report_slot(db_session, principal, settings.cost_reports_per_key)
        found = await service.forecast(db_session, count, service.berlin_today(), tenant)
        return forecast_out(found)
