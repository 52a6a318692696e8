"""arq adapters of the events: delivering to webhook endpoints (the job, and the
dispatcher that feeds it from Postgres), and the cron job that forgets old events."""

from __future__ import annotations

import uuid
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

from arq import func
from arq.cron import CronJob, cron
from arq.worker import Function

from app.events.delivery import Deliverer, DeliveryPolicy, Lanes
from app.events.dispatch import JOB, Dispatcher
from app.events.service import purge_events
from app.lib.job_run import job_run
from app.settings import Settings


async def start_delivering(ctx: dict[str, Any], stack: AsyncExitStack) -> None:
    """The worker's HTTP clients for deliveries and its dispatcher, closed with ``stack``."""
    settings: Settings = ctx["settings"]
    lanes = Lanes()
    stack.push_async_callback(lanes.aclose)
    deliverer = Deliverer(ctx["engine"], lanes, DeliveryPolicy.from_settings(settings))
    ctx["deliverer"] = deliverer
    dispatcher = Dispatcher(
        settings.database_url, ctx["engine"], ctx["queue"], deliverer.look_again
    )
    await stack.enter_async_context(dispatcher.running())


async def deliver_events(ctx: dict[str, Any], endpoint_id: str) -> int:
    """Deliver what is due to one endpoint (safe to run again)."""
    deliverer: Deliverer = ctx["deliverer"]
    with job_run(JOB, endpoint=endpoint_id):
        return await deliverer.run(uuid.UUID(endpoint_id))


def deliver_events_function() -> Function:
    # keep_result=0: the job id is free again once the run ends, so the next delivery of
    # the key is enqueued at once. A run cut off by the timeout leaves the rest to the next
    # look (each attempt is committed as it is made).
    return func(deliver_events, name=JOB, timeout=60, max_tries=3, keep_result=0)


async def purge_old_events(ctx: dict[str, Any]) -> int:
    """Delete the events older than ``event_retention_days``."""
    settings: Settings = ctx["settings"]
    with job_run("purge_events"):
        async with ctx["sessions"]() as session:
            return await purge_events(session, timedelta(days=settings.event_retention_days))


def purge_events_cron() -> CronJob:
    """Hourly, and once when a worker starts; one statement, safe to run twice."""
    return cron(
        purge_old_events,
        name="cron:purge_events",
        minute=37,
        second=0,
        unique=True,
        run_at_startup=True,
        timeout=300,
        max_tries=1,
    )
