"""Prometheus metrics: what each process counts, and the system gauges it refreshes.

Counters and histograms live in the process that does the work (HTTP in the API, jobs,
retries and sync in the worker, upstream calls in both). Figures that are facts about
the whole system (operations by state, the oldest unfinished one, the queue depth) are
read from Postgres and Redis by each API process in the background, every
``METRICS_REFRESH_SECONDS``, so every API replica reports the same truth, nothing has to
be kept in step, and a scrape (however often, by however many scrapers) reads only
memory: the count over all operations runs once per interval, not once per scrape.

The API's ``/metrics`` endpoint is app.lib.metrics_endpoint (this module knows no web
framework, so the worker, which serves its own, imports none).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from arq import ArqRedis
from arq.constants import default_queue_name
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    Counter,
    Gauge,
    Histogram,
    start_http_server,
)
from sqlalchemy import extract, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.models import Operation
from app.db.vocabulary import IN_FLIGHT

log = structlog.get_logger(__name__)

# HTTP requests, as Litestar's PrometheusMiddleware (app_name "seven_numbers", grouped by
# route template) named them; counted by app.lib.request_context instead, which already
# wraps every request: one middleware layer and one Request object per request fewer.
_HTTP_LABELS = ["method", "path", "status_code", "app_name"]
_APP_NAME = "seven_numbers"
HTTP_REQUESTS = Counter("seven_numbers_requests_total", "Total requests", _HTTP_LABELS)
HTTP_REQUEST_SECONDS = Histogram(
    "seven_numbers_request_duration_seconds", "Request duration, in seconds", _HTTP_LABELS
)
HTTP_REQUEST_ERRORS = Counter(
    "seven_numbers_requests_error_total", "Total errors in requests", _HTTP_LABELS
)
HTTP_IN_PROGRESS = Gauge(
    "seven_numbers_requests_in_progress",
    "Total requests currently in progress",
    _HTTP_LABELS,
    multiprocess_mode="livesum",
)
UPSTREAM_CALLS = Counter(
    "seven_numbers_upstream_calls_total",
    "Calls to seven by endpoint and outcome (ok, or the error's code).",
    ["endpoint", "outcome"],
)
UPSTREAM_LATENCY = Histogram(
    "seven_numbers_upstream_call_seconds",
    "Duration of calls to seven by endpoint.",
    ["endpoint"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
JOB_DURATION = Histogram(
    "seven_numbers_job_seconds",
    "Duration of worker jobs by job and outcome.",
    ["job", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
JOB_RETRIES = Counter(
    "seven_numbers_job_retries_total",
    "Retries scheduled by workers, by job and the reason (the error's code).",
    ["job", "reason"],
)
SYNC_DURATION = Histogram(
    "seven_numbers_sync_seconds",
    "Duration of mirror syncs.",
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
SYNC_NUMBERS = Counter(
    "seven_numbers_sync_numbers_total",
    "Numbers seen by syncs, by outcome (fetched, added, changed, removed, missing, unchanged).",
    ["outcome"],
)
SYNC_DRIFT = Counter(
    "seven_numbers_sync_drift_total",
    "Differences found by syncs that no operation of ours explains, by kind.",
    ["kind"],
)
OPERATIONS = Gauge(
    "seven_numbers_operations",
    "Operations in the database by kind and status (refreshed every METRICS_REFRESH_SECONDS).",
    ["kind", "status"],
)
OLDEST_UNFINISHED = Gauge(
    "seven_numbers_oldest_unfinished_operation_age_seconds",
    "Age of the oldest queued or running operation; 0 when there is none.",
)
QUEUE_DEPTH = Gauge("seven_numbers_queue_depth", "Jobs waiting in the arq queue.")
CACHE_EMPTIED = Counter(
    "seven_numbers_cache_emptied_total",
    "An API process's cache emptied while it held rows, by cache and reason (forget_all, "
    "listener_lost, sync_point_missed, aged_out): what it held is read again.",
    ["cache", "reason"],
)

# prometheus_client's media type without its charset: Litestar appends "; charset=utf-8"
# to every text/* type itself, and a second one is a malformed header.
METRICS_MEDIA_TYPE = "; ".join(
    part for part in CONTENT_TYPE_LATEST.split("; ") if not part.startswith("charset=")
)


@functools.cache
def http_in_progress(method: str, path: str) -> Gauge:
    """The in-progress series of a route (labelled as Litestar did: status 200)."""
    return HTTP_IN_PROGRESS.labels(method, path, "200", _APP_NAME)


# Route templates, methods and statuses are few: the series are looked up once each.
@functools.cache
def _http_series(method: str, path: str, status: int) -> tuple[Counter, Histogram, Counter]:
    labels = (method, path, str(status), _APP_NAME)
    return (
        HTTP_REQUESTS.labels(*labels),
        HTTP_REQUEST_SECONDS.labels(*labels),
        HTTP_REQUEST_ERRORS.labels(*labels),
    )


def observe_http_request(method: str, path: str, status: int, seconds: float) -> None:
    requests, duration, errors = _http_series(method, path, status)
    requests.inc()
    duration.observe(seconds)
    if status >= 500:
        errors.inc()


def observe_upstream_call(endpoint: str, outcome: str, seconds: float) -> None:
    """The seven client's CallObserver."""
    UPSTREAM_CALLS.labels(endpoint, outcome).inc()
    UPSTREAM_LATENCY.labels(endpoint).observe(seconds)


