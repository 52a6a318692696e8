"""A full flow through a real uvicorn and a real worker, then every log line searched for
every key and secret the flow used (and the keys' hashes): none may appear.

Also checks that the logs are one JSON object per line where structlog writes them, and
that an order's request id shows up in the API's line and in its job's line.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.costs.service import berlin_today
from app.lib.auth import hash_key
from app.settings import Settings
from app.seven.signing import sign_headers
from tests.support.api import ApiProcess
from tests.support.operations import wait_finished
from tests.support.sandbox import SandboxProcess
from tests.support.tenancy import create_tenant
from tests.support.webhooks import sms_mo
from tests.support.worker import WorkerProcess


@pytest.fixture
def sandbox_with_unique_secrets() -> Iterator[SandboxProcess]:
    """A sandbox with its own API key that also wants every request signed."""
    sandbox = SandboxProcess.start(
        api_key=f"seven-{secrets.token_hex(16)}", signing_secret=f"sign-{secrets.token_hex(16)}"
    )
    yield sandbox
    sandbox.stop()


def forms(secret: str) -> list[str]:
    """The secret and the ways its hash could be printed."""
    digest = hash_key(secret)
    return [secret, digest.hex(), base64.b64encode(digest).decode(), repr(digest)[2:-1]]


async def test_a_full_flow_logs_no_key_or_secret(
    settings: Settings, sandbox_with_unique_secrets: SandboxProcess, tmp_path: Path
) -> None:
    sandbox = sandbox_with_unique_secrets
    signing_secret = sandbox.signing_secret or ""
    flow = dataclasses.replace(
        settings,
        seven_api_key=sandbox.api_key,
        seven_base_url=sandbox.base_url,
        seven_signing_secret=signing_secret,
        log_level="DEBUG",  # the most a process would ever write
    )
    admin = {"X-Api-Key": flow.admin_api_key or ""}
    wrong_key = f"sn_admin_{secrets.token_hex(16)}"
    api_log, worker_log = tmp_path / "api.log", tmp_path / "worker.log"
    number = sandbox.available()[0]["number"]

    with ApiProcess(flow, log_path=api_log) as api, WorkerProcess(flow, log_path=worker_log):
        async with httpx.AsyncClient(base_url=api.url, timeout=30) as http:
            _, tenant_key = await create_tenant(http, admin, "acme")
            tenant_headers = {"Authorization": f"Bearer {tenant_key}"}

            ordered = await http.post(
                "/v1/orders", json={"number": number, "payment_interval": "monthly"}, headers=admin
            )
            assert ordered.status_code == 202, ordered.text
            order_request_id = ordered.headers["x-request-id"]
            done = await wait_finished(http, admin, ordered.json()["id"], within=30)
            assert done["status"] == "succeeded", done
            patched = await http.patch(
                f"/v1/numbers/{number}", json={"friendly_name": "front desk"}, headers=admin
            )
            renamed = await wait_finished(http, admin, patched.json()["id"], within=30)
            assert renamed["status"] == "succeeded", renamed
            search = await http.get("/v1/available-numbers", headers=tenant_headers)
            assert search.status_code == 200, search.text
            sync = await http.post("/v1/sync", headers=admin)
            sync_request_id = sync.headers["x-request-id"]
            synced = await wait_finished(http, admin, sync.json()["id"], within=30)
            assert synced["status"] == "succeeded", synced
            month = {"month": f"{berlin_today():%Y-%m}"}
            report = await http.get("/v1/costs", params=month, headers=tenant_headers)
            assert report.status_code == 200, report.text
            csv = await http.get("/v1/costs", params=month, headers={**admin, "Accept": "text/csv"})
            assert csv.status_code == 200
            refused = await http.get("/v1/whoami", headers={"X-Api-Key": wrong_key})
            assert refused.status_code == 401
            body = sms_mo("evt-logs", system=number)
            url = f"{api.url}/v1/webhooks/seven"
            hook = await http.post(
                url, content=body, headers=sign_headers(signing_secret, "POST", url, body)
            )
            assert hook.status_code == 200, hook.text
            forged = await http.post(url, content=body, headers={"X-Signature": "0" * 64})
            assert forged.status_code == 401
            deleted = await http.delete(f"/v1/numbers/{number}", headers=admin)
            gone = await wait_finished(http, admin, deleted.json()["id"], within=30)
            assert gone["status"] == "succeeded", gone

    logs = {"api": api_log.read_text(), "worker": worker_log.read_text()}
    for name, text in logs.items():
        assert text.strip(), f"the {name} wrote no log lines"
    keys = [flow.admin_api_key or "", tenant_key, wrong_key, sandbox.api_key]
    for secret in [signing_secret, *[form for key in keys for form in forms(key)]]:
        for name, text in logs.items():
            assert secret not in text, f"a secret ({secret[:6]}...) is in the {name}'s log"

    # JSON throughout, uvicorn's and httpx's lines included; the worker's only plain lines
    # are arq's banner, printed before the worker configures logging.
    api_lines = [json.loads(line) for line in logs["api"].splitlines()]
    assert any(line.get("logger", "").startswith("uvicorn") for line in api_lines)
    plain = [line for line in logs["worker"].splitlines() if not line.startswith("{")]
    assert all("Starting worker" in line or "redis_version" in line for line in plain), plain
    worker_lines = [json.loads(line) for line in logs["worker"].splitlines() if line[:1] == "{"]

    # One request id from the API's request line into the worker's job line.
    assert any(
        line.get("request_id") == order_request_id and line.get("path") == "/v1/orders"
        for line in api_lines
    )
    jobs = [line for line in worker_lines if line.get("event") == "job"]
    for request_id, job in [
        (order_request_id, "process_operation"),
        (sync_request_id, "sync_mirror"),
    ]:
        assert any(
            line.get("request_id") == request_id and line.get("job") == job for line in jobs
        ), (job, jobs)
    assert {line.get("outcome") for line in jobs} >= {"succeeded", "ran"}
