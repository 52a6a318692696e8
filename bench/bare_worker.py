"""The baseline for the service worker's cost per job: a bare arq worker.

    python -m arq bench.bare_worker.WorkerSettings --custom-log-dict bench.bare_worker.LOGGING

One no-op function, no project code, reading only ``REDIS_URL`` and ``LOG_LEVEL``.
``bench/operations.py`` starts it as it starts the service's worker (a fresh process, the
same Redis, the same no-op jobs) and compares the two. It polls and takes jobs as the
service's worker does (``poll_delay``, ``max_jobs``), so the difference is the project's
code, not arq's knobs; its log lines (arq's own, two per job at INFO) go to stderr at the
same level as the service's.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from arq.connections import RedisSettings


async def noop(ctx: dict[str, Any]) -> None:
    """Does nothing."""


class WorkerSettings:
    functions: ClassVar[list[Any]] = [noop]
    redis_settings = RedisSettings.from_dsn(os.environ["REDIS_URL"])
    poll_delay = 0.05
    max_jobs = 20


_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler", "level": _LEVEL}},
    "loggers": {"arq": {"handlers": ["stderr"], "level": _LEVEL}},
}
