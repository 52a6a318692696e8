"""``python -m workers``: the worker (see workers.runner)."""

import sys

from app.lib.console_free import leave_out_console_libraries

# Before structlog and httpx are imported (app/lib/console_free.py).
leave_out_console_libraries()

from workers.runner import main  # noqa: E402

sys.exit(main())
