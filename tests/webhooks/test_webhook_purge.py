"""The worker's purge cron forgets counted webhook events after their retention."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

from app.settings import Settings
from tests.support.db import connected
from tests.support.worker import run_burst


async def test_the_worker_forgets_event_ids_older_than_the_retention(
    settings: Settings, database_url: str
) -> None:
    kept_for_5_days = dataclasses.replace(settings, webhook_event_retention_days=5)
    async with connected(database_url) as conn:
        await conn.executemany(
            "INSERT INTO webhook_events (event_type, event_id, received_at)"
            " VALUES ('sms_mo', $1, now() - $2::interval)",
            [
                ("past-retention", timedelta(days=5, hours=1)),
                ("inside-retention", timedelta(days=4, hours=23)),
                ("just-counted", timedelta(0)),
            ],
        )
        # The real worker (arq, burst mode): the purge cron runs once as it starts.
        await asyncio.to_thread(run_burst, kept_for_5_days)
        rows = await conn.fetch("SELECT event_id FROM webhook_events ORDER BY event_id")
    assert [row["event_id"] for row in rows] == ["inside-retention", "just-counted"]
