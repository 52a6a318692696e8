"""``client.events.verify`` on deliveries the service signed and sent, as a receiver gets
them; and the same deliveries pass the ``standardwebhooks`` package's check."""

from __future__ import annotations

import time

import pytest
from seven_numbers_client import Client, WebhookVerificationError, models, verify
from standardwebhooks import Webhook

from app.events.signing import new_secret, signature_headers
from tests.events.hooks import received
from tests.events.receiver import receiving
from tests.support.tenancy import ADMIN_KEY


async def test_a_delivery_signed_by_the_service_verifies(service: str) -> None:
    with receiving() as receiver, Client(base_url=service, api_key=ADMIN_KEY) as client:
        endpoint = client.webhook_endpoints.create(url=receiver.url, events=["*"])
        assert endpoint.secret.startswith("whsec_")
        assert [e.id for e in client.webhook_endpoints.list()] == [endpoint.id]
        ping = client.webhook_endpoints.test(endpoint.id)
        await received(receiver, 1)
        [delivery] = receiver.requests

        event = client.events.verify(delivery.body, delivery.headers, endpoint.secret)
        assert (event.id, event.type) == (ping.id, models.EventType.PING)
        assert Webhook(endpoint.secret).verify(delivery.body, delivery.headers)["id"] == str(
            ping.id
        )
        [attempt] = list(client.webhook_endpoints.deliveries(endpoint.id))
        assert attempt.event == ping.id

        with pytest.raises(WebhookVerificationError, match="signature"):
            client.events.verify(delivery.body + b" ", delivery.headers, endpoint.secret)
        with pytest.raises(WebhookVerificationError, match="signature"):
            client.events.verify(delivery.body, delivery.headers, new_secret())
        with pytest.raises(WebhookVerificationError, match="tolerance"):
            verify(delivery.body, delivery.headers, endpoint.secret, now=time.time() + 3600)
        client.webhook_endpoints.delete(endpoint.id)
        assert client.webhook_endpoints.list() == []


def test_verify_takes_any_of_several_signatures_and_refuses_a_missing_header() -> None:
    secret, old = new_secret(), new_secret()
    body = (
        b'{"id": "0b6f5c7e-3f8a-4c1e-9d2a-6b1e2f3a4b5c", "type": "ping",'
        b' "created_at": "2026-11-30T10:00:00Z", "tenant": null, "number": null, "data": {}}'
    )
    now = int(time.time())
    headers = signature_headers(secret, "0b6f5c7e-3f8a-4c1e-9d2a-6b1e2f3a4b5c", now, body)
    stale_signature = signature_headers(old, headers["webhook-id"], now, body)
    # While a secret is rotated, a delivery carries a signature by each.
    signatures = [stale_signature["webhook-signature"], headers["webhook-signature"]]
    rotated = {**headers, "webhook-signature": " ".join(signatures)}
    assert verify(body, rotated, secret).type == models.EventType.PING
    without = {name: value for name, value in headers.items() if name != "webhook-timestamp"}
    with pytest.raises(WebhookVerificationError, match="webhook-timestamp"):
        verify(body, without, secret)
