"""The request id is bound to every log line of its request, and to nothing after it."""

from __future__ import annotations

from typing import Any

import pytest
import structlog

from app.lib.request_context import RequestContextMiddleware

SCOPE = {
    "type": "http",
    "method": "GET",
    "path": "/v1/whoami",
    "path_template": "/v1/whoami",
    "headers": [(b"x-request-id", b"caller-id-7")],
}


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b""}


async def _send(message: Any) -> None:
    return None


@pytest.mark.parametrize("fails", [False, True], ids=["answered", "raised"])
async def test_the_request_id_is_bound_inside_the_request_and_unbound_after(fails: bool) -> None:
    seen: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.update(structlog.contextvars.get_contextvars())
        if fails:
            raise RuntimeError("the route failed")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    structlog.contextvars.bind_contextvars(job="outer")
    try:
        try:
            await RequestContextMiddleware().handle(dict(SCOPE), _receive, _send, app)
        except RuntimeError:
            assert fails
        assert seen == {"job": "outer", "request_id": "caller-id-7"}
        # What was bound before the request is back, and nothing of the request is left.
        assert structlog.contextvars.get_contextvars() == {"job": "outer"}
    finally:
        structlog.contextvars.clear_contextvars()
