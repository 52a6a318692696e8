"""Running the worker: ``python -m workers`` (see :func:`main`).

arq's own command runs arq's ``Worker``, whose shutdown can fail: on a signal it cancels
its job tasks, and a task cancelled while arq itself was still reading the job from Redis
(before the function ran) or recording its end ends cancelled; ``Worker.close`` gathers
the tasks without ``return_exceptions``, re-raises that cancellation, and the process
exits 1 before the shutdown hook (jobs that start as the signal arrives, such as the
crons run at start-up, meet it often enough under load). Such a job is still in arq's
queue, where its in-progress mark expires and a worker runs it again, so nothing needs
the error: :class:`Worker` waits its tasks out and lets arq close as it would.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import arq.worker
from arq.utils import import_string

from app.lib.logging import configure_logging

DEFAULT_SETTINGS = "workers.settings.WorkerSettings"


class Worker(arq.worker.Worker):
    async def close(self) -> None:
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        self.tasks.clear()
        await super().close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m workers", description="The seven-numbers worker (arq)."
    )
    parser.add_argument(
        "settings",
        nargs="?",
        default=DEFAULT_SETTINGS,
        help=f"the arq settings to run, as a dotted path (default: {DEFAULT_SETTINGS})",
    )
    parser.add_argument("--burst", action="store_true", help="exit once the queue is empty")
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit 0 if a worker's heartbeat is in Redis, 1 if not (a health check)",
    )
    args = parser.parse_args(argv)
    settings: Any = import_string(args.settings)
    # Imported here, as the settings are: their class body reads the environment, which
    # --help should not need.
    from workers.settings import read_or_exit

    # arq logs from the moment it starts, before the startup hook configures the rest.
    configure_logging(read_or_exit("LOG_LEVEL"))
    if args.check:
        return arq.worker.check_health(settings)
    worker = Worker(**{**arq.worker.get_kwargs(settings), "burst": args.burst})
    worker.run()
    return 0
