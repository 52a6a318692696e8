"""The interactive API docs at ``/schema``, served entirely by this service.

Litestar's render plugins load their scripts from a CDN by default, so the page stayed
blank on a machine without internet (a developer's laptop on a train, a locked-down
network). Swagger UI's files come from the ``swagger-ui-py`` wheel instead and are
served under ``/schema/assets``; the page needs nothing but this service.

``/`` sends a person who opens the service's address in a browser to the page.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from litestar import Router, get
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.response import Redirect
from litestar.static_files import create_static_files_router

ASSETS_PATH = "/schema/assets"
DOCS_PATH = "/schema"


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


# Not an API route: left out of the schema, like the page it leads to.
@get("/", include_in_schema=False, status_code=307, sync_to_thread=False)
def to_docs() -> Redirect:
    """307 to the docs page (public, like the page)."""
    return Redirect(path=DOCS_PATH, status_code=307)
