"""What the processes' starts import, lazy imports included: the worker no web framework
(the import-linter contract "The worker imports no web framework" says so of the import
graph), neither the worker nor the served API the console libraries only the operator CLI
renders with."""

from __future__ import annotations

import json

from app.lib.console_free import CONSOLE_ONLY
from tests.support.child import run_python

# What only the API uses; each would add to every worker start (bench/operations.py, cold).
WEB_ONLY = ("litestar", "jinja2", "email_validator", "app.asgi", "app.console", "app.v1")


def _loaded(code: str) -> list[str]:
    """What ``code`` (ending in a line that prints a JSON list) printed."""
    done = run_python(code)
    assert done.returncode == 0, done.stderr[-3000:]
    loaded: list[str] = json.loads(done.stdout.splitlines()[-1])
    return loaded


def test_the_worker_settings_load_no_web_module() -> None:
    code = (
        "import json, sys\n"
        "import workers.runner, workers.settings\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {WEB_ONLY!r}"
        f" or m.startswith({WEB_ONLY[3:]!r}))))\n"
    )
    assert _loaded(code) == []


def _console_libraries_loaded(start: str) -> list[str]:
    """The console libraries loaded by ``start`` followed by importing what would pull
    them in (structlog's console renderer, httpx's command line)."""
    code = (
        f"import json, runpy, sys\n{start}\n"
        "import structlog.dev, httpx\n"
        "print(json.dumps(sorted(m for m, module in sys.modules.items()"
        f" if m.split('.')[0] in {CONSOLE_ONLY!r} and module is not None)))\n"
    )
    return _loaded(code)


def test_the_worker_started_as_python_m_workers_loads_no_console_library() -> None:
    # rich comes with Litestar; structlog would import it for tracebacks the worker's JSON
    # logs never render (app/lib/console_free.py).
    start = (
        "sys.argv = ['workers', '--help']\n"
        "try:\n"
        "    runpy.run_module('workers', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "import workers.settings"
    )
    assert _console_libraries_loaded(start) == []


def test_the_served_api_loads_no_console_library() -> None:
    assert _console_libraries_loaded("import app.serve") == []
