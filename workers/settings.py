"""The arq worker's settings: ``python -m workers`` runs them (workers.runner).

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

from app.bulk.jobs import process_bulk_function
from app.costs.jobs import roll_up_costs_cron
from app.events.jobs import deliver_events_function, purge_events_cron, start_delivering
from app.lib import queue
from app.lib.logging import configure_logging
from app.lib.metrics import serve_worker_metrics
from app.lib.queue import deserialize_job, serialize_job
from app.operations.jobs import (
    approval_expiry_cron,
    process_operation_function,
    reconciler_cron,
)
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


def read_or_exit(variable: str) -> Any:
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
        process_bulk_function(),
        deliver_events_function(),
    ]
    cron_jobs: ClassVar[list[Any]] = [
        reconciler_cron(read_or_exit("RECONCILE_INTERVAL_SECONDS")),
        approval_expiry_cron(),
        sync_cron_job(read_or_exit("SYNC_INTERVAL_SECONDS")),
        purge_webhook_events_cron(),
        purge_events_cron(),
        roll_up_costs_cron(),
    ]
    on_startup = startup
    on_shutdown = shutdown
    redis_settings: RedisSettings = queue.redis_settings(read_or_exit("REDIS_URL"))
    job_serializer = staticmethod(serialize_job)
    job_deserializer = staticmethod(deserialize_job)
    # SIGTERM: stop taking jobs, let running ones finish for up to this long, then cancel
    # the rest, which arq hands back to the queue (jobs are safe to repeat; an order cut
    # off after it was sent is settled by reading seven first). Keep it below the
    # orchestrator's grace period (docker-compose: 30 s) so the worker exits before SIGKILL.
    job_completion_wait: int = read_or_exit("WORKER_SHUTDOWN_WAIT_SECONDS")
    # Short, so /health/ready notices a dead worker within seconds.
    health_check_interval = 5
    # How long an idle worker waits before asking Redis for jobs again (arq's default is
    # 0.5 s): an event's delivery, enqueued when it commits, would wait that long. One
    # cheap Redis call per 50 ms when idle. (A signal meeting jobs that are starting is
    # then more likely: workers.runner's Worker shuts down cleanly all the same.) arq's
    # job aborting stays off: nothing aborts a job (an operation ends through its state in
    # Postgres), and it would add a Redis transaction to every poll, doubling an idle
    # worker's round trips, and a command to each job's start and end.
    poll_delay = 0.05
    max_jobs = 20
