"""``GET /v1/numbers``, ``GET /v1/numbers/{number}`` and ``PUT /v1/numbers/{number}/tags``:
thin HTTP over the read service and the tags verb; ``PUT``/``DELETE
/v1/numbers/{number}/deletion-lock`` (admin) over app.numbers.locks."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, MediaType, Request, delete, get, put
from litestar.datastructures import State
from litestar.openapi import ResponseSpec
from litestar.params import PathParameter
from litestar.response.base import ASGIResponse
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.dependencies import ACTOR_DEPENDENCY
from app.audit.service import Actor
from app.db.vocabulary import NumberState
from app.lib import params, query_parameters
from app.lib.auth import Principal
from app.lib.auth_middleware import admin_only
from app.lib.error_answers import error_responses
from app.lib.pagination import Page
from app.lib.query_parameters import TAG_FILTER, page_schema
from app.lib.tags import Tags, parse_tag_filters
from app.numbers import locks, service
from app.numbers.query import MAX_Q_LENGTH, NumberQuery
from app.numbers.schemas import DeletionLockSet, NumberOut, number_out
from app.numbers.tags import replace_tags

NumberPage = Annotated[Page[NumberOut], page_schema("NumberPage")]

_STATE = query_parameters.choice_parameter(
    "ordering, active, deleting, missing (absent from seven's last list, not yet confirmed"
    " gone; its holder is kept), deleted or failed",
    tuple(NumberState),
    name="state",
)


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
        # The body is a NumberPage assembled from the cache's encoded numbers.
        responses={
            200: ResponseSpec(
                NumberPage,
                generate_examples=False,
                description="Request fulfilled, document follows",
            )
        },
    )
    async def list_numbers(
        self,
        # The request, not the ``state`` and ``principal`` dependencies (see get_number).
        request: Request[Principal, Any, State],
        # Every parameter arrives as text and is checked by app.lib.params, so each bad
        # value answers 422 with a code that names it (invalid_country, ...).
        country: Annotated[str | None, query_parameters.COUNTRY] = None,
        feature: Annotated[list[str] | None, query_parameters.FEATURE] = None,
        # seven's spelling, as the search takes it; filters the same as ``feature``.
        features_sms: Annotated[str | None, query_parameters.feature_flag_parameter("sms")] = None,
        features_a2p_sms: Annotated[
            str | None, query_parameters.feature_flag_parameter("a2p_sms")
        ] = None,
        features_voice: Annotated[
            str | None, query_parameters.feature_flag_parameter("voice")
        ] = None,
        tenant: Annotated[str | None, query_parameters.uuid_parameter("Tenant id")] = None,
        pool: Annotated[str | None, query_parameters.uuid_parameter("Pool id")] = None,
        # "state" is a reserved name in Litestar handlers; the query parameter keeps it.
        number_state: Annotated[str | None, _STATE] = None,
        q: Annotated[
            str | None,
            query_parameters.text_parameter(
                "Substring of the number or the friendly name", MAX_Q_LENGTH
            ),
        ] = None,
        tag: Annotated[list[str] | None, TAG_FILTER] = None,
        limit: Annotated[str | None, service.PAGES.limit_parameter] = None,
        cursor: Annotated[str | None, service.PAGES.cursor_parameter] = None,
    ) -> ASGIResponse:
        state, principal = request.app.state, request.user
        query = NumberQuery(
            country=params.parse_country(country),
            features=params.parse_feature_filter(
                feature,
                {"sms": features_sms, "a2p_sms": features_a2p_sms, "voice": features_voice},
            ),
            tenant=params.parse_uuid(tenant, "tenant"),
            pool=params.parse_uuid(pool, "pool"),
            state=params.parse_choice(number_state, "state", tuple(NumberState)),
            q=params.parse_text(q, "q", max_length=MAX_Q_LENGTH),
            tags=parse_tag_filters(tag),
            page=service.PAGES.query(limit, cursor),
        )
        body = await service.page_document(state.engine, state.number_cache, principal, query)
        return ASGIResponse(body=body, media_type=MediaType.JSON)

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
        # take: resolving them is a measurable share of a read served from memory.
        request: Request[Principal, Any, State],
        number: Annotated[str, PathParameter(description="The number, in any written form")],
    ) -> ASGIResponse:
        state, principal = request.app.state, request.user
        cache = state.number_cache
        # Written exactly as the mirror stores it (digits, country code first), a number
        # the cache holds is its own answer: libphonenumber's parse, dear next to a
        # read from memory, is for every other written form and for numbers not cached.
        held = cache.document(number)
        digits = number if held is not None else params.parse_number(number)
        body = await service.number_document(state.engine, cache, principal, digits, held)
        # An ASGIResponse, not a Response: nothing to encode or resolve, so Litestar's
        # response building is skipped.
        return ASGIResponse(body=body, media_type=MediaType.JSON)


class NumberTagsController(Controller):
    path = "/numbers"
    tags = ["numbers"]
    dependencies = ACTOR_DEPENDENCY

    @put(
        "/{number:str}/tags",
        summary="Replace a number's tags",
        description=(
            "The body is the whole set, key -> value (`{}` removes every tag): keys 1 to 64"
            " of a-z 0-9 _ . -, values 1 to 200 characters, at most 50. The service's own"
            " labels, never sent to seven: no operation, the answer is the number as read"
            " from now on. An admin, or the tenant holding the number (any other: 404)."
            " Audited (`number.tags`); a `number.updated` event."
        ),
        responses={200: ResponseSpec(NumberOut, generate_examples=False, description="The number")},
    )
    async def put_tags(
        self,
        db_session: AsyncSession,
        actor: Actor,
        number: Annotated[str, PathParameter(description="The number, in any written form")],
        data: Tags,
    ) -> NumberOut:
        digits = params.parse_number(number)
        return await replace_tags(db_session, actor, digits, data)


_NUMBER = PathParameter(description="The number, in any written form")


class DeletionLockController(Controller):
    path = "/numbers/{number:str}/deletion-lock"
    guards = [admin_only]
    dependencies = ACTOR_DEPENDENCY
    tags = ["numbers"]

    @put(
        "/",
        summary="Lock a number against deletion (admin)",
        description=(
            "Until the lock is lifted, every `DELETE /v1/numbers/{number}` answers 409 "
            "`deletion_locked` (an admin's too), naming who locked it, when and why. Locking "
            "a locked number replaces its lock. The body is optional. 409 `number_deleting` "
            "or `deletion_pending` when a deletion is already under way (a lock could not "
            "stop it), `number_deleted` or `number_not_active` for a number not on the "
            "account. A lock binds this service only, not seven."
        ),
        responses=error_responses(409),
    )
    async def lock(
        self,
        db_session: AsyncSession,
        actor: Actor,
        number: Annotated[str, _NUMBER],
        data: DeletionLockSet | None = None,
    ) -> NumberOut:
        reason = data.reason if data is not None else None
        return number_out(await locks.lock(db_session, actor, number, reason))

    @delete(
        "/",
        status_code=200,
        summary="Lift a number's deletion lock (admin)",
        description="The number without its lock; a number without one is left as it is.",
    )
    async def unlock(
        self, db_session: AsyncSession, actor: Actor, number: Annotated[str, _NUMBER]
    ) -> NumberOut:
        return number_out(await locks.unlock(db_session, actor, number))