def observe_sync(seconds: float, counts: dict[str, int], drift: dict[str, int]) -> None:
    SYNC_DURATION.observe(seconds)
    for outcome, count in counts.items():
        SYNC_NUMBERS.labels(outcome).inc(count)
    for kind, count in drift.items():
        SYNC_DRIFT.labels(kind).inc(count)


class JobTimer:
    """``with JobTimer("process_operation") as timer: ...; timer.outcome = "failed"``."""

    def __init__(self, job: str) -> None:
        self.job = job
        self.outcome = "ok"
        self.seconds = 0.0
        self._started = 0.0

    def __enter__(self) -> JobTimer:
        self._started = time.perf_counter()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: Any) -> None:
        if exc_type is not None:
            # Cancelled = cut off by shutdown or arq's timeout (handed back or retried).
            cancelled = issubclass(exc_type, asyncio.CancelledError)
            self.outcome = "cancelled" if cancelled else "error"
        self.seconds = time.perf_counter() - self._started
        JOB_DURATION.labels(self.job, self.outcome).observe(self.seconds)

    def elapsed(self) -> float:
        """Seconds since the job started (while it runs)."""
        return time.perf_counter() - self._started


_OPERATIONS_BY_STATE = text("SELECT kind, status, count(*) AS n FROM operations GROUP BY 1, 2")
_OLDEST_UNFINISHED = select(
    func.coalesce(extract("epoch", func.now() - func.min(Operation.created_at)), 0)
).where(Operation.status.in_(IN_FLIGHT))


async def refresh_system_gauges(engine: AsyncEngine, queue: ArqRedis) -> None:
    """Read the system-wide figures; a part that is down leaves its gauges as they were."""
    try:
        async with engine.connect() as connection:
            rows = (await connection.execute(_OPERATIONS_BY_STATE)).all()
            oldest = (await connection.execute(_OLDEST_UNFINISHED)).scalar_one()
        OPERATIONS.clear()
        for kind, status, count in rows:
            OPERATIONS.labels(kind, status).set(count)
        OLDEST_UNFINISHED.set(float(oldest))
    except Exception as error:  # metrics must answer even when Postgres does not
        log.warning("metrics_postgres_unavailable", error_type=type(error).__name__)
    try:
        QUEUE_DEPTH.set(await queue.zcard(default_queue_name))
    except Exception as error:
        log.warning("metrics_redis_unavailable", error_type=type(error).__name__)


@asynccontextmanager
async def system_gauges_refreshed(
    engine: AsyncEngine, queue: ArqRedis, every_seconds: float
) -> AsyncIterator[None]:
    """Refresh the system gauges now and every ``every_seconds`` while the block runs."""

    async def refresh_forever() -> None:
        while True:
            await refresh_system_gauges(engine, queue)
            await asyncio.sleep(every_seconds)

    task = asyncio.create_task(refresh_forever(), name="refresh_system_gauges")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.wait([task])  # it has ended; its cancellation is not raised here


def serve_worker_metrics(host: str, port: int) -> None:
    """The worker's own /metrics; a taken port is logged, not fatal (metrics are optional)."""
    if port <= 0:
        return
    try:
        start_http_server(port, addr=host)
    except OSError as error:
        log.warning("worker_metrics_port_unavailable", port=port, error=str(error))
    else:
        log.info("worker_metrics_listening", port=port)
