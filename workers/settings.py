"""The arq worker: ``arq workers.settings.WorkerSettings``.

arq reads this class's attributes when the worker starts, so the Redis address is
read here, at that moment (arq offers no later hook for it); everything else is
built in ``startup`` from the same Settings and Resources the API uses.
"""

from __future__ import annotations

import os
import sys
from contextlib import AsyncExitStack
from typing import Any, ClassVar

from arq.connections import RedisSettings

from app.lib.logging import configure_logging
from app.lib.metrics import serve_worker_metrics
from app.lib.queue import deserialize_job, redis_settings, serialize_job
from app.operations.jobs import process_operation_function, reconciler_cron
from app.resources import Resources
from app.settings import Settings, SettingsError, redis_url_from
from app.sync.jobs import sync_cron_job, sync_mirror_function
from app.webhooks.jobs import purge_webhook_events_cron


async def startup(ctx: dict[str, Any]) -> None:
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    serve_worker_metrics(settings.worker_metrics_host, settings.worker_metrics_port)
    stack = AsyncExitStack()
    resources = await stack.enter_async_context(Resources.open(settings, role="worker"))
    resources.install(ctx)
    ctx["exit_stack"] = stack


async def shutdown(ctx: dict[str, Any]) -> None:
    stack: AsyncExitStack | None = ctx.get("exit_stack")
    if stack is not None:
        await stack.aclose()


async def noop(ctx: dict[str, Any]) -> None:
    """Does nothing: the queue benchmark's baseline and a probe that the worker runs jobs."""


def _redis_settings_from_env() -> RedisSettings:
    try:
        return redis_settings(redis_url_from(os.environ))
    except SettingsError as error:
        sys.exit(f"seven-numbers worker cannot start: {error}")


def _shutdown_wait_from_env() -> int:
    raw = os.environ.get("WORKER_SHUTDOWN_WAIT_SECONDS", "").strip() or "20"
    if not raw.isascii() or not raw.isdigit():
        sys.exit(
            "seven-numbers worker cannot start: WORKER_SHUTDOWN_WAIT_SECONDS is not usable"
            " (expected a whole number of seconds >= 0)"
        )
    return int(raw)


class WorkerSettings:
    functions: ClassVar[list[Any]] = [noop, process_operation_function(), sync_mirror_function()]
    cron_jobs: ClassVar[list[Any]] = [
        reconciler_cron(),
        sync_cron_job(),
        purge_webhook_events_cron(),
    ]
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = _redis_settings_from_env()
    job_serializer = staticmethod(serialize_job)
    job_deserializer = staticmethod(deserialize_job)
    allow_abort_jobs = True
    # SIGTERM: stop taking jobs, let running ones finish for up to this long, then cancel
    # the rest, which arq hands back to the queue (jobs are safe to repeat; an order cut
    # off after it was sent is settled by reading seven first). Keep it below the
    # orchestrator's grace period (docker-compose: 30 s) so the worker exits before SIGKILL.
    job_completion_wait = _shutdown_wait_from_env()
    # Short, so /health/ready notices a dead worker within seconds.
    health_check_interval = 5
    max_jobs = 20
