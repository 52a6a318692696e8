"""Delivering events to webhook endpoints: one number's events to one endpoint, in order.

A run takes the deliveries of one ordering key (a number, or one event of no number) to
one endpoint, oldest event first, and POSTs each until one is not answered 2xx: that one
waits for its next attempt (capped exponential backoff with equal jitter), and the ones
after it wait behind it, so a receiver gets a number's events in the order they
happened. A session-level advisory lock on the key's connection keeps a second run out
(a job run twice, two workers); nothing else is held while an endpoint answers.

Every attempt is a ``delivery_attempts`` row, committed with the delivery's new state.
A delivery not answered 2xx within ``WEBHOOK_RETRY_WINDOW_SECONDS`` of its first attempt
is ``failed`` and the next one goes ahead. An endpoint whose attempts have failed for
``WEBHOOK_DISABLE_AFTER_SECONDS`` without one success is disabled, and an
``endpoint.disabled`` event goes to admin.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import msgspec
import structlog
from sqlalchemy import Boolean, Row, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from app.db.locks import release_lock, try_lock
from app.db.models import Delivery, DeliveryAttempt, Event, WebhookEndpoint
from app.db.vocabulary import DeliveryStatus, EventType
from app.events.endpoint_schemas import endpoint_out
from app.events.outbox import emit
from app.events.safety import UnsafeUrl, allowed_hosts, resolve_target
from app.events.schemas import event_out
from app.events.signing import signature_headers
from app.lib.backoff import equal_jitter
from app.settings import Settings

log = structlog.get_logger(__name__)

#: A key's deliveries read at once: one select for the lot rather than one per delivery.
BATCH = 50
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


def lock_key(endpoint_id: uuid.UUID, key: str) -> int:
    """63 bits of the (endpoint, key) pair, for a session-level advisory lock."""
    digest = hashlib.sha256(f"delivery:{endpoint_id}:{key}".encode()).digest()
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


#: The key's oldest pending deliveries, with what a POST needs.
_PENDING = (
    select(
        Delivery.id.label("delivery_id"),
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
        WebhookEndpoint.enabled,
    )
    .join(Event, Event.seq == Delivery.event_seq)
    .join(WebhookEndpoint, WebhookEndpoint.id == Delivery.endpoint_id)
    .where(
        Delivery.endpoint_id == bindparam("endpoint_id"),
        Delivery.key == bindparam("key"),
        Delivery.status == DeliveryStatus.PENDING,
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


@dataclass(frozen=True, slots=True)
class Deliverer:
    """Runs deliveries; one per worker process, with its HTTP client."""

    engine: AsyncEngine
    http: httpx.AsyncClient
    policy: DeliveryPolicy

    async def run(self, endpoint_id: uuid.UUID, key: str) -> int:
        """Deliver what is due of ``key`` to the endpoint, in order; how many were
        answered 2xx (0 too when another run has the key)."""
        lock = lock_key(endpoint_id, key)
        delivered = 0
        async with self.engine.connect() as connection:
            # Every statement of a run commits on its own (an attempt and what it decided
            # are one statement): no transaction is open while an endpoint answers, and
            # a delivery costs one round trip to record rather than a transaction's four.
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            # A delivery committed while the run ends may find this run's job still
            # queued (no new job for it): so the run looks once more after letting go
            # of the key, and goes on if it can take the key again.
            while await try_lock(connection, lock):
                try:
                    delivered += await self._deliver_due(connection, endpoint_id, key)
                finally:
                    await release_lock(connection, lock)
                if not await self._due(connection, endpoint_id, key, 1):
                    break
        return delivered

    async def _deliver_due(
        self, connection: AsyncConnection, endpoint_id: uuid.UUID, key: str
    ) -> int:
        """POST the due deliveries in order until one is not answered 2xx; a batch's
        attempts are recorded together after it (a run cut off before that sends them
        again: at least once, same ids, same order)."""
        delivered = 0
        while due := await self._due(connection, endpoint_id, key, BATCH):
            outcomes: list[Outcome] = []
            for delivery in due:
                answer = await self._post(delivery)
                _log_attempt(endpoint_id, delivery, answer)
                outcomes.append(self._decide(delivery, answer))
                if not answer.ok:
                    break
            await connection.execute(_RECORD, [o.parameters(endpoint_id) for o in outcomes])
            delivered += sum(o.answer.ok for o in outcomes)
            last = outcomes[-1]
            if not last.answer.ok:
                disabled = await self._note_failing(endpoint_id, last.at)
                if disabled or last.status == DeliveryStatus.PENDING:
                    break
        return delivered

    async def _due(
        self, connection: AsyncConnection, endpoint_id: uuid.UUID, key: str, limit: int
    ) -> list[Row[Any]]:
        """The key's oldest pending deliveries, up to the first one not due (the later ones
        wait behind it); none while the endpoint is disabled."""
        rows = await connection.execute(
            _PENDING, {"endpoint_id": endpoint_id, "key": key, "limit": limit}
        )
        now = _now()
        due: list[Row[Any]] = []
        for delivery in rows:
            if not delivery.enabled or delivery.next_attempt_at > now:
                break
            due.append(delivery)
        return due

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

    async def _post(self, delivery: Row[Any]) -> Answer:
        try:
            target = await resolve_target(delivery.url, self.policy.allowed)
        except UnsafeUrl as refused:
            return Answer(error=f"address_refused: {refused}")
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
            async with self.http.stream(
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
