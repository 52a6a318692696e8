"""The sync through the real arq worker: ``POST /v1/sync``, and two syncs at once."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from sqlalchemy import select

from app.db.engine import create_engine, create_session_factory
from app.db.models import Operation, SyncRun
from app.settings import Settings
from tests.support.api import Client
from tests.support.operations import rent
from tests.support.polling import until
from tests.support.sandbox import SandboxProcess
from tests.support.worker import WorkerProcess, run_burst


async def start_sync(client: Client, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.post("/v1/sync", headers=headers)
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    assert response.headers["location"] == f"/v1/operations/{body['id']}"
    assert (body["kind"], body["status"]) == ("sync", "queued")
    return body


async def operations_and_runs(settings: Settings) -> tuple[list[Operation], list[SyncRun]]:
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        async with create_session_factory(engine)() as session:
            operations = (await session.execute(select(Operation))).scalars().all()
            runs = (await session.execute(select(SyncRun))).scalars().all()
    finally:
        await engine.dispose()
    return list(operations), list(runs)


async def test_post_sync_runs_in_the_worker_and_the_run_is_listed(
    client: Client,
    admin_headers: dict[str, str],
    settings: Settings,
    fresh_sandbox: SandboxProcess,
) -> None:
    numbers = rent(fresh_sandbox, 3)
    operation = await start_sync(client, admin_headers)

    await asyncio.to_thread(run_burst, settings)

    done = (await client.get(f"/v1/operations/{operation['id']}", headers=admin_headers)).json()
    assert (done["status"], done["attempts"], done["error"]) == ("succeeded", 1, None)
    runs = (await client.get("/v1/sync/runs", headers=admin_headers)).json()
    (run,) = runs["items"]
    assert run["status"] == "succeeded" and run["operation"] == operation["id"]
    assert run["counts"]["fetched"] == 3 and run["counts"]["added"] == 3
    listed = await client.get("/v1/numbers", params={"limit": 50}, headers=admin_headers)
    assert sorted(n["number"] for n in listed.json()["items"]) == sorted(numbers)


async def test_two_syncs_started_together_run_once(
    client: Client,
    admin_headers: dict[str, str],
    settings: Settings,
    fresh_sandbox: SandboxProcess,
) -> None:
    rent(fresh_sandbox, 2)
    # seven answers slowly, so the first sync still holds the lock when the second starts.
    fresh_sandbox.add_fault("latency", "active_list", times=2, ms=2000)
    first = await start_sync(client, admin_headers)
    second = await start_sync(client, admin_headers)

    # Two workers, as in production; either may take either job.
    workers = [WorkerProcess(settings, burst=True).start() for _ in range(2)]
    for worker in workers:
        assert await asyncio.to_thread(worker.wait, 60) == 0

    operations, runs = await operations_and_runs(settings)
    assert {str(o.id) for o in operations} == {first["id"], second["id"]}
    assert all(o.status == "succeeded" for o in operations)
    outcomes = sorted(o.result["outcome"] for o in operations if o.result)
    assert outcomes == ["ran", "skipped"]
    (run,) = runs
    assert run.status == "succeeded" and run.fetched == 2
    assert len(fresh_sandbox.requests("active_list")) == 1


async def test_a_cron_sync_runs_without_an_operation(
    settings: Settings, fresh_sandbox: SandboxProcess
) -> None:
    rent(fresh_sandbox, 1)
    # Every second: the worker's cron enqueues a sync within about a second of starting.
    fast = dataclasses.replace(settings, sync_interval_seconds=1)
    with WorkerProcess(fast):

        async def succeeded() -> list[SyncRun]:
            _, runs = await operations_and_runs(settings)
            return [r for r in runs if r.status == "succeeded"]

        runs = await until(succeeded, "a cron sync to succeed", 20, every=0.1)
    assert any(r.operation_id is None for r in runs)


async def mirrored(
    client: Client,
    headers: dict[str, str],
    settings: Settings,
    sandbox: SandboxProcess,
    count: int,
) -> list[str]:
    """``count`` numbers rented at seven and mirrored by a first sync through the worker."""
    numbers = rent(sandbox, count)
    await start_sync(client, headers)
    await asyncio.to_thread(run_burst, settings)
    return numbers


async def test_a_sync_the_guard_refuses_fails_its_operation_until_forced(
    client: Client,
    admin_headers: dict[str, str],
    settings: Settings,
    fresh_sandbox: SandboxProcess,
) -> None:
    gone, also_gone, kept = await mirrored(client, admin_headers, settings, fresh_sandbox, 3)
    fresh_sandbox.remove_active(gone)
    fresh_sandbox.remove_active(also_gone)  # two of three: more than the default half

    refused = await start_sync(client, admin_headers)
    await asyncio.to_thread(run_burst, settings)

    done = (await client.get(f"/v1/operations/{refused['id']}", headers=admin_headers)).json()
    assert done["status"] == "failed"
    assert done["error"]["code"] == "sync_guard_tripped"
    assert '{"force": true}' in done["error"]["message"]
    latest = (await client.get("/v1/sync/runs", headers=admin_headers)).json()["items"][0]
    assert latest["status"] == "failed" and "sync_guard_tripped" in latest["error"]
    number = await client.get(f"/v1/numbers/{gone}", headers=admin_headers)
    assert number.json()["state"] == "active"

    forced = await client.post("/v1/sync", json={"force": True}, headers=admin_headers)
    assert forced.status_code == 202, forced.text
    await asyncio.to_thread(run_burst, settings)

    done = (await client.get(forced.headers["location"], headers=admin_headers)).json()
    assert done["status"] == "succeeded", done
    for number, state in ((gone, "deleted"), (also_gone, "deleted"), (kept, "active")):
        row = await client.get(f"/v1/numbers/{number}", headers=admin_headers)
        assert row.json()["state"] == state


async def test_the_worker_reads_the_guard_share_from_its_settings(
    client: Client,
    admin_headers: dict[str, str],
    settings: Settings,
    fresh_sandbox: SandboxProcess,
) -> None:
    numbers = await mirrored(client, admin_headers, settings, fresh_sandbox, 2)
    for number in numbers:
        fresh_sandbox.remove_active(number)

    operation = await start_sync(client, admin_headers)
    unguarded = dataclasses.replace(settings, sync_max_removed_share=1.0)
    await asyncio.to_thread(run_burst, unguarded)

    done = (await client.get(f"/v1/operations/{operation['id']}", headers=admin_headers)).json()
    assert done["status"] == "succeeded", done


async def test_post_sync_refuses_a_body_it_does_not_know(
    client: Client, admin_headers: dict[str, str]
) -> None:
    response = await client.post("/v1/sync", json={"forse": True}, headers=admin_headers)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_error" and "forse" in response.json()["message"]
