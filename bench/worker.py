"""The operations benchmark's worker (``python -m workers bench.worker.SETTINGS``): the
service's, plus noop.

``noop`` does nothing: ``bench/operations.py`` times it as what arq itself costs per job, and
runs it to see that a worker has started. The service has no use for it, so only this worker
registers it. arq reads a settings class's own ``__dict__``, not what a subclass inherits, so
the service's settings are copied into a dict, which arq accepts as well.
"""

from __future__ import annotations

from typing import Any

from workers.settings import WorkerSettings


async def noop(ctx: dict[str, Any]) -> None:
    """Does nothing."""


SETTINGS: dict[str, Any] = {**vars(WorkerSettings), "functions": [*WorkerSettings.functions, noop]}
