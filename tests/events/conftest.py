"""Fixtures of the events tests: settings and an API that let webhooks go to loopback."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest
from litestar.testing import AsyncTestClient

from app.asgi import create_app
from app.settings import Settings
from tests.support.api import Client

LOOPBACK = "127.0.0.1"


@pytest.fixture
def hooks_settings(settings: Settings) -> Settings:
    """Loopback allowed (the receivers are on it); retries within a fraction of a second."""
    return dataclasses.replace(
        settings,
        webhook_allowed_hosts=LOOPBACK,
        webhook_backoff_initial_seconds=0.1,
        webhook_backoff_max_seconds=0.3,
    )


@pytest.fixture
async def api(hooks_settings: Settings) -> AsyncIterator[Client]:
    async with AsyncTestClient(app=create_app(hooks_settings)) as test_client:
        yield test_client
