"""``GET /v1/numbers`` and ``GET /v1/numbers/{number}``: thin HTTP over the read service."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, MediaType, Request, get
from litestar.datastructures import State
from litestar.openapi import ResponseSpec
from litestar.params import PathParameter, QueryParameter
from litestar.response.base import ASGIResponse

from app.lib.auth import Principal
from app.numbers import service
from app.numbers.params import number_query, parse_number
from app.numbers.schemas import NumberOut, NumberPage


class NumberReadController(Controller):
    path = "/numbers"
    tags = ["numbers"]

    @get(
        "/",
        summary="The mirror, filtered and paginated",
        description=(
            "Ordered by number. Pass `next_cursor` back as `cursor` for the next page; it "
            "is null on the last one. Pages stay stable while numbers are added."
        ),
    )
    async def list_numbers(
        self,
        state: State,
        principal: Principal,
        # Every parameter arrives as text and is checked by app.numbers.params, so each
        # bad value answers 422 with a code that names it (invalid_country, ...).
        country: Annotated[str | None, QueryParameter(description="ISO 3166-1 alpha-2")] = None,
        feature: Annotated[
            list[str] | None,
            QueryParameter(description="Repeatable: sms, a2p_sms, voice (all must be present)"),
        ] = None,
        tenant: Annotated[str | None, QueryParameter(description="Tenant id")] = None,
        pool: Annotated[str | None, QueryParameter(description="Pool id")] = None,
        # "state" is a reserved name in Litestar handlers; the query parameter keeps it.
        number_state: Annotated[
            str | None,
            QueryParameter(
                name="state",
                description=(
                    "ordering, active, deleting, missing (absent from seven's last list, not"
                    " yet confirmed gone; its holder is kept), deleted or failed"
                ),
            ),
        ] = None,
        q: Annotated[
            str | None, QueryParameter(description="Substring of the number or the friendly name")
        ] = None,
        limit: Annotated[str | None, QueryParameter(description="1 to 500, default 50")] = None,
        cursor: Annotated[
            str | None, QueryParameter(description="next_cursor of the previous page")
        ] = None,
    ) -> NumberPage:
        query = number_query(
            country=country,
            feature=feature,
            tenant=tenant,
            pool=pool,
            state=number_state,
            q=q,
            limit=limit,
            cursor=cursor,
        )
        async with service.reading(state.engine) as connection:
            return await service.list_numbers(connection, principal, query)

    @get(
        "/{number:str}",
        summary="One number from the mirror",
        description="Any common written form: `+49 151 702 648 38`, `004915170264838`, ...",
        # The body is a NumberOut, encoded once and kept in the process's cache.
        responses={
            200: ResponseSpec(
                NumberOut,
                generate_examples=False,
                description="Request fulfilled, document follows",
            )
        },
    )
    async def get_number(
        self,
        # The request, not the ``state`` and ``principal`` dependencies the other routes
        # take: resolving them was ~6 % of a cached read.
        request: Request[Principal, Any, State],
        number: Annotated[str, PathParameter(description="The number, in any written form")],
    ) -> ASGIResponse:
        state, principal = request.app.state, request.user
        cache = state.number_cache
        # Written exactly as the mirror stores it (digits, country code first), a number
        # the cache holds is its own answer: libphonenumber's parse (~30 us, a tenth of
        # the read) is for every other written form, and for numbers not cached.
        digits = number if number in cache else parse_number(number)
        body = await service.number_document(state.engine, cache, principal, digits)
        # An ASGIResponse, not a Response: nothing to encode or resolve, so Litestar's
        # response building (~7 % of a cached read) is skipped.
        return ASGIResponse(body=body, media_type=MediaType.JSON)
