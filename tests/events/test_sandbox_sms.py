"""The sandbox sends inbound SMS as seven does: signed, form-encoded (or JSON), retried on
429, 5xx and connection errors only; and the service routes them to the holder."""

from __future__ import annotations

import dataclasses
from urllib.parse import parse_qs

import pytest

from app.settings import Settings
from app.seven.signing import verify_signature
from tests.events.hooks import allocate_one, received, register
from tests.events.receiver import receiving
from tests.support import tenancy
from tests.support.api import ApiProcess, Client, Headers
from tests.support.cli import run_cli
from tests.support.sandbox import SIGNING_SECRET, SandboxProcess
from tests.support.tenancy import create_tenant, key_headers
from tests.support.worker import WorkerProcess


@pytest.mark.parametrize(
    ("statuses", "attempts", "last"),
    [([503, 429, 200], 3, 200), ([400], 1, 400), ([500] * 10, 4, 500)],
)
def test_the_sandbox_retries_as_seven_does(
    signature_checking_sandbox: SandboxProcess, statuses: list[int], attempts: int, last: int
) -> None:
    with receiving(statuses) as receiver:
        sent = signature_checking_sandbox.send_sms(receiver.url, to="4915170000001", text="hi")
    assert (sent["attempts"], sent["status"]) == (attempts, last)
    assert len(receiver.requests) == attempts
    first = receiver.requests[0]
    fields = parse_qs(first.body.decode())
    assert fields["webhook_event"] == ["sms_mo"]
    assert (fields["data[system]"], fields["data[text]"], fields["data[id]"]) == (
        ["4915170000001"],
        ["hi"],
        [sent["id"]],
    )
    assert first.headers["Content-Type"] == "application/x-www-form-urlencoded"
    for request in receiver.requests:
        assert verify_signature(SIGNING_SECRET, "POST", receiver.url, request.body, request.headers)


async def test_an_sms_sent_by_the_sandbox_reaches_the_holders_endpoint(
    api: Client,
    admin_headers: Headers,
    hooks_settings: Settings,
    sessions: tenancy.Sessions,
    signature_checking_sandbox: SandboxProcess,
) -> None:
    signed = dataclasses.replace(hooks_settings, seven_signing_secret=SIGNING_SECRET)
    holder, key = await create_tenant(api, admin_headers, "holder")
    number = (await allocate_one(api, admin_headers, sessions, key))["number"]
    with receiving() as receiver, ApiProcess(signed) as service, WorkerProcess(signed):
        await register(api, key_headers(key), receiver.url, ["message.received"])
        sent = signature_checking_sandbox.send_sms(
            f"{service.url}/v1/webhooks/seven",
            to=number,
            text="hello",
            format="json",
        )
        assert (sent["status"], sent["attempts"]) == (200, 1)
        [message] = await received(receiver, 1)
    assert (message["type"], message["tenant"]) == ("message.received", holder)
    assert (message["data"]["id"], message["data"]["text"]) == (sent["id"], "hello")


async def test_the_cli_has_the_sandbox_send_an_sms_that_reaches_its_holder(
    api: Client,
    admin_headers: Headers,
    hooks_settings: Settings,
    sessions: tenancy.Sessions,
    signature_checking_sandbox: SandboxProcess,
) -> None:
    signed = dataclasses.replace(hooks_settings, seven_signing_secret=SIGNING_SECRET)
    holder, key = await create_tenant(api, admin_headers, "holder")
    number = (await allocate_one(api, admin_headers, sessions, key))["number"]
    with ApiProcess(signed) as service:
        # What make run writes to .data/env: the sandbox's /api base and the API's address.
        env = {
            "SEVEN_BASE_URL": signature_checking_sandbox.base_url,
            "SEVEN_NUMBERS_URL": service.url,
        }
        sent = await run_cli(
            signed, "sandbox", "send-sms", "--to", number, "--text", "hello", env=env
        )
    assert sent.exit_code == 0, sent.output
    assert "HTTP 200 after 1 attempt" in sent.stdout
    events = await api.get("/v1/events", headers=key_headers(key))
    [message] = [e for e in events.json()["items"] if e["type"] == "message.received"]
    assert (message["tenant"], message["data"]["text"]) == (holder, "hello")


@pytest.mark.parametrize(
    ("base_url", "said"),
    [
        ("https://gateway.seven.io/api", "not a sandbox"),
        # Nothing listens on port 1; a port chosen at collection would differ between
        # xdist workers, which must collect the same tests.
        ("http://127.0.0.1:1/api", "cannot reach"),
    ],
)
async def test_send_sms_refuses_without_a_running_sandbox(
    settings: Settings, base_url: str, said: str
) -> None:
    env = {"SEVEN_BASE_URL": base_url, "SEVEN_NUMBERS_URL": "http://127.0.0.1:8000"}
    refused = await run_cli(settings, "sandbox", "send-sms", "--to", "491", "--text", "hi", env=env)
    assert refused.exit_code == 2
    assert said in refused.output and len(refused.output.strip().splitlines()) == 1


async def test_send_sms_refuses_a_server_without_the_sandboxs_control_api(
    settings: Settings,
) -> None:
    with receiving([404]) as other:
        base_url = other.url.removesuffix("/hooks") + "/api"
        env = {"SEVEN_BASE_URL": base_url, "SEVEN_NUMBERS_URL": "http://127.0.0.1:8000"}
        refused = await run_cli(
            settings, "sandbox", "send-sms", "--to", "491", "--text", "hi", env=env
        )
    assert refused.exit_code == 2
    assert "not a sandbox" in refused.output and len(refused.output.strip().splitlines()) == 1
