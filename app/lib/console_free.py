"""The console libraries the services never render with, kept out of their processes.

httpx imports its command line (and with it pygments and rich) and structlog imports rich
for its console renderer's tracebacks, whenever they are installed; the operator CLI
installs them. The API and the worker write JSON and render no console: marked missing
before anything imports them, they cost their starts nothing (about 0.25 s of the API's
1.9 s import on the 2-core reference machine, bench/README.md, Reads; about a tenth of the
worker's start, Operations).
"""

from __future__ import annotations

import sys

CONSOLE_ONLY = ("rich", "pygments")


def leave_out_console_libraries() -> None:
    """Mark them missing: a None entry in ``sys.modules`` makes importing one raise
    ImportError, which httpx and structlog take as not installed. Call it before anything
    imports them; the CLI and the tests never call it."""
    for name in CONSOLE_ONLY:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]
