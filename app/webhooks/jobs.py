"""arq adapter: the cron job that forgets counted webhook events after their retention."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from arq.cron import CronJob, cron

from app.lib.job_run import job_run
from app.settings import Settings
from app.webhooks.service import purge_processed_events


async def purge_webhook_events(ctx: dict[str, Any]) -> int:
    """Delete the ids of events counted more than ``webhook_event_retention_days`` ago."""
    settings: Settings = ctx["settings"]
    with job_run("purge_webhook_events"):
        async with ctx["sessions"]() as session:
            return await purge_processed_events(
                session, timedelta(days=settings.webhook_event_retention_days)
            )


def purge_webhook_events_cron() -> CronJob:
    """Hourly, and once when a worker starts (a worker that was down catches up at once).
    One statement, safe to run twice: ``unique`` only keeps workers from doing it twice."""
    return cron(
        purge_webhook_events,
        name="cron:purge_webhook_events",
        minute=23,
        second=0,
        unique=True,
        run_at_startup=True,
        timeout=300,
        max_tries=1,
    )
