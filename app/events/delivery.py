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

import httpx
import msgspec
import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

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
        async with (
            self.engine.connect() as connection,
            AsyncSession(bind=connection, expire_on_commit=False) as session,
        ):
            # A delivery committed while the run ends may find this run's job still
            # queued (no new job for it): so the run looks once more after letting go
            # of the key, and goes on if it can take the key again.
            while await try_lock(connection, lock):
                try:
                    delivered += await self._deliver_due(session, endpoint_id, key)
                finally:
                    await release_lock(connection, lock)
                if not await self._due(session, endpoint_id, key, 1):
                    break
                await session.commit()
        return delivered

    async def _deliver_due(self, session: AsyncSession, endpoint_id: uuid.UUID, key: str) -> int:
        delivered = 0
        while due := await self._due(session, endpoint_id, key, BATCH):
            # No transaction stays open while the endpoint answers.
            await session.commit()
            for delivery in due:
                answer = await self._post(*delivery)
                if not await self._record(session, *delivery, answer):
                    return delivered
                delivered += answer.ok
        await session.commit()
        return delivered

    async def _due(
        self, session: AsyncSession, endpoint_id: uuid.UUID, key: str, limit: int
    ) -> list[tuple[Delivery, Event, WebhookEndpoint]]:
        """The key's oldest pending deliveries, up to the first one not due (the later ones
        wait behind it); none while the endpoint is disabled."""
        rows = await session.execute(
            select(Delivery, Event, WebhookEndpoint)
            .join(Event, Event.seq == Delivery.event_seq)
            .join(WebhookEndpoint, WebhookEndpoint.id == Delivery.endpoint_id)
            .where(
                Delivery.endpoint_id == endpoint_id,
                Delivery.key == key,
                Delivery.status == DeliveryStatus.PENDING,
            )
            .order_by(Delivery.event_seq)
            .limit(limit)
            .execution_options(populate_existing=True)
        )
        now = _now()
        due: list[tuple[Delivery, Event, WebhookEndpoint]] = []
        for delivery, event, endpoint in rows.tuples():
            if not endpoint.enabled or delivery.next_attempt_at > now:
                break
            due.append((delivery, event, endpoint))
        return due

    async def _post(self, delivery: Delivery, event: Event, endpoint: WebhookEndpoint) -> Answer:
        try:
            target = await resolve_target(endpoint.url, self.policy.allowed)
        except UnsafeUrl as refused:
            return Answer(error=f"address_refused: {refused}")
        body = msgspec.json.encode(event_out(event))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            **signature_headers(endpoint.secret, str(event.id), int(time.time()), body),
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

    async def _record(
        self,
        session: AsyncSession,
        delivery: Delivery,
        event: Event,
        endpoint: WebhookEndpoint,
        answer: Answer,
    ) -> bool:
        """Commit the attempt and what it decided; True: the key's next delivery may go."""
        now = _now()
        session.add(
            DeliveryAttempt(
                delivery_id=delivery.id,
                status_code=answer.status_code,
                latency_ms=answer.latency_ms,
                response=answer.response,
                error=answer.error,
            )
        )
        delivery.attempts += 1
        delivery.first_attempt_at = delivery.first_attempt_at or now
        go_on = True
        if answer.ok:
            delivery.status = DeliveryStatus.DELIVERED
            delivery.finished_at = now
            endpoint.failing_since = None
        else:
            delay = self.policy.delay(delivery.attempts)
            window_ends = delivery.first_attempt_at + timedelta(seconds=self.policy.retry_window)
            if now + timedelta(seconds=delay) > window_ends:
                delivery.status = DeliveryStatus.FAILED
                delivery.finished_at = now
            else:
                delivery.next_attempt_at = now + timedelta(seconds=delay)
                go_on = False
            endpoint.failing_since = endpoint.failing_since or now
            if endpoint.enabled and now - endpoint.failing_since >= timedelta(
                seconds=self.policy.disable_after
            ):
                endpoint.enabled = False
                go_on = False
                await session.flush()
                await session.refresh(endpoint)  # updated_at, as the database set it
                disabled = endpoint_out(endpoint)
                await emit(session, EventType.ENDPOINT_DISABLED, tenant=None, data=disabled)
                log.warning("webhook_endpoint_disabled", endpoint=str(endpoint.id))
        await session.commit()
        log.info(
            "webhook_attempt",
            endpoint=str(endpoint.id),
            event_id=str(event.id),
            status_code=answer.status_code,
            error=answer.error,
            latency_ms=answer.latency_ms,
        )
        return go_on


def _ms_since(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
