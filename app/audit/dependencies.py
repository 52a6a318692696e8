"""The ``actor`` dependency: the calling principal plus the request id, for audit rows."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.di import Provide

from app.lib.auth import Actor, Principal
from app.lib.request_context import request_id_of


def provide_actor(request: Request[Principal, Any, Any]) -> Actor:
    return Actor(principal=request.user, request_id=request_id_of(request.scope))


ACTOR_DEPENDENCY = {"actor": Provide(provide_actor, sync_to_thread=False)}
