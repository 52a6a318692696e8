"""The ASGI application's factory, ``create_app()``: what uvicorn serves is
``app.serve:app``, built by it from the environment's settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Request, Router
from litestar.config.compression import CompressionConfig
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from app.console.routes import CONSOLE_PATHS, console_router, console_templates
from app.health.controller import HealthController
from app.lib.auth_middleware import PUBLIC_PATHS, ApiKeyAuthentication
from app.lib.dependencies import provide_all
from app.lib.docs_page import swagger_assets, swagger_page, to_docs
from app.lib.error_answers import EXCEPTION_HANDLERS
from app.lib.logging import configure_logging
from app.lib.metrics import system_gauges_refreshed
from app.lib.metrics_endpoint import MetricsController
from app.lib.nul_guard import reject_nul
from app.lib.openapi import RealisticExamples, document_errors
from app.lib.request_context import RequestContextMiddleware
from app.lib.strict_query import declare_query_parameters, reject_unknown_query
from app.numbers.listener import open_caches
from app.resources import Resources
from app.settings import Settings
from app.v1 import V1_HANDLERS
from app.webhooks.controller import warn_if_unsigned

API_KEY_SCHEME = "ApiKey"


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings.from_env()
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        warn_if_unsigned(settings)
        async with (
            Resources.open(settings) as resources,
            open_caches(settings, resources.engine) as caches,
            system_gauges_refreshed(
                resources.engine, resources.queue, settings.metrics_refresh_seconds
            ),
        ):
            resources.install(app.state)
            app.state.number_cache = caches.numbers
            app.state.key_cache = caches.keys
            app.state.caches_caught_up = caches.caught_up
            yield

    v1 = Router(
        path="/v1",
        route_handlers=V1_HANDLERS,
        security=[{API_KEY_SCHEME: []}],
    )
    app = Litestar(
        route_handlers=[
            HealthController,
            MetricsController,
            swagger_assets(),
            to_docs,
            v1,
            console_router(),
        ],
        lifespan=[lifespan],
        middleware=[
            RequestContextMiddleware(),
            DefineMiddleware(ApiKeyAuthentication, exclude=[*PUBLIC_PATHS, *CONSOLE_PATHS]),
        ],
        dependencies=provide_all(),
        # Checked where the body is read: app.lib.nul_guard reads every body there is.
        before_request=_check_request,
        request_max_body_size=settings.max_body_bytes,
        exception_handlers=EXCEPTION_HANDLERS,
        openapi_config=_openapi_config(),
        template_config=console_templates(),
        plugins=[RealisticExamples()],
        compression_config=CompressionConfig(backend="gzip", minimum_size=1024),
        state=None,
        debug=False,
        # app.lib.logging configures logging; Litestar's default would take over the root.
        logging_config=None,
    )
    declare_query_parameters(app)
    document_errors(app)
    return app


async def _check_request(request: Request[Any, Any, Any]) -> None:
    """What every request must pass before its handler runs (a NUL is named first)."""
    await reject_nul(request)
    reject_unknown_query(request)


def _openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="seven-numbers",
        version="1.0.0",
        description=(
            "Search, order, manage, share and account for the phone numbers the company "
            "rents from seven.io. Every `/v1` request needs `X-Api-Key` (or "
            "`Authorization: Bearer`)."
        ),
        path="/schema",
        render_plugins=[swagger_page()],
        components=Components(
            security_schemes={
                API_KEY_SCHEME: SecurityScheme(
                    type="apiKey", name="X-Api-Key", security_scheme_in="header"
                )
            }
        ),
    )
