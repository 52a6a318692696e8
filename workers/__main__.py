"""``python -m workers``: the worker (see workers.runner)."""

import sys

from workers.runner import main

sys.exit(main())
