"""Every database session runs under statement_timeout and idle_in_transaction_session_timeout.

A statement that waits too long (here: on a lock a test connection holds, so the wait is
as long as the test wants, whatever the machine's speed) is cut by PostgreSQL and
answered as a clean 503, whether it ran through SQLAlchemy or on the raw asyncpg
connection the cost reports use.
"""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import text

from app.asgi import create_app
from app.resources import Resources, Role
from app.settings import Settings
from tests.support.db import connected


@pytest.mark.parametrize(
    ("role", "statement_timeout"), [("api", "30s"), ("worker", "5min")], ids=["api", "worker"]
)
async def test_every_session_of_a_process_has_its_timeouts(
    settings: Settings, role: Role, statement_timeout: str
) -> None:
    async with Resources.open(settings, role) as resources, resources.sessions() as session:
        shown = await session.execute(
            text(
                "SELECT current_setting('statement_timeout'),"
                " current_setting('idle_in_transaction_session_timeout')"
            )
        )
        assert tuple(shown.one()) == (statement_timeout, "1min")


async def test_a_statement_over_the_timeout_is_a_clean_503(
    settings: Settings, database_url: str, admin_headers: dict[str, str]
) -> None:
    # Without the number cache: a list page from memory needs no statement at all.
    impatient = dataclasses.replace(
        settings, database_statement_timeout_seconds=0.5, number_cache_size=0
    )
    async with AsyncTestClient(app=create_app(impatient)) as client:
        async with connected(database_url) as blocker, blocker.transaction():
            # Every read of the mirror now waits for this transaction to end.
            await blocker.execute("LOCK TABLE numbers IN ACCESS EXCLUSIVE MODE")
            for path in ("/v1/numbers", "/v1/costs?month=2026-11", "/v1/costs/forecast"):
                response = await asyncio.wait_for(
                    client.get(path, headers=admin_headers), timeout=15
                )
                assert response.status_code == 503, (path, response.text)
                assert response.json() == {
                    "status": 503,
                    "code": "database_timeout",
                    "message": "The database did not answer in time; try again later.",
                }
        # The pool's connections survived the cancelled statements.
        assert (await client.get("/v1/numbers", headers=admin_headers)).status_code == 200
