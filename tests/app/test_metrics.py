"""Metrics: the API's ``/metrics`` and the worker's own listener, after real traffic."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import event

from app.asgi import create_app
from app.lib.metrics import OPERATIONS
from app.settings import Settings
from tests.support.api import Client
from tests.support.operations import available_numbers, order, wait_finished
from tests.support.polling import until
from tests.support.sandbox import SandboxProcess, free_port
from tests.support.tenancy import Sessions, seed_operation
from tests.support.worker import WorkerProcess

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples named ``name`` whose labels include ``labels`` (0 if none)."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The system gauges refreshed often enough for a test to wait for them."""
    return dataclasses.replace(settings, metrics_refresh_seconds=0.1)


async def api_metrics(client: Client, headers: dict[str, str] | None = None) -> Samples:
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    return parse(response.text)


async def refreshed(client: Client, ready: Callable[[Samples], bool]) -> Samples:
    """Scrape until the background refresh has brought what ``ready`` looks for."""

    async def scraped() -> Samples | None:
        samples = await api_metrics(client)
        return samples if ready(samples) else None

    return await until(scraped, "the metrics refresh", every=0.05)


async def worker_metrics(port: int, counter: str, within: float = 20.0) -> Samples:
    """Scrape the worker's listener until ``counter`` appears (it counts as jobs finish)."""
    async with httpx.AsyncClient() as http:

        async def scraped() -> Samples | None:
            try:
                samples = parse((await http.get(f"http://127.0.0.1:{port}/metrics")).text)
            except httpx.TransportError:
                return None  # the worker is still starting its listener
            return samples if value(samples, counter) > 0 else None

        return await until(scraped, f"{counter} at the worker", within, every=0.05)


async def test_api_metrics_count_requests_operations_queue_and_upstream(
    client: Client, admin_headers: dict[str, str], fresh_sandbox: SandboxProcess
) -> None:
    # Counters live as long as the process (other tests count too): compare with before.
    before = await api_metrics(client)
    search = await client.get("/v1/available-numbers", headers=admin_headers)
    assert search.status_code == 200, search.text
    assert (await client.get("/v1/numbers/+49x", headers=admin_headers)).status_code == 422
    # Refused before the route (the key check): counted with its own status too.
    assert (await client.get("/v1/whoami")).status_code == 401
    queued = await order(client, admin_headers, available_numbers(fresh_sandbox, 1)[0])

    samples = await refreshed(
        client, lambda s: value(s, "seven_numbers_operations", kind="order", status="queued") > 0
    )

    def grew(name: str, **labels: str) -> float:
        return value(samples, name, **labels) - value(before, name, **labels)

    requests = "seven_numbers_requests_total"
    assert grew(requests, path="/v1/available-numbers", status_code="200") == 1
    assert grew(requests, path="/v1/orders", method="POST", status_code="202") == 1
    assert grew(requests, status_code="422") >= 1
    assert grew(requests, path="/v1/whoami", status_code="401") == 1
    assert value(samples, "seven_numbers_requests_in_progress", path="/v1/whoami") == 0
    assert grew("seven_numbers_request_duration_seconds_count", path="/v1/available-numbers") == 1
    # No worker runs: the order waits, in Postgres and in the queue.
    assert value(samples, "seven_numbers_operations", kind="order", status="queued") == 1
    assert value(samples, "seven_numbers_oldest_unfinished_operation_age_seconds") > 0
    assert value(samples, "seven_numbers_queue_depth") == 1
    assert grew("seven_numbers_upstream_calls_total", outcome="ok") >= 1
    assert grew("seven_numbers_upstream_call_seconds_count") >= 1
    assert queued["status"] == "queued"


