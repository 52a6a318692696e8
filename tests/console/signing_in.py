"""Signing in to the console as a browser does: read the sign-in form's CSRF token, post
the key, keep the cookies; and reading the CSRF token of a signed-in page."""

from __future__ import annotations

import re

from tests.support.api import Client

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


async def sign_in(client: Client, key: str) -> str:
    """Sign ``client`` in with ``key`` (its cookie jar keeps the session); the CSRF token
    of the signed-in pages."""
    form = await client.get("/console")
    assert form.status_code == 200, form.text
    signed = await client.post(
        "/console/sign-in", data={"csrf": csrf_of(form.text), "key": key}, follow_redirects=False
    )
    assert signed.status_code == 303, signed.text
    overview = await client.get("/console")
    assert "<h1>Overview</h1>" in overview.text
    return csrf_of(overview.text)
