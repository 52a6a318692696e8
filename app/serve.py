"""What uvicorn serves: ``uvicorn app.serve:app`` (built on first access, from the
environment's settings; ``app.asgi.create_app`` builds one from given settings).

Importing this module builds nothing; uvicorn's ``getattr(module, "app")`` does, once.
A settings problem ends start-up with its one line.

The API never renders a console: httpx imports its command line (with pygments and rich)
and structlog imports rich for its console renderer's tracebacks, whenever they are
installed, and the operator CLI installs them. Marked missing before anything imports
them, they cost the API's start nothing: about 0.25 s of a process's 1.9 s import on the
2-core reference machine (bench/README.md, Reads). The worker does the same
(workers/__main__.py). The CLI and the tests import ``app.asgi``, never this module.
"""

from __future__ import annotations

import sys
from typing import Any

# A None entry is how the import system marks a module missing (it raises ImportError).
for _unused in ("rich", "pygments"):
    sys.modules.setdefault(_unused, None)  # type: ignore[arg-type]

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
