"""Liveness and readiness; no key needed."""

from __future__ import annotations

import asyncio
from typing import Any

from arq.constants import default_queue_name, health_check_key_suffix
from litestar import Controller, Response, get
from litestar.datastructures import State
from litestar.openapi import ResponseSpec
from sqlalchemy import text

# A dependency that does not answer within this time is reported as not ready.
CHECK_TIMEOUT_SECONDS = 2.0
WORKER_HEARTBEAT_KEY = default_queue_name + health_check_key_suffix


class HealthController(Controller):
    path = "/health"
    tags = ["health"]

    @get("/live", summary="The process is up")
    async def live(self) -> dict[str, str]:
        return {"status": "ok"}

    @get(
        "/ready",
        summary="Postgres, Redis and a worker's heartbeat are there",
        description="200 when every check is `ok`; 503 names the part that is not ready.",
        responses={
            503: ResponseSpec(
                dict[str, Any],
                description="Not ready: `checks` says which part",
                generate_examples=False,
            )
        },
    )
    async def ready(self, state: State) -> Response[dict[str, Any]]:
        checks = dict(
            zip(
                ("postgres", "redis", "worker"),
                await asyncio.gather(
                    _check_postgres(state), _check_redis(state), _check_worker(state)
                ),
                strict=True,
            )
        )
        ready = all(status == "ok" for status in checks.values())
        body = {"status": "ok" if ready else "unavailable", "checks": checks}
        return Response(body, status_code=200 if ready else 503)


async def _check_postgres(state: State) -> str:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS), state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as error:  # any failure means "not ready"; say which kind
        return f"unavailable: {type(error).__name__}"
    return "ok"


async def _check_redis(state: State) -> str:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            await state.queue.ping()
    except Exception as error:
        return f"unavailable: {type(error).__name__}"
    return "ok"


async def _check_worker(state: State) -> str:
    """A worker writes arq's health-check key every few seconds; the key expiring means
    no worker has been alive since."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            beating = await state.queue.exists(WORKER_HEARTBEAT_KEY)
    except Exception as error:
        return f"unavailable: {type(error).__name__}"
    return "ok" if beating else "unavailable: no worker heartbeat"
