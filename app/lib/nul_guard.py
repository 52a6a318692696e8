"""Refuse NUL characters anywhere in a request, once for every route.

PostgreSQL text cannot hold U+0000: a NUL that reaches a query (a name, a search term,
an audit filter) fails the statement and the caller got a 500. No field of this API
has a use for one, so the request is answered 422 before any handler runs.

Reading the body here is also where Litestar enforces ``request_max_body_size``
(``MAX_BODY_BYTES``): a body over it is a 413 before any handler runs, on every route,
including routes that never read their body (a GET or DELETE that comes with one).
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Request

from app.lib.errors import InvalidInput

# A JSON string's NUL is the escape \u0000 (a raw NUL byte is not valid JSON); an even
# run of backslashes before it means the backslash itself was escaped, not the NUL.
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
# Only these methods carry a body here; other requests (reads, the hot path) wait for
# one only when their headers announce it.
METHODS_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


async def reject_nul(request: Request[Any, Any, Any]) -> None:
    """``before_request`` hook: a 422 ``nul_character`` for a NUL in path, query or body."""
    where = None
    if "\x00" in request.scope["path"]:
        where = "path"
    elif any("\x00" in k + v for k, v in request.query_params.multi_items()):
        where = "query"
    elif request.method in METHODS_WITH_BODY or _announces_body(request):
        body = await request.body()
        if b"\x00" in body or _JSON_NUL.search(body):
            where = "body"
    if where is not None:
        raise InvalidInput(
            f"the {where} contains a NUL character", code="nul_character", details={"in": where}
        )


def _announces_body(request: Request[Any, Any, Any]) -> bool:
    headers = request.headers
    return "transfer-encoding" in headers or headers.get("content-length", "0") != "0"
