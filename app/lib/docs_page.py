"""The interactive API docs at ``/schema``, served entirely by this service.

Litestar's render plugins load their scripts from a CDN by default, so the page stayed
blank on a machine without internet (a developer's laptop on a train, a locked-down
network). Swagger UI's files come from the ``swagger-ui-py`` wheel instead and are
served under ``/schema/assets``; the page needs nothing but this service.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from litestar import Router
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router

ASSETS_PATH = "/schema/assets"


def _swagger_ui_files() -> Path:
    # The package's directory without importing it (its __init__ loads framework adapters).
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("swagger-ui-py is not installed (see pyproject.toml)")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def swagger_page() -> SwaggerRenderPlugin:
    """Swagger UI at ``/schema`` and ``/schema/swagger``, its scripts from ``ASSETS_PATH``."""
    return SwaggerRenderPlugin(
        path=["/", "/swagger"],
        js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
        css_url=f"{ASSETS_PATH}/swagger-ui.css",
        standalone_preset_js_url=f"{ASSETS_PATH}/swagger-ui-standalone-preset.js",
    )


def swagger_assets() -> Router:
    """The static files the page loads (public, like the schema itself)."""
    return create_static_files_router(
        path=ASSETS_PATH, directories=[_swagger_ui_files()], name="swagger_assets"
    )
