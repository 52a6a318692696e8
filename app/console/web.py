"""What every console page shares: the signed-in caller (from the session cookie), the
CSRF check of every form, rendering, and errors as pages instead of JSON."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litestar import Request, Response
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER
from litestar.types import ExceptionHandlersMap

from app.console import sessions
from app.lib.auth import Actor, Principal, current_actor
from app.lib.errors import Forbidden, NotFound, ServiceError
from app.lib.request_context import request_id_of

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
PREFIX = "/console"
SESSION_COOKIE = "console_session"
# The sign-in form's CSRF token (there is no session yet): the same random value in a
# cookie and in the form, compared when the form comes back.
SIGN_IN_COOKIE = "console_sign_in"


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is signed in, and the CSRF token the page's forms carry."""

    principal: Principal
    csrf_token: str
    request_id: str | None

    @property
    def actor(self) -> Actor:
        return Actor(self.principal, self.request_id)


class SignInRequired(Exception):
    """No live session: the browser is sent to the sign-in page."""


async def provide_caller(request: Request[Any, Any, State]) -> Caller:
    """The session's caller; its key is checked again, so a revoked key signs it out."""
    session_id = request.cookies.get(SESSION_COOKIE)
    state = request.app.state
    found = (
        await sessions.signed_in(state.sessions, session_id, state.settings.admin_api_key)
        if session_id
        else None
    )
    if found is None:
        raise SignInRequired
    caller = Caller(found.principal, found.csrf_token, request_id_of(request.scope))
    # For the audit trail's capture of who changed what (app.audit.capture).
    current_actor.set(caller.actor)
    return caller


async def form_of(request: Request[Any, Any, Any], expected_csrf: str) -> dict[str, str]:
    """The posted form once its CSRF token matches ``expected_csrf``; else 403."""
    form = await request.form()
    fields = {name: str(value) for name, value in form.items()}
    token = fields.pop("csrf", "")
    if not hmac.compare_digest(token.encode(), expected_csrf.encode()):
        raise Forbidden(
            "This form has expired or did not come from the console. Go back, reload the "
            "page and try again.",
            code="csrf_failed",
        )
    return fields


def cookie_secure(request: Request[Any, Any, Any]) -> bool:
    """Cookies are ``Secure`` when the browser came over https (a plain-http ``make run``
    on localhost could not keep them otherwise)."""
    return request.url.scheme == "https"


# Every page: its own assets only, never inside another site's frame (its forms act), and
# not kept by caches (a page may show a new key).
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def page(template: str, caller: Caller | None, status_code: int = 200, **context: Any) -> Template:
    return Template(
        template_name=template,
        context={"viewer": caller, "prefix": PREFIX, **context},
        status_code=status_code,
        headers=PAGE_HEADERS,
    )


def see_other(path: str) -> Redirect:
    """After a form: the browser GETs ``path`` (reloading it posts nothing again)."""
    return Redirect(path=path, status_code=HTTP_303_SEE_OTHER)


def admin_only(caller: Caller) -> None:
    """Admin pages answer a tenant key as a page that does not exist (as ``/v1`` does)."""
    if not caller.principal.is_admin:
        raise NotFound("There is no such page.")


def _sign_in_again(request: Request[Any, Any, Any], _: SignInRequired) -> Response[Any]:
    redirect = see_other(PREFIX)
    redirect.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return redirect


def _error_page(request: Request[Any, Any, Any], error: ServiceError) -> Template:
    """A refusal of the services (the message ``/v1`` gives), as a page with its status."""
    return page(
        "error.html",
        None,
        status_code=error.status_code,
        title=_TITLES.get(error.status_code, "Something is not right"),
        message=error.message,
    )


_TITLES = {
    403: "Not allowed",
    404: "Not found",
    409: "Not possible right now",
    422: "Please check what you entered",
    429: "Busy: try again in a moment",
}


def _http_error_page(request: Request[Any, Any, Any], error: HTTPException) -> Template:
    status = error.status_code
    message = "There is no such page." if status == 404 else str(error.detail)
    return page(
        "error.html",
        None,
        status_code=status,
        title=_TITLES.get(status, "Something is not right"),
        message=message,
    )


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    SignInRequired: _sign_in_again,
    ServiceError: _error_page,
    HTTPException: _http_error_page,
}
