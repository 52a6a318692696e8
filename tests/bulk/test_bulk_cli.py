"""The operator CLI's ``orders bulk`` and ``numbers bulk-update``, through the real worker."""

from __future__ import annotations

from app.settings import Settings
from tests.support import tenancy
from tests.support.api import Client, Headers
from tests.support.cli import run_cli
from tests.support.operations import fast
from tests.support.sandbox import SandboxProcess
from tests.support.worker import WorkerProcess


async def test_orders_bulk_and_numbers_bulk_update_wait_and_print_the_counts(
    client: Client,
    admin_headers: Headers,
    settings: Settings,
    fresh_sandbox: SandboxProcess,
    sessions: tenancy.Sessions,
) -> None:
    pool = await tenancy.create_pool(client, admin_headers, name="cli-de", country="DE")
    with WorkerProcess(fast(settings)):
        ordered = await run_cli(
            settings,
            "orders",
            "bulk",
            "--country",
            "DE",
            "--count",
            "3",
            "--payment-interval",
            "monthly",
            "--pool",
            pool,
            "--timeout",
            "60",
        )
        assert ordered.exit_code == 0, ordered.output
        assert "succeeded: 3 succeeded, 0 failed" in ordered.stdout
        assert len(fresh_sandbox.ledger()) == 3

        changed = await run_cli(
            settings,
            "numbers",
            "bulk-update",
            "--pool",
            pool,
            "--friendly-name",
            "from the console",
            "--timeout",
            "60",
        )
        assert changed.exit_code == 0, changed.output
        assert "succeeded: 3 succeeded, 0 failed" in changed.stdout
    names = {n["number"]: n["friendly_name"] for n in fresh_sandbox.active()}
    assert sorted(names.values()) == ["from the console"] * 3
    audit = (await client.get("/v1/audit?actor=cli", headers=admin_headers)).json()["items"]
    assert {e["action"] for e in audit} >= {"operation.bulk_order", "operation.bulk_update"}


async def test_the_cli_refuses_what_the_api_refuses(settings: Settings) -> None:
    too_many = await run_cli(
        settings, "orders", "bulk", "--country", "DE", "--count", "101",
        "--payment-interval", "monthly",
    )  # fmt: skip
    assert too_many.exit_code == 1 and "count" in too_many.output
    unfiltered = await run_cli(settings, "numbers", "bulk-update", "--friendly-name", "x")
    assert unfiltered.exit_code == 1 and "filter_required" in unfiltered.output


async def test_no_wait_prints_the_queued_bulk_update(
    client: Client, admin_headers: Headers, settings: Settings
) -> None:
    tenant, _ = await tenancy.create_tenant(client, admin_headers, "acme")
    queued = await run_cli(
        settings, "numbers", "bulk-update", "--tenant", tenant, "--friendly-name", "x",
        "--no-wait",
    )  # fmt: skip
    assert queued.exit_code == 0, queued.output
    operation = await client.get(f"/v1/operations/{queued.stdout.strip()}", headers=admin_headers)
    assert (operation.json()["kind"], operation.json()["status"]) == ("bulk_update", "queued")
    assert operation.json()["params"]["tenant"] == tenant
