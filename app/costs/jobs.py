"""arq adapter of the cost rollups: the cron job that rolls up closed months."""

from __future__ import annotations

from typing import Any

from arq.cron import CronJob, cron

from app.costs import live
from app.costs.service import berlin_today, rebuild_touched_parts, roll_up_closed_months
from app.lib.job_run import job_run


async def roll_up_costs(ctx: dict[str, Any]) -> int:
    """Roll up each closed month's reports that are missing or outdated; build again the
    recurring parts that recurring changes touched; then drop the live reports and
    recurring parts kept that are no longer served and the change rows none needs."""
    with job_run("roll_up_costs"):
        today = berlin_today()
        count = await roll_up_closed_months(ctx["engine"], today)
        await rebuild_touched_parts(ctx["engine"], today)
        await live.prune(ctx["engine"], today)
        return count


def roll_up_costs_cron() -> CronJob:
    """Hourly: a month that closed is rolled up within the hour after it can be (its
    second day), and a month a late change outdated within the hour after the change,
    before anyone asks (until then, a report asked for computes and stores it). Each run
    does only what is missing, so a second run at once is safe and costs one query."""
    return cron(
        roll_up_costs,
        name="cron:roll_up_costs",
        minute=23,
        second=0,
        unique=True,
        # A month's eight reports take about 8 s over 100,000 numbers; a first run over
        # years of history does each month once.
        timeout=3600,
        max_tries=1,
    )
