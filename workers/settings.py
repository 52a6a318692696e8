"""The arq worker: ``arq workers.settings.WorkerSettings``.

arq reads this class's attributes when the worker starts, so the few settings they need
(the Redis address, the cron schedules, the shutdown wait) are read here, at that moment
(arq offers no later hook for them), from the environment and ``.env`` as Settings reads
them; everything else is built in ``startup`` from the same Settings and Resources the
API uses.
"""

from __future__ import annotations

import sys
from contextlib import AsyncExitStack
from typing import Any, ClassVar

from arq.connections import RedisSettings

from app.events.jobs import deliver_events_function, purge_events_cron, start_delivering
from app.lib import queue
from app.lib.logging import configure_logging
from app.lib.metrics import serve_worker_metrics
from app.lib.queue import deserialize_job, serialize_job
from app.operations.jobs import process_operation_function, reconciler_cron
from app.pools.finish import settle_pool_operation
from app.resources import Resources
from app.settings import Settings, SettingsError, read_setting
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
    await start_delivering(ctx, stack)


async def shutdown(ctx: dict[str, Any]) -> None:
    stack: AsyncExitStack | None = ctx.get("exit_stack")
    if stack is not None:
        await stack.aclose()


def _setting(variable: str) -> Any:
    """A setting the class body needs; a bad one stops the worker with its one line."""
    try:
        return read_setting(variable)
    except SettingsError as error:
        sys.exit(f"seven-numbers worker cannot start: {error}")


class WorkerSettings:
    functions: ClassVar[list[Any]] = [
        # The pools lean on operations: what they do when one ends is named here, so
        # operations imports nothing of them.
        process_operation_function(finish_hooks=[settle_pool_operation]),
        sync_mirror_function(),
        deliver_events_function(),
    ]
    cron_jobs: ClassVar[list[Any]] = [
        reconciler_cron(_setting("RECONCILE_INTERVAL_SECONDS")),
        sync_cron_job(_setting("SYNC_INTERVAL_SECONDS")),
        purge_webhook_events_cron(),
        purge_events_cron(),
    ]
    on_startup = startup
    on_shutdown = shutdown
    redis_settings: RedisSettings = queue.redis_settings(_setting("REDIS_URL"))
    job_serializer = staticmethod(serialize_job)
    job_deserializer = staticmethod(deserialize_job)
    allow_abort_jobs = True
    # SIGTERM: stop taking jobs, let running ones finish for up to this long, then cancel
    # the rest, which arq hands back to the queue (jobs are safe to repeat; an order cut
    # off after it was sent is settled by reading seven first). Keep it below the
    # orchestrator's grace period (docker-compose: 30 s) so the worker exits before SIGKILL.
    job_completion_wait: int = _setting("WORKER_SHUTDOWN_WAIT_SECONDS")
    # Short, so /health/ready notices a dead worker within seconds.
    health_check_interval = 5
    max_jobs = 20
