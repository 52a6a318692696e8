"""The console's forms (POST): each checks its CSRF token, then calls the service the
``/v1`` route calls, as the signed-in key (audited and announced the same way), and sends
the browser on to a page (303), except a new key, which is shown this once."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from arq import ArqRedis
from litestar import Controller, Request, post
from litestar.datastructures import State
from litestar.di import Provide
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from app.console import sessions
from app.console.pages import number_digits, sign_in_page, tenants_page
from app.console.web import (
    PREFIX,
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    Caller,
    admin_only,
    cookie_secure,
    form_of,
    provide_caller,
    see_other,
)
from app.db.vocabulary import KeyScope
from app.lib.params import invalid
from app.lib.queue import commit_and_enqueue
from app.numbers import locks
from app.numbers.schemas import MAX_LOCK_REASON_LENGTH
from app.operations import service as operations
from app.operations.params import DeleteParams
from app.pools.releasing import release_and_announce
from app.tenants import service as tenants


class ConsoleActions(Controller):
    path = "/"
    dependencies = {"caller": Provide(provide_caller)}
    include_in_schema = False

    @post("/sign-in", status_code=303)
    async def sign_in(self, request: Request[Any, Any, State]) -> Template | Redirect:
        cookie_token = request.cookies.get(SIGN_IN_COOKIE, "")
        # The sign-in form's token is checked against its cookie (no session yet).
        form = await form_of(request, cookie_token) if cookie_token else None
        key = (form or {}).get("key", "").strip()
        if form is None or not key:
            problem = "Enter an API key." if form is not None else "Reload the page and try again."
            return sign_in_page(request, 422, problem)
        state = request.app.state
        settings = state.settings
        opened = await sessions.sign_in(
            state.sessions,
            key,
            settings.admin_api_key,
            timedelta(hours=settings.console_session_hours),
        )
        if opened is None:
            return sign_in_page(request, 401, "That key is not valid or has been revoked.")
        redirect = see_other(PREFIX)
        redirect.set_cookie(
            SESSION_COOKIE,
            opened.session_id,
            path=PREFIX,
            max_age=settings.console_session_hours * 3600,
            httponly=True,
            samesite="strict",
            secure=cookie_secure(request),
        )
        redirect.delete_cookie(SIGN_IN_COOKIE, path=PREFIX)
        return redirect

    @post("/sign-out", status_code=303)
    async def sign_out(self, request: Request[Any, Any, State], caller: Caller) -> Redirect:
        await form_of(request, caller.csrf_token)
        await sessions.sign_out(request.app.state.sessions, request.cookies[SESSION_COOKIE])
        redirect = see_other(PREFIX)
        redirect.delete_cookie(SESSION_COOKIE, path=PREFIX)
        return redirect

    @post("/numbers/{number:str}/release", status_code=303)
    async def release(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        queue: ArqRedis,
        caller: Caller,
        number: str,
    ) -> Redirect:
        """As ``DELETE /v1/allocations/{number}``."""
        _, digits = await _admin_form_on(request, caller, number)
        await release_and_announce(db_session, caller.actor, queue, digits)
        return see_other(f"{PREFIX}/numbers/{digits}")

    @post("/numbers/{number:str}/delete", status_code=303)
    async def delete(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        queue: ArqRedis,
        caller: Caller,
        number: str,
    ) -> Redirect:
        """As ``DELETE /v1/numbers/{number}`` (at the end of the paid period)."""
        _, digits = await _admin_form_on(request, caller, number)
        submitted = await operations.submit_change(
            db_session, caller.actor, digits, DeleteParams(), None
        )
        await commit_and_enqueue(db_session, queue, submitted.operation)
        return see_other(f"{PREFIX}/numbers/{digits}")

    @post("/numbers/{number:str}/lock", status_code=303)
    async def lock(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        caller: Caller,
        number: str,
    ) -> Redirect:
        """As ``PUT /v1/numbers/{number}/deletion-lock``, the reason optional."""
        form, digits = await _admin_form_on(request, caller, number)
        reason = form.get("reason", "").strip() or None
        if reason is not None and len(reason) > MAX_LOCK_REASON_LENGTH:
            raise invalid("reason", reason, f"at most {MAX_LOCK_REASON_LENGTH} characters")
        await locks.lock(db_session, caller.actor, digits, reason)
        return see_other(f"{PREFIX}/numbers/{digits}")

    @post("/numbers/{number:str}/unlock", status_code=303)
    async def unlock(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        caller: Caller,
        number: str,
    ) -> Redirect:
        """As ``DELETE /v1/numbers/{number}/deletion-lock``."""
        _, digits = await _admin_form_on(request, caller, number)
        await locks.unlock(db_session, caller.actor, digits)
        return see_other(f"{PREFIX}/numbers/{digits}")

    @post("/tenants/{tenant_id:uuid}/keys", status_code=200)
    async def issue_key(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        caller: Caller,
        tenant_id: uuid.UUID,
    ) -> Template:
        """As ``POST /v1/tenants/{id}/keys``: the page shows the new key this once."""
        admin_only(caller)
        form = await form_of(request, caller.csrf_token)
        _, plaintext = await tenants.issue_key(
            db_session, caller.actor, KeyScope.TENANT, tenant_id, form.get("name", "")
        )
        return await tenants_page(db_session, caller, issued=(tenant_id, plaintext))

    @post("/keys/{key_id:uuid}/revoke", status_code=303)
    async def revoke_key(
        self,
        request: Request[Any, Any, Any],
        state: State,
        db_session: AsyncSession,
        caller: Caller,
        key_id: uuid.UUID,
    ) -> Redirect:
        """As ``DELETE /v1/keys/{id}`` (committed, then dropped by every API process's
        key cache before the answer); the key's console sessions end with it."""
        admin_only(caller)
        await form_of(request, caller.csrf_token)
        await tenants.revoke_key_at_once(
            db_session, caller.actor, key_id, state.settings.database_url
        )
        return see_other(f"{PREFIX}/tenants")


async def _admin_form_on(
    request: Request[Any, Any, Any], caller: Caller, number: str
) -> tuple[dict[str, str], str]:
    """An admin's form about one number: its fields once the CSRF token matches, and the
    number's digits (a number written wrong is the pages' 404)."""
    admin_only(caller)
    form = await form_of(request, caller.csrf_token)
    return form, number_digits(number)
