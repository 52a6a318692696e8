"""What the processes' starts import, lazy imports included: the worker no web framework
(the import-linter contract "The worker imports no web framework" says so of the import
graph), neither the worker nor the served API the console libraries only the operator CLI
renders with."""

from __future__ import annotations

import json

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


def test_the_worker_started_as_python_m_workers_loads_no_rich() -> None:
    # rich comes with Litestar; structlog would import it for tracebacks the worker's JSON
    # logs never render (workers/__main__.py).
    code = (
        "import json, runpy, sys\n"
        "sys.argv = ['workers', '--help']\n"
        "try:\n"
        "    runpy.run_module('workers', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "import structlog.dev, workers.settings\n"
        "print(json.dumps(sorted(m for m, module in sys.modules.items()"
        " if m.split('.')[0] == 'rich' and module is not None)))\n"
    )
    assert _loaded(code) == []


def test_the_served_api_loads_neither_rich_nor_pygments() -> None:
    # httpx imports its command line (pygments, rich) and structlog imports rich whenever
    # they are installed; the API renders no console (app/serve.py).
    code = (
        "import json, sys\n"
        "import app.serve, structlog.dev, httpx\n"
        "print(json.dumps(sorted(m for m, module in sys.modules.items()"
        " if m.split('.')[0] in ('rich', 'pygments') and module is not None)))\n"
    )
    assert _loaded(code) == []
