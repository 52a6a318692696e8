"""Delivering events to webhook endpoints: each number's events to each endpoint in order.

A run delivers what is due to one endpoint, in rounds. A round reads the endpoint's due
deliveries (oldest events first, up to :data:`BATCH`), and for each ordering key among
them (a number, or one event of no number) POSTs its deliveries one after another until
one is not answered 2xx: that one waits for its next attempt (capped exponential backoff
with equal jitter), and the ones after it wait behind it, so a receiver gets a number's
events in the order they happened. Keys go side by side (up to :data:`PARALLEL_KEYS`),
and a round's attempts are recorded together. A session-level advisory lock on the
endpoint keeps a second run out (a job run twice, two workers); nothing else is held
while an endpoint answers.

Every attempt is a ``delivery_attempts`` row, recorded with the delivery's new state in
one statement. A delivery not answered 2xx within ``WEBHOOK_RETRY_WINDOW_SECONDS`` of its
first attempt is ``failed`` and the next one goes ahead. An endpoint whose attempts have
failed for ``WEBHOOK_DISABLE_AFTER_SECONDS`` without one success is disabled, and an
``endpoint.disabled`` event goes to admin.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ssl
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import msgspec
import structlog
from sqlalchemy import Boolean, Row, bindparam, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from app.db.locks import release_lock, try_lock
from app.db.models import Delivery, DeliveryAttempt, Event, WebhookEndpoint
from app.db.vocabulary import DeliveryStatus, EventType
from app.events.endpoint_schemas import endpoint_out
from app.events.outbox import emit
from app.events.safety import Target, UnsafeUrl, allowed_hosts, resolve_target
from app.events.schemas import event_out
from app.events.signing import signature_headers
from app.lib.backoff import equal_jitter
from app.settings import Settings

log = structlog.get_logger(__name__)

#: Deliveries read in one round: one select and one record for the lot.
BATCH = 200
#: Keys of one endpoint POSTed to side by side: the most requests in flight to one
#: receiver from one run.
PARALLEL_KEYS = 16
#: How much of an answer's body is read and kept.
RESPONSE_BYTES = 1024
USER_AGENT = "seven-numbers-webhooks/1"


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    timeout: float
    retry_window: float
    backoff_initial: float
    backoff_max: float
    disable_after: float
    allowed: frozenset[str]

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryPolicy:
        return cls(
            timeout=settings.webhook_timeout_seconds,
            retry_window=settings.webhook_retry_window_seconds,
            backoff_initial=settings.webhook_backoff_initial_seconds,
            backoff_max=settings.webhook_backoff_max_seconds,
            disable_after=settings.webhook_disable_after_seconds,
            allowed=allowed_hosts(settings.webhook_allowed_hosts),
        )

    def delay(self, attempts: int) -> float:
        """The wait after ``attempts`` failed ones: equal jitter (app.lib.backoff), so
        receivers that failed together are not retried together."""
        return equal_jitter(attempts, self.backoff_initial, self.backoff_max)


def lock_key(endpoint_id: uuid.UUID) -> int:
    """63 bits of the endpoint's id, for a session-level advisory lock."""
    digest = hashlib.sha256(f"delivery:{endpoint_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


@dataclass(frozen=True, slots=True)
class Answer:
    status_code: int | None = None
    latency_ms: int | None = None
    response: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _now() -> datetime:
    return datetime.now(UTC)


#: Per key of the endpoint, its first pending delivery that waits for its next attempt:
#: the key's later deliveries wait behind it. Few rows (keys whose endpoint failed them
#: lately), found through the pending deliveries' ``next_attempt_at`` index.
_BLOCKED = (
    select(Delivery.key, func.min(Delivery.event_seq).label("from_seq"))
    .where(
        Delivery.endpoint_id == bindparam("endpoint_id"),
        Delivery.status == DeliveryStatus.PENDING,
        Delivery.next_attempt_at > func.now(),
    )
    .group_by(Delivery.key)
    .cte("blocked")
)

#: The endpoint's due deliveries, oldest event first, with what a POST needs: pending,
#: due, and before their key's first delivery that is waiting (if any); none while the
#: endpoint is disabled.
_DUE = (
    select(
        Delivery.id.label("delivery_id"),
        Delivery.key,
        Delivery.attempts,
        Delivery.first_attempt_at,
        Delivery.next_attempt_at,
        Event.id,
        Event.type,
        Event.created_at,
        Event.tenant_id,
        Event.number,
        Event.data,
        WebhookEndpoint.url,
        WebhookEndpoint.secret,
    )
    .join(Event, Event.seq == Delivery.event_seq)
    .join(WebhookEndpoint, WebhookEndpoint.id == Delivery.endpoint_id)
    .outerjoin(_BLOCKED, _BLOCKED.c.key == Delivery.key)
    .where(
        Delivery.endpoint_id == bindparam("endpoint_id"),
        Delivery.status == DeliveryStatus.PENDING,
        Delivery.next_attempt_at <= func.now(),
        WebhookEndpoint.enabled,
        or_(_BLOCKED.c.from_seq.is_(None), Delivery.event_seq < _BLOCKED.c.from_seq),
    )
    .order_by(Delivery.event_seq)
    .limit(bindparam("limit"))
)

# One statement records an attempt and what it decided (atomic with no transaction around
# it): the attempt's row, the delivery's new state, and after a 2xx the endpoint no longer
# failing. Built once, so SQLAlchemy compiles it once; a batch of attempts is one
# executemany.
_RECORD = (
    update(Delivery)
    .where(Delivery.id == bindparam("delivery"))
    .values(
        status=bindparam("new_status"),
        attempts=Delivery.attempts + 1,
        first_attempt_at=func.coalesce(Delivery.first_attempt_at, bindparam("attempted_at")),
        next_attempt_at=bindparam("attempt_next_at"),
        finished_at=bindparam("finished"),
    )
    .add_cte(
        insert(DeliveryAttempt)
        .values(
            delivery_id=bindparam("delivery"),
            at=bindparam("attempted_at"),
            status_code=bindparam("answer_status"),
            latency_ms=bindparam("answer_ms"),
            response=bindparam("answer_body"),
            error=bindparam("answer_error"),
        )
        .cte("attempt")
    )
    .add_cte(
        update(WebhookEndpoint)
        .where(
            WebhookEndpoint.id == bindparam("endpoint"),
            WebhookEndpoint.failing_since.is_not(None),
            bindparam("answered", type_=Boolean),
        )
        .values(failing_since=None)
        .cte("recovered")
    )
)


@dataclass(frozen=True, slots=True)
class Outcome:
    """An attempt and the delivery's state after it, as :data:`_RECORD` writes them."""

    delivery: Row[Any]
    answer: Answer
    at: datetime
    status: DeliveryStatus
    next_attempt_at: datetime

    def parameters(self, endpoint_id: uuid.UUID) -> dict[str, Any]:
        return {
            "delivery": self.delivery.delivery_id,
            "endpoint": endpoint_id,
            "attempted_at": self.at,
            "new_status": self.status,
            "attempt_next_at": self.next_attempt_at,
            "finished": None if self.status == DeliveryStatus.PENDING else self.at,
            "answered": self.answer.ok,
            "answer_status": self.answer.status_code,
            "answer_ms": self.answer.latency_ms,
            "answer_body": self.answer.response,
            "answer_error": self.answer.error,
        }


@dataclass(slots=True)
class _Run:
    again: bool = False
    """Set by a look that found due deliveries while the run went on: it looks again."""


def delivery_client(tls: ssl.SSLContext) -> httpx.AsyncClient:
    """An HTTP client for deliveries. No redirects (a receiver could send a delivery
    elsewhere); no proxy from the environment (the address checked must be the one
    connected to)."""
    return httpx.AsyncClient(follow_redirects=False, trust_env=False, verify=tls)


@dataclass(slots=True)
class Lanes:
    """HTTP clients for POSTs made side by side, one client per POST in flight, kept for
    the next ones (with their keep-alive connections). httpx's connection pool examines
    every pooled connection on every request (its expiry, whether the socket turned
    readable, how many are idle): one client shared by 16 lanes cost 2 to 2.4 times the
    CPU per request of a client each (bench/webhook_clients.py). The clients share one
    TLS context: loading the CA bundle for each new client took 32 ms of the event loop."""

    _tls: ssl.SSLContext = field(default_factory=httpx.create_ssl_context)
    _idle: list[httpx.AsyncClient] = field(default_factory=list)
    _all: list[httpx.AsyncClient] = field(default_factory=list)

    @contextlib.asynccontextmanager
    async def client(self) -> AsyncIterator[httpx.AsyncClient]:
        if self._idle:
            http = self._idle.pop()
        else:
            http = delivery_client(self._tls)
            self._all.append(http)
        try:
            yield http
        finally:
            self._idle.append(http)

    async def aclose(self) -> None:
        clients, self._all, self._idle = self._all, [], []
        for http in clients:
            await http.aclose()


@dataclass(frozen=True, slots=True)
class Deliverer:
    """Runs deliveries; one per worker process, with its HTTP clients."""

    engine: AsyncEngine
    lanes: Lanes
    policy: DeliveryPolicy
    #: The endpoints this process is delivering to now, each with its "look again" flag.
    _running: dict[uuid.UUID, _Run] = field(default_factory=dict)

    def look_again(self, endpoint_id: uuid.UUID) -> bool:
        """Tell this process's run for the endpoint, if there is one, to look for due
        deliveries again before it ends; True: there is one (no job is needed)."""
        run = self._running.get(endpoint_id)
        if run is not None:
            run.again = True
        return run is not None

    async def run(self, endpoint_id: uuid.UUID) -> int:
        """Deliver what is due to the endpoint; how many were answered 2xx (0 too when
        another run has the endpoint)."""
        if self.look_again(endpoint_id):
            return 0  # this process delivers to it already, and will look again
        run = self._running[endpoint_id] = _Run()
        try:
            return await self._run(endpoint_id, run)
        finally:
            if self._running.get(endpoint_id) is run:
                del self._running[endpoint_id]

    async def _run(self, endpoint_id: uuid.UUID, run: _Run) -> int:
        lock = lock_key(endpoint_id)
        delivered = 0
        async with self.engine.connect() as connection:
            # Every statement of a run commits on its own (a round's attempts and what
            # they decided are one statement): no transaction is open while an endpoint
            # answers, and recording costs one round trip a round.
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            # A delivery committed while the run ends may find this run's job still
            # queued or running (another job for it finds the lock taken): so the run
            # looks once more after letting go, and goes on if it can take it again.
            while await try_lock(connection, lock):
                try:
                    while due := await self._due(connection, endpoint_id, BATCH):
                        answered, disabled = await self._round(connection, endpoint_id, due)
                        delivered += answered
                        if disabled:
                            return delivered
                finally:
                    await release_lock(connection, lock)
                again, run.again = run.again, False
                if not again and not await self._due(connection, endpoint_id, 1) and not run.again:
                    # Done: from here on (no await in between) a look wanting the
                    # endpoint finds no run here and queues a job.
                    del self._running[endpoint_id]
                    break
        return delivered

    async def _due(
        self, connection: AsyncConnection, endpoint_id: uuid.UUID, limit: int
    ) -> list[Row[Any]]:
        rows = await connection.execute(_DUE, {"endpoint_id": endpoint_id, "limit": limit})
        return list(rows)

    async def _round(
        self, connection: AsyncConnection, endpoint_id: uuid.UUID, due: list[Row[Any]]
    ) -> tuple[int, bool]:
        """POST each key's due deliveries in order, keys side by side; record every
        attempt in one statement (a run cut off before that sends them again: at least
        once, same ids, same order). How many were answered 2xx, and whether the failures
        disabled the endpoint."""
        by_key: dict[str, list[Row[Any]]] = {}
        for delivery in due:
            by_key.setdefault(delivery.key, []).append(delivery)
        gate = asyncio.Semaphore(PARALLEL_KEYS)
        # The endpoint's address, checked once for the round (its deliveries share the URL).
        try:
            target: Target | UnsafeUrl = await resolve_target(due[0].url, self.policy.allowed)
        except UnsafeUrl as refused:
            target = refused

        async def deliver_key(deliveries: list[Row[Any]]) -> list[Outcome]:
            outcomes: list[Outcome] = []
            async with gate, self.lanes.client() as http:
                for delivery in deliveries:
                    answer = await self._post(http, target, delivery)
                    _log_attempt(endpoint_id, delivery, answer)
                    outcomes.append(self._decide(delivery, answer))
                    if outcomes[-1].status == DeliveryStatus.PENDING:
                        break  # the key's later deliveries wait behind this one
            return outcomes

        rounds = await asyncio.gather(*(deliver_key(batch) for batch in by_key.values()))
        outcomes = [outcome for key_outcomes in rounds for outcome in key_outcomes]
        await connection.execute(_RECORD, [o.parameters(endpoint_id) for o in outcomes])
        failed = [o for o in outcomes if not o.answer.ok]
        disabled = bool(failed) and await self._note_failing(endpoint_id, failed[-1].at)
        return sum(o.answer.ok for o in outcomes), disabled

    def _decide(self, delivery: Row[Any], answer: Answer) -> Outcome:
        """Delivered on a 2xx; else tried again after the backoff, unless that would fall
        past the retry window from the first attempt: then failed, and the key's next
        delivery goes ahead."""
        now = _now()
        if answer.ok:
            return Outcome(
                delivery, answer, now, DeliveryStatus.DELIVERED, delivery.next_attempt_at
            )
        retry_at = now + timedelta(seconds=self.policy.delay(delivery.attempts + 1))
        window_ends = (delivery.first_attempt_at or now) + timedelta(
            seconds=self.policy.retry_window
        )
        if retry_at > window_ends:
            return Outcome(delivery, answer, now, DeliveryStatus.FAILED, delivery.next_attempt_at)
        return Outcome(delivery, answer, now, DeliveryStatus.PENDING, retry_at)

    async def _post(
        self, http: httpx.AsyncClient, target: Target | UnsafeUrl, delivery: Row[Any]
    ) -> Answer:
        if isinstance(target, UnsafeUrl):
            return Answer(error=f"address_refused: {target}")
        body = msgspec.json.encode(event_out(delivery))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            **signature_headers(delivery.secret, str(delivery.id), int(time.time()), body),
        }
        extensions = {}
        if target.host is not None:
            headers["Host"] = target.host
            extensions["sni_hostname"] = target.host.rsplit(":", 1)[0].strip("[]")
        started = time.perf_counter()
        try:
            async with http.stream(
                "POST",
                target.url,
                content=body,
                headers=headers,
                extensions=extensions,
                timeout=self.policy.timeout,
            ) as response:
                kept = bytearray()
                async for chunk in response.aiter_raw():
                    kept += chunk
                    if len(kept) >= RESPONSE_BYTES:
                        break
        except httpx.TimeoutException:
            return Answer(latency_ms=_ms_since(started), error="timeout")
        except httpx.HTTPError as error:
            return Answer(latency_ms=_ms_since(started), error=type(error).__name__)
        return Answer(
            status_code=response.status_code,
            latency_ms=_ms_since(started),
            response=kept[:RESPONSE_BYTES].decode("utf-8", errors="replace"),
        )

    async def _note_failing(self, endpoint_id: uuid.UUID, now: datetime) -> bool:
        """Mark the endpoint failing since ``now`` unless it already was; disable it (and
        tell the admin) once it has failed for ``disable_after``. True: disabled."""
        async with AsyncSession(self.engine, expire_on_commit=False) as session, session.begin():
            endpoint = await session.get(WebhookEndpoint, endpoint_id, with_for_update=True)
            if endpoint is None or not endpoint.enabled:
                return endpoint is not None
            endpoint.failing_since = endpoint.failing_since or now
            if now - endpoint.failing_since < timedelta(seconds=self.policy.disable_after):
                return False
            endpoint.enabled = False
            await session.flush()
            await session.refresh(endpoint)  # updated_at, as the database set it
            disabled = endpoint_out(endpoint)
            await emit(session, EventType.ENDPOINT_DISABLED, tenant=None, data=disabled)
        log.warning("webhook_endpoint_disabled", endpoint=str(endpoint_id))
        return True


def _log_attempt(endpoint_id: uuid.UUID, delivery: Row[Any], answer: Answer) -> None:
    log.info(
        "webhook_attempt",
        endpoint=str(endpoint_id),
        event_id=str(delivery.id),
        status_code=answer.status_code,
        error=answer.error,
        latency_ms=answer.latency_ms,
    )


def _ms_since(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
