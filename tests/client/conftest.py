"""The service as a caller meets it: the API served by uvicorn, the worker, the sandbox."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from app.settings import Settings
from tests.support.api import ApiProcess
from tests.support.worker import WorkerProcess


@pytest.fixture
def service_settings(settings: Settings) -> Settings:
    """Webhooks may go to loopback (the receivers are on it), retried within a second."""
    return dataclasses.replace(
        settings,
        webhook_allowed_hosts="127.0.0.1",
        webhook_backoff_initial_seconds=0.1,
        webhook_backoff_max_seconds=0.3,
    )


@pytest.fixture
def service(service_settings: Settings) -> Iterator[str]:
    """The base URL of the running API, with a worker carrying out its operations."""
    with ApiProcess(service_settings) as api, WorkerProcess(service_settings):
        yield api.url
