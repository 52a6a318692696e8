"""``python -m workers``: the worker (see workers.runner)."""

import sys

# structlog imports rich when it is installed (Litestar requires it, so the image has it),
# for the tracebacks of its console renderer; the worker writes JSON and renders none.
# Marked missing before structlog is imported, rich costs the worker's start nothing
# (it was about a tenth of the start's imports, py-spy).
# A None entry is how the import system marks a module missing (it raises ImportError).
sys.modules.setdefault("rich", None)  # type: ignore[arg-type]

from workers.runner import main  # noqa: E402

sys.exit(main())
