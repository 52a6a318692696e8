"""The API's ``/metrics``: what app.lib.metrics counts, in Prometheus' text format.

It needs no API key; with ``METRICS_TOKEN`` set it answers only
``Authorization: Bearer <METRICS_TOKEN>`` (401 otherwise).
"""

from __future__ import annotations

import hmac
from typing import Any

from litestar import Controller, Response, get
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler
from prometheus_client import REGISTRY, generate_latest

from app.lib.metrics import METRICS_MEDIA_TYPE


def metrics_token_required(
    connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler
) -> None:
    """Guard of ``/metrics``: with ``METRICS_TOKEN`` set, only its bearer may scrape."""
    token: str | None = connection.app.state.settings.metrics_token
    if token is None:
        return
    scheme, _, given = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.encode()
    ):
        raise NotAuthorizedException(
            "/metrics needs the metrics token: send Authorization: Bearer <METRICS_TOKEN>."
        )


class MetricsController(Controller):
    path = "/metrics"
    include_in_schema = False
    guards = [metrics_token_required]

    @get("/", media_type=METRICS_MEDIA_TYPE)
    async def metrics(self) -> Response[bytes]:
        return Response(generate_latest(REGISTRY), media_type=METRICS_MEDIA_TYPE)
