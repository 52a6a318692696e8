"""The console as the app mounts it: its pages and forms under ``/console``, its
templates and its static files (shipped in the package: it works with no internet)."""

from __future__ import annotations

from litestar import Router
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from app.console.actions import ConsoleActions
from app.console.pages import ConsolePages
from app.console.web import EXCEPTION_HANDLERS, PREFIX, STATIC, TEMPLATES
from app.lib.money import money

#: Paths the API key check leaves alone: the console signs its callers in itself.
CONSOLE_PATHS = (f"^{PREFIX}",)


def console_router() -> Router:
    return Router(
        path=PREFIX,
        route_handlers=[
            ConsolePages,
            ConsoleActions,
            create_static_files_router(
                path="/static", directories=[STATIC], include_in_schema=False
            ),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        include_in_schema=False,
    )


def console_templates() -> TemplateConfig[JinjaTemplateEngine]:
    return TemplateConfig(
        directory=TEMPLATES, engine=JinjaTemplateEngine, engine_callback=_add_filters
    )


def _add_filters(engine: JinjaTemplateEngine) -> None:
    # Amounts as the API writes them ("4.90", seven's sub-cent places kept).
    engine.engine.filters["money"] = money
