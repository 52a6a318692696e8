"""Health, the schema, and the key check every /v1 route sits behind."""

from __future__ import annotations

from httpx import Response
from litestar.testing import AsyncTestClient

from app.asgi import create_app
from app.settings import Settings
from tests.support.api import Client
from tests.support.polling import until
from tests.support.tenancy import ADMIN_KEY
from tests.support.worker import WorkerProcess


async def test_ready_waits_for_a_worker_heartbeat(client: Client, settings: Settings) -> None:
    assert (await client.get("/health/live")).json() == {"status": "ok"}
    without_worker = await client.get("/health/ready")
    assert without_worker.status_code == 503
    assert without_worker.json()["checks"] == {
        "postgres": "ok",
        "redis": "ok",
        "worker": "unavailable: no worker heartbeat",
    }

    with WorkerProcess(settings):
        ready = await _poll_ready(client)
    assert ready.json()["checks"] == {"postgres": "ok", "redis": "ok", "worker": "ok"}


async def _poll_ready(client: Client) -> Response:
    async def ready() -> Response | None:
        response = await client.get("/health/ready")
        return response if response.status_code == 200 else None

    return await until(ready, "the worker's heartbeat", 30, every=0.1)


async def test_ready_names_the_part_that_is_down(settings: Settings) -> None:
    broken = Settings(**{**_fields(settings), "redis_url": "redis://127.0.0.1:1/0"})
    async with AsyncTestClient(app=create_app(broken)) as client:
        ready = await client.get("/health/ready")
    assert ready.status_code == 503
    assert ready.json()["checks"]["postgres"] == "ok"
    assert ready.json()["checks"]["redis"].startswith("unavailable")


async def test_openapi_schema_and_docs_need_no_key(client: Client) -> None:
    schema = await client.get("/schema/openapi.json")
    assert schema.status_code == 200
    assert "/v1/whoami" in schema.json()["paths"]
    assert "ApiKey" in schema.json()["components"]["securitySchemes"]
    docs = await client.get("/schema")
    assert docs.status_code == 200
    assert "text/html" in docs.headers["content-type"]


async def test_v1_without_a_key_is_401_json(client: Client) -> None:
    response = await client.get("/v1/whoami")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    assert response.json()["status"] == 401


async def test_v1_with_a_wrong_key_is_401_and_does_not_echo_it(client: Client) -> None:
    response = await client.get("/v1/whoami", headers={"X-Api-Key": "sn_wrong_key_123456"})
    assert response.status_code == 401
    assert "sn_wrong_key_123456" not in response.text


async def test_admin_key_by_header_or_bearer(client: Client) -> None:
    for headers in ({"X-Api-Key": ADMIN_KEY}, {"Authorization": f"Bearer {ADMIN_KEY}"}):
        response = await client.get("/v1/whoami", headers=headers)
        assert response.status_code == 200
        assert response.json()["scope"] == "admin"


async def test_unknown_route_is_a_json_404(client: Client) -> None:
    response = await client.get("/v1/nothing-here", headers={"X-Api-Key": ADMIN_KEY})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def _fields(settings: Settings) -> dict[str, object]:
    return {name: getattr(settings, name) for name in Settings.__slots__}


async def test_every_response_carries_a_request_id(client: Client) -> None:
    generated = await client.get("/health/live")
    assert len(generated.headers["x-request-id"]) == 32
    echoed = await client.get("/health/live", headers={"X-Request-Id": "caller-id-1"})
    assert echoed.headers["x-request-id"] == "caller-id-1"
    refused = await client.get("/health/live", headers={"X-Request-Id": "bad id\twith spaces"})
    assert refused.headers["x-request-id"] != "bad id\twith spaces"


async def test_a_body_over_max_body_bytes_is_a_json_413_on_every_route(client: Client) -> None:
    admin = {"X-Api-Key": ADMIN_KEY, "Content-Type": "application/json"}
    megabyte = b'{"number": "' + b"4" * 1_000_000 + b'"}'
    refused = {
        "status": 413,
        "code": "payload_too_large",
        "message": "The request body is larger than 65536 bytes, the most this service accepts.",
        "details": {"max_body_bytes": 65536},
    }
    routes = [
        ("POST", "/v1/orders", admin),
        ("PATCH", "/v1/numbers/4915170264838", admin),
        ("POST", "/v1/webhooks/seven", {"Content-Type": "application/json"}),  # no key needed
        # Routes that never read a body refuse one too, before the handler acts.
        ("DELETE", "/v1/numbers/4915170264838", admin),
        ("GET", "/health/live", {}),
    ]
    for method, path, headers in routes:
        response = await client.request(method, path, content=megabyte, headers=headers)
        assert (response.status_code, response.json()) == (413, refused), (method, path)

    # Just under the limit, the body is read and judged on its content.
    under = await client.post("/v1/orders", content=b" " * 65_000 + b"{}", headers=admin)
    assert (under.status_code, under.json()["code"]) == (422, "validation_error")

    spec = (await client.get("/schema/openapi.json")).json()
    assert "413" in spec["paths"]["/v1/orders"]["post"]["responses"]
    assert "413" not in spec["paths"]["/v1/numbers"]["get"]["responses"]


async def test_text_answers_name_their_charset_once(client: Client) -> None:
    # Litestar appends "; charset=utf-8" to text/* itself; it read "...; charset=utf-8;
    # charset=utf-8" on both.
    metrics = await client.get("/metrics")
    assert metrics.headers["content-type"] == "text/plain; version=1.0.0; charset=utf-8"
    csv = await client.get(
        "/v1/costs?month=2026-03", headers={"X-Api-Key": ADMIN_KEY, "Accept": "text/csv"}
    )
    assert csv.status_code == 200
    assert csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert csv.text.startswith("key,name,numbers,recurring,setup,usage,total\n")
