"""Operator CLI: ``sync`` (through the real worker), ``drift`` and ``costs``."""

from __future__ import annotations

from pathlib import Path

from app.costs.service import berlin_today
from app.lib.dev_instance import write_env
from app.settings import Settings
from tests.support.api import Client
from tests.support.cli import run_cli
from tests.support.operations import rent
from tests.support.sandbox import SandboxProcess
from tests.support.worker import WorkerProcess


async def test_sync_waits_for_the_worker_and_drift_shows_what_it_found(
    client: Client,
    admin_headers: dict[str, str],
    settings: Settings,
    fresh_sandbox: SandboxProcess,
) -> None:
    nothing = await run_cli(settings, "drift")
    assert nothing.exit_code == 1 and "no sync has run yet" in nothing.output

    first, second, third = rent(fresh_sandbox, 3)
    fresh_sandbox.remove_active(third)
    with WorkerProcess(settings):
        baseline = await run_cli(settings, "sync", "--timeout", "30")
        assert baseline.exit_code == 0, baseline.output
        assert "succeeded" in baseline.stdout and "fetched 2, added 2" in baseline.stdout
        fresh_sandbox.put_active(third)
        again = await run_cli(settings, "sync", "--timeout", "30")
        assert again.exit_code == 0, again.output
        assert "fetched 3, added 1" in again.stdout and "drift 1" in again.stdout

    shown = await run_cli(settings, "drift")
    assert shown.exit_code == 0, shown.output
    assert third in shown.stdout and "added" in shown.stdout
    assert first not in shown.stdout and second not in shown.stdout

    # Without a worker: --no-wait prints the queued operation's id, as POST /v1/sync does.
    queued = await run_cli(settings, "sync", "--no-wait")
    assert queued.exit_code == 0, queued.output
    operation = await client.get(f"/v1/operations/{queued.stdout.strip()}", headers=admin_headers)
    assert (operation.json()["kind"], operation.json()["status"]) == ("sync", "queued")
    timed_out = await run_cli(settings, "sync", "--timeout", "1")
    assert timed_out.exit_code == 3 and "still queued" in timed_out.output


async def test_sync_force_applies_a_run_the_removal_guard_refused(
    settings: Settings, fresh_sandbox: SandboxProcess
) -> None:
    numbers = rent(fresh_sandbox, 2)
    with WorkerProcess(settings):
        assert (await run_cli(settings, "sync", "--timeout", "30")).exit_code == 0
        for number in numbers:
            fresh_sandbox.remove_active(number)
        refused = await run_cli(settings, "sync", "--timeout", "30")
        assert refused.exit_code == 1, refused.output
        assert "sync_guard_tripped" in refused.output and "--force" in refused.output
        forced = await run_cli(settings, "sync", "--force", "--timeout", "30")
        assert forced.exit_code == 0, forced.output
        assert "removed 2" in forced.stdout


async def test_costs_prints_a_table_and_exports_the_apis_csv(
    client: Client,
    admin_headers: dict[str, str],
    settings: Settings,
    fresh_sandbox: SandboxProcess,
    tmp_path: Path,
) -> None:
    # Read before the work: the numbers are rented on this day, whatever the clock says after.
    month = f"{berlin_today():%Y-%m}"
    numbers = rent(fresh_sandbox, 2)
    with WorkerProcess(settings):
        assert (await run_cli(settings, "sync", "--timeout", "30")).exit_code == 0

    exported = tmp_path / "costs.csv"
    args = ["costs", "--month", month, "--group-by", "number", "--basis", "accrual"]
    written = await run_cli(settings, *args, "--csv", str(exported))
    assert written.exit_code == 0, written.output
    api = await client.get(
        "/v1/costs",
        params={"month": month, "group_by": "number", "basis": "accrual"},
        headers={**admin_headers, "Accept": "text/csv"},
    )
    assert api.status_code == 200, api.text
    assert exported.read_text() == api.text
    assert all(number in api.text for number in numbers)

    table = await run_cli(settings, "costs", "--group-by", "number")
    assert table.exit_code == 0, table.output
    assert "total" in table.stdout and numbers[0] in table.stdout
    # Grouped by number a row has no name: an empty cell, not Python's "None".
    assert "None" not in table.stdout

    for bad in (["--month", "2026-13"], ["--group-by", "planet"], ["--basis", "x"]):
        refused = await run_cli(settings, "costs", *bad)
        assert refused.exit_code == 2, (bad, refused.output)


async def test_the_cli_finds_the_running_make_run_through_its_env_file(
    settings: Settings, tmp_path: Path
) -> None:
    """``make run`` writes its addresses to ``<data dir>/env``: the CLI reads what the
    environment leaves unset, and says where an unreachable address came from."""
    env_file = tmp_path / "env"
    unset = {"DATABASE_URL": None, "REDIS_URL": None, "SEVEN_NUMBERS_DATA_DIR": str(tmp_path)}
    missing = await run_cli(settings, "costs", env=unset)
    assert missing.exit_code == 2 and str(env_file) in missing.output

    write_env(env_file, {"DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url})
    found = await run_cli(settings, "costs", env=unset)
    assert found.exit_code == 0, found.output
    assert "total" in found.stdout

    gone = "postgresql://seven:hunter2-secret@127.0.0.1:9/seven_numbers"  # port 9: nobody
    write_env(env_file, {"DATABASE_URL": gone, "REDIS_URL": settings.redis_url})
    refused = await run_cli(settings, "costs", env=unset)
    assert refused.exit_code == 2, refused.output
    assert f"127.0.0.1:9/seven_numbers (DATABASE_URL from {env_file})" in refused.output
    assert "hunter2-secret" not in refused.output

    # What the environment sets wins over the file.
    chosen = {**unset, "DATABASE_URL": settings.database_url}
    assert (await run_cli(settings, "costs", env=chosen)).exit_code == 0
    wrong = {**unset, "DATABASE_URL": gone.replace(":9/", ":10/")}
    from_environment = await run_cli(settings, "costs", env=wrong)
    assert "(DATABASE_URL from the environment)" in from_environment.output


async def test_the_clis_sync_is_audited_as_the_apis_with_actor_cli(
    client: Client, admin_headers: dict[str, str], settings: Settings
) -> None:
    api = await client.post("/v1/sync", headers={**admin_headers, "X-Request-Id": "sync-1"})
    assert api.status_code == 202, api.text
    cli = (await run_cli(settings, "sync", "--no-wait")).stdout.strip()

    trail = await client.get(
        "/v1/audit", params={"action": "operation.sync"}, headers=admin_headers
    )
    rows = {row["details"]["operation"]: row for row in trail.json()["items"]}
    by_api, by_cli = rows[api.json()["id"]], rows[cli]
    assert (by_api["actor"], by_api["request_id"]) == ("bootstrap", "sync-1")
    assert (by_cli["actor"], by_cli["request_id"]) == ("cli", "cli:sync")
    same = ("action", "scope", "key", "tenant", "outcome")
    assert {k: by_cli[k] for k in same} == {k: by_api[k] for k in same}
    assert (by_api["target"], by_cli["target"]) == (
        f"operation:{api.json()['id']}",
        f"operation:{cli}",
    )