async def test_worker_metrics_show_jobs_retries_upstream_calls_and_syncs(
    client: Client,
    admin_headers: dict[str, str],
    settings: Settings,
    fresh_sandbox: SandboxProcess,
) -> None:
    port = free_port()
    number = available_numbers(fresh_sandbox, 1)[0]
    fresh_sandbox.add_fault("rate_limit", "order", retry_after=0)
    fast = dataclasses.replace(
        settings,
        worker_metrics_port=port,
        operation_backoff_initial_seconds=0.05,
        operation_backoff_max_seconds=0.1,
    )
    with WorkerProcess(fast):
        ordered = await order(client, admin_headers, number)
        assert (await wait_finished(client, admin_headers, ordered["id"]))["status"] == "succeeded"
        # Two syncs: the first is the baseline, the second finds a number added behind
        # our back (drift).
        for run in range(2):
            if run:
                fresh_sandbox.put_active(available_numbers(fresh_sandbox, 2)[1])
            sync = (await client.post("/v1/sync", headers=admin_headers)).json()
            assert (await wait_finished(client, admin_headers, sync["id"]))["status"] == "succeeded"
        samples = await worker_metrics(port, "seven_numbers_sync_drift_total")

    jobs = "seven_numbers_job_seconds_count"
    assert value(samples, jobs, job="process_operation", outcome="retry") == 1
    assert value(samples, jobs, job="process_operation", outcome="succeeded") == 1
    assert value(samples, jobs, job="sync_mirror", outcome="ran") == 2
    assert value(samples, "seven_numbers_job_retries_total", job="process_operation") == 1
    upstream = "seven_numbers_upstream_calls_total"
    assert value(samples, upstream, outcome="ok") >= 3
    assert value(samples, upstream, outcome="rate_limited") == 1
    assert value(samples, "seven_numbers_sync_seconds_count") == 2
    assert value(samples, "seven_numbers_sync_numbers_total", outcome="fetched") == 3
    assert value(samples, "seven_numbers_sync_drift_total", kind="added") == 1


async def test_metrics_need_the_metrics_token_when_one_is_set(settings: Settings) -> None:
    token = "metrics-token-0123456789"
    guarded = dataclasses.replace(settings, metrics_token=token)
    async with AsyncTestClient(app=create_app(guarded)) as client:
        for headers in (
            {},
            {"Authorization": "Bearer wrong-token-0123456789"},
            {"X-Api-Key": token},  # a bearer token, nowhere else
            {"Authorization": f"Basic {token}"},
        ):
            refused = await client.get("/metrics", headers=headers)
            assert refused.status_code == 401, headers
            assert refused.json()["code"] == "unauthorized"
            assert token not in refused.text
        samples = await api_metrics(client, {"Authorization": f"Bearer {token}"})
    assert ("seven_numbers_queue_depth", frozenset()) in samples


async def test_a_scrape_reads_the_gauges_without_querying_the_database(
    settings: Settings, sessions: Sessions
) -> None:
    """The system gauges come from the background refresh: scrapes send no statement (the
    count over all operations runs once per METRICS_REFRESH_SECONDS, not per scrape)."""
    for i in range(3):
        await seed_operation(sessions, f"49151700000{i}", status="failed")
    OPERATIONS.clear()  # nothing left from an earlier test's refresh
    # One refresh at start-up, then none for an hour; no number cache reading the mirror.
    quiet = dataclasses.replace(settings, metrics_refresh_seconds=3600, number_cache_size=0)
    async with AsyncTestClient(app=create_app(quiet)) as client:
        failed = {"kind": "update", "status": "failed"}
        first = await refreshed(
            client, lambda s: value(s, "seven_numbers_operations", **failed) > 0
        )
        assert value(first, "seven_numbers_operations", **failed) == 3

        statements: list[str] = []

        def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            statements.append(statement)

        engine = client.app.state.engine.sync_engine
        event.listen(engine, "before_cursor_execute", seen)
        try:
            for _ in range(5):
                samples = await api_metrics(client)
        finally:
            event.remove(engine, "before_cursor_execute", seen)
    assert statements == []
    assert value(samples, "seven_numbers_operations", **failed) == 3
