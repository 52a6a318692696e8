"""What uvicorn serves: ``uvicorn app.serve:app`` (built on first access, from the
environment's settings; ``app.asgi.create_app`` builds one from given settings).

Importing this module builds nothing; uvicorn's ``getattr(module, "app")`` does, once.
A settings problem ends start-up with its one line.

The console libraries are left out of the process first (app/lib/console_free.py);
the CLI and the tests import ``app.asgi``, never this module.
"""

from __future__ import annotations

import sys
from typing import Any

from app.lib.console_free import leave_out_console_libraries

leave_out_console_libraries()

from litestar import Litestar  # noqa: E402

from app.asgi import create_app  # noqa: E402
from app.settings import SettingsError  # noqa: E402

_app: Litestar | None = None


def __getattr__(name: str) -> Any:
    """Build ``app`` on first access (uvicorn's), not at import."""
    global _app
    if name != "app":
        raise AttributeError(name)
    if _app is None:
        try:
            _app = create_app()
        except SettingsError as error:
            sys.exit(f"seven-numbers cannot start: {error}")
    return _app
