"""Operations carried out by the real arq worker (a child process) against the sandbox.

Each test scripts a fault at "seven", runs the worker (killing it mid-call where that
is the point) and checks the three witnesses: the operation, the mirror and the sandbox's ledger
of orders (what seven would have charged).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from typing import Any

import asyncpg
import pytest
from arq.jobs import Job, JobStatus
from redis.asyncio import Redis

from app.lib.queue import create_queue, deserialize_job, operation_job_id
from app.operations.executor import lock_key
from app.settings import Settings
from tests.support.api import Client, Headers
from tests.support.operations import (
    available_numbers,
    carried_out,
    fast,
    number_of,
    order,
    wait_finished,
)
from tests.support.polling import until
from tests.support.sandbox import SandboxProcess
from tests.support.tenancy import create_pool, create_tenant
from tests.support.worker import WorkerProcess


async def test_a_connection_dropped_after_seven_ordered_is_settled_by_reading(
    client: Client,
    admin_headers: Headers,
    settings: Settings,
    fresh_sandbox: SandboxProcess,
    db: asyncpg.Connection,
) -> None:
    number = available_numbers(fresh_sandbox, 1)[0]
    tenant_id, _ = await create_tenant(client, admin_headers, "acme")
    fresh_sandbox.add_fault("drop_after_commit", "order")
    operation = await order(client, admin_headers, number, tenant=tenant_id)
    done = await carried_out(client, admin_headers, settings, operation["id"])
    assert done["status"] == "succeeded", done
    assert fresh_sandbox.orders_of(number) == 1
    mirrored = await number_of(client, admin_headers, number)
    assert (mirrored["state"], mirrored["tenant"]) == ("active", tenant_id)
    # The tenant holds the number from today: its allocation opened with the success.
    holder = await db.fetchval(
        "SELECT tenant_id FROM allocations WHERE number = $1 AND released_at IS NULL", number
    )
    assert str(holder) == tenant_id
    assert mirrored["created"] is not None
    assert mirrored["billing"]["fees"]["basic_charge"] is not None
    assert mirrored["pending_operation"] is None


async def test_a_worker_killed_mid_order_and_restarted_orders_each_number_once(
    client: Client,
    admin_headers: Headers,
    settings: Settings,
    fresh_sandbox: SandboxProcess,
    db: asyncpg.Connection,
) -> None:
    # Two orders in flight at the kill: seven has carried out one (it hangs after
    # committing) and not the other (it hangs before). The restarted worker must ask
    # seven and order only the second.
    numbers = available_numbers(fresh_sandbox, 2)
    fresh_sandbox.add_fault("hang", "order", seconds=30, after_commit=True)
    fresh_sandbox.add_fault("hang", "order", seconds=30, after_commit=False)
    operations = [await order(client, admin_headers, n) for n in numbers]
    ids = [uuid.UUID(op["id"]) for op in operations]
    worker = WorkerProcess(fast(settings)).start()
    try:
        await until(
            lambda: db.fetchval(
                "SELECT count(*) = 2 FROM operations"
                " WHERE id = ANY($1) AND submitted_at IS NOT NULL",
                ids,
            ),
            "both orders to be submitted",
            15,
        )
        await until(lambda: len(fresh_sandbox.requests("order")) == 2, "both calls in flight", 15)
        worker.kill()
    finally:
        worker.stop()
    assert sum(fresh_sandbox.orders_of(n) for n in numbers) == 1

    with WorkerProcess(fast(settings)):
        done = [await wait_finished(client, admin_headers, op["id"]) for op in operations]
    assert [op["status"] for op in done] == ["succeeded"] * 2, done
    assert {n: fresh_sandbox.orders_of(n) for n in numbers} == dict.fromkeys(numbers, 1)
    for number in numbers:
        assert (await number_of(client, admin_headers, number))["state"] == "active"


async def test_a_worker_killed_right_after_seven_accepted_an_order_never_orders_again(
    client: Client,
    admin_headers: Headers,
    settings: Settings,
    fresh_sandbox: SandboxProcess,
    db: asyncpg.Connection,
) -> None:
    number = available_numbers(fresh_sandbox, 1)[0]
    # seven accepts the order at once and holds the read-back that follows it: the kill
    # lands after seven's answer, before the run records the number and finishes.
    fresh_sandbox.add_fault("hang", "active_get", seconds=30, number=number)
    operation = await order(client, admin_headers, number)

    async def reading_back() -> bool:
        return fresh_sandbox.request_count("active_get", number) == 1

    worker = WorkerProcess(fast(settings)).start()
    try:
        await until(reading_back, "the worker reading the ordered number back", within=30)
        worker.kill()
    finally:
        worker.stop()
    # The acceptance was committed the moment seven answered: a restart knows the order
    # went through without waiting for seven to settle or reading it again.
    accepted = await db.fetchrow(
        "SELECT status, submitted_at, accepted_at FROM operations WHERE id = $1",
        uuid.UUID(operation["id"]),
    )
    assert accepted is not None and accepted["status"] == "running"
    assert accepted["submitted_at"] is not None and accepted["accepted_at"] is not None

    with WorkerProcess(fast(settings)):
        done = await wait_finished(client, admin_headers, operation["id"])
    assert done["status"] == "succeeded", done
    assert fresh_sandbox.order_requests(number) == 1  # sent once, never again
    assert fresh_sandbox.orders_of(number) == 1
    assert (await number_of(client, admin_headers, number))["state"] == "active"


async def test_operations_survive_a_flushed_redis_and_run_once_each(
    client: Client, admin_headers: Headers, settings: Settings, fresh_sandbox: SandboxProcess
) -> None:
    numbers = available_numbers(fresh_sandbox, 5)
    operations = [await order(client, admin_headers, n) for n in numbers]
    redis = Redis.from_url(settings.redis_url)
    try:
        assert await redis.zcard("arq:queue") == 5
        await redis.flushdb()  # this test's own database: the server is shared
        assert await redis.zcard("arq:queue") == 0
    finally:
        await redis.aclose()

    with WorkerProcess(fast(settings)):
        done = [await wait_finished(client, admin_headers, op["id"]) for op in operations]
    assert [op["status"] for op in done] == ["succeeded"] * 5
    assert [op["attempts"] for op in done] == [1] * 5
    assert {n: fresh_sandbox.orders_of(n) for n in numbers} == dict.fromkeys(numbers, 1)


async def test_three_429s_then_success_waits_what_retry_after_asks(
    client: Client, admin_headers: Headers, settings: Settings, fresh_sandbox: SandboxProcess
) -> None:
    number = available_numbers(fresh_sandbox, 1)[0]
    fresh_sandbox.add_fault("rate_limit", "order", times=3, retry_after=1)
    with WorkerProcess(fast(settings)):
        started = time.monotonic()
        operation = await order(client, admin_headers, number)
        done = await wait_finished(client, admin_headers, operation["id"])
        elapsed = time.monotonic() - started
    assert done["status"] == "succeeded", done
    assert done["attempts"] == 4
    assert done["error"] is None
    # The backoff alone is capped at 0.2 s here: only Retry-After explains three seconds.
    assert elapsed >= 3.0
    outcomes = [r["outcome"] for r in fresh_sandbox.requests("order")]
    assert outcomes == ["fault:rate_limit"] * 3 + ["ok"]
    assert fresh_sandbox.orders_of(number) == 1


async def test_a_rejected_key_fails_after_one_attempt(
    client: Client, admin_headers: Headers, settings: Settings, fresh_sandbox: SandboxProcess
) -> None:
    number = available_numbers(fresh_sandbox, 1)[0]
    operation = await order(client, admin_headers, number)
    done = await carried_out(
        client, admin_headers, settings, operation["id"], seven_api_key="a-key-seven-rejects"
    )
    assert (done["status"], done["attempts"]) == ("failed", 1)
    assert done["error"]["code"] == "seven_key_rejected"
    assert "SEVEN_API_KEY" in done["error"]["message"]
    assert "a-key-seven-rejects" not in done["error"]["message"]
    assert [r["outcome"] for r in fresh_sandbox.requests("order")] == ["900"]
    assert fresh_sandbox.orders_of(number) == 0
    mirrored = await number_of(client, admin_headers, number)
    assert (mirrored["state"], mirrored["pending_operation"]) == ("failed", None)


async def test_no_credit_or_a_key_without_access_fails_after_one_attempt(
    client: Client, admin_headers: Headers, settings: Settings, fresh_sandbox: SandboxProcess
) -> None:
    numbers = available_numbers(fresh_sandbox, 2)
    expected = {500: "insufficient_credit", 902: "seven_key_rejected"}
    with WorkerProcess(fast(settings)):
        for number, (bare_code, code) in zip(numbers, expected.items(), strict=True):
            fresh_sandbox.add_fault("bare_code", "order", code=bare_code)
            operation = await order(client, admin_headers, number)
            done = await wait_finished(client, admin_headers, operation["id"])
            assert (done["status"], done["attempts"]) == ("failed", 1)
            assert done["error"]["code"] == code
    assert len(fresh_sandbox.requests("order")) == 2
    assert sum(fresh_sandbox.orders_of(n) for n in numbers) == 0


async def test_seven_down_for_good_fails_with_an_actionable_code_after_the_attempts(
    client: Client, admin_headers: Headers, settings: Settings, fresh_sandbox: SandboxProcess
) -> None:
    number = available_numbers(fresh_sandbox, 1)[0]
    fresh_sandbox.add_fault("server_error", "order", times=None, status=503)
    operation = await order(client, admin_headers, number)
    done = await carried_out(
        client, admin_headers, settings, operation["id"], operation_max_attempts=3
    )
    assert done["status"] == "failed"
    assert done["attempts"] == 3
    assert done["error"]["code"] == "seven_unavailable"
    assert "submit the operation again" in done["error"]["message"]
    assert len(fresh_sandbox.requests("order")) == 3
    assert fresh_sandbox.orders_of(number) == 0


async def test_fifty_concurrent_orders_for_ten_numbers_make_ten_operations_and_ten_orders(
    client: Client,
    admin_headers: Headers,
    settings: Settings,
    fresh_sandbox: SandboxProcess,
    db: asyncpg.Connection,
) -> None:
    numbers = available_numbers(fresh_sandbox, 10)
    requests = [
        client.post(
            "/v1/orders",
            json={"number": number, "payment_interval": "monthly"},
            headers={**admin_headers, "Idempotency-Key": f"{number}-{key}"},
        )
        for key in range(5)
        for number in numbers
    ]
    responses = await asyncio.gather(*requests)
    assert Counter(r.status_code for r in responses) == {202: 10, 409: 40}
    assert {r.json()["code"] for r in responses if r.status_code == 409} <= {
        "number_being_ordered",
        "number_busy",
    }
    assert await db.fetchval("SELECT count(*) FROM operations") == 10

    with WorkerProcess(fast(settings)):
        for response in responses:
            if response.status_code == 202:
                done = await wait_finished(client, admin_headers, response.json()["id"])
                assert done["status"] == "succeeded"
    assert {n: fresh_sandbox.orders_of(n) for n in numbers} == dict.fromkeys(numbers, 1)


async def test_update_and_delete_carry_seven_answers_into_the_mirror(
    client: Client, admin_headers: Headers, settings: Settings, fresh_sandbox: SandboxProcess
) -> None:
    kept, dropped = available_numbers(fresh_sandbox, 2)
    with WorkerProcess(fast(settings)):
        for number in (kept, dropped):
            ordered = await order(client, admin_headers, number, friendly_name="front desk")
            assert (await wait_finished(client, admin_headers, ordered["id"]))["status"] == (
                "succeeded"
            )
        assert (await number_of(client, admin_headers, kept))["friendly_name"] == "front desk"

        fresh_sandbox.add_fault("server_error", "update", times=2)
        change = await client.patch(
            f"/v1/numbers/{kept}",
            json={"sms_forward": ["+49 176 12345678"], "email_forward": ["ops@example.com"]},
            headers=admin_headers,
        )
        updated = await wait_finished(client, admin_headers, change.json()["id"])
        assert (updated["status"], updated["attempts"]) == ("succeeded", 3)
        forward = (await number_of(client, admin_headers, kept))["forward_sms_mo"]
        assert forward["sms"] == {"number": ["4917612345678"], "enabled": True}
        assert forward["email"] == {"address": ["ops@example.com"], "enabled": True}

        at_period_end = await client.delete(f"/v1/numbers/{kept}", headers=admin_headers)
        now = await client.delete(
            f"/v1/numbers/{dropped}?delete_immediately=true", headers=admin_headers
        )
        for response in (at_period_end, now):
            assert (await wait_finished(client, admin_headers, response.json()["id"]))[
                "status"
            ] == "succeeded"
        scheduled = await number_of(client, admin_headers, kept)
        assert scheduled["state"] == "deleting"
        assert scheduled["expires"] is not None
        assert (await number_of(client, admin_headers, dropped))["state"] == "deleted"

        again = await order(client, admin_headers, dropped)  # a deleted number, ordered anew
        assert (await wait_finished(client, admin_headers, again["id"]))["status"] == "succeeded"
    assert fresh_sandbox.orders_of(dropped) == 2
    assert dropped not in {n["number"] for n in fresh_sandbox.available()}


async def test_copies_of_one_job_running_at_once_order_once(
    client: Client, admin_headers: Headers, settings: Settings, fresh_sandbox: SandboxProcess
) -> None:
    # Jobs run at least once: here six copies of one operation's job run side by side in
    # two workers while seven takes its time. The advisory lock lets one of them act.
    number = available_numbers(fresh_sandbox, 1)[0]
    fresh_sandbox.add_fault("latency", "order", ms=500)
    operation = await order(client, admin_headers, number)
    queue = create_queue(settings.redis_url)
    try:
        for copy in range(5):
            job = await queue.enqueue_job(
                "process_operation", operation["id"], _job_id=f"copy-{copy}"
            )
            assert job is not None
    finally:
        await queue.aclose()
    with WorkerProcess(fast(settings)), WorkerProcess(fast(settings)):
        done = await wait_finished(client, admin_headers, operation["id"])
    assert (done["status"], done["attempts"]) == ("succeeded", 1)
    assert len(fresh_sandbox.requests("order")) == 1
    assert fresh_sandbox.orders_of(number) == 1


async def test_an_order_whose_read_back_fails_is_not_ordered_again(
    client: Client, admin_headers: Headers, settings: Settings, fresh_sandbox: SandboxProcess
) -> None:
    # seven accepted the order, then the read of the new number failed: the next attempt
    # must read again, not order again (and a 902 on the read must not fail the order).
    number = available_numbers(fresh_sandbox, 1)[0]
    fresh_sandbox.add_fault("server_error", "active_get", status=502)
    fresh_sandbox.add_fault("bare_code", "active_get", code=902)
    operation = await order(client, admin_headers, number)
    done = await carried_out(client, admin_headers, settings, operation["id"])
    assert (done["status"], done["attempts"], done["error"]) == ("succeeded", 3, None)
    assert len(fresh_sandbox.requests("order")) == 1
    assert fresh_sandbox.orders_of(number) == 1
    assert (await number_of(client, admin_headers, number))["state"] == "active"


async def test_an_operation_whose_job_ended_without_it_is_enqueued_again(
    client: Client,
    admin_headers: Headers,
    settings: Settings,
    fresh_sandbox: SandboxProcess,
    db: asyncpg.Connection,
) -> None:
    # The job runs while another process holds the operation (here: this test holds its
    # lock), so it ends as "busy" and arq keeps its result. Once the lock is free, the
    # reconciler must see a queued operation with a finished job and enqueue it again.
    number = available_numbers(fresh_sandbox, 1)[0]
    operation = await order(client, admin_headers, number)
    operation_id = uuid.UUID(operation["id"])
    await db.execute("SELECT pg_advisory_lock($1)", lock_key(operation_id))
    queue = create_queue(settings.redis_url)
    try:
        with WorkerProcess(fast(settings)):
            job = Job(operation_job_id(operation_id), queue, _deserializer=deserialize_job)
            await until(lambda: _status_is(job, JobStatus.complete), "the busy job to end", 15)
            assert (await job.result()) == "busy"
            await db.execute("SELECT pg_advisory_unlock($1)", lock_key(operation_id))
            done = await wait_finished(client, admin_headers, operation["id"])
    finally:
        await queue.aclose()
    assert (done["status"], done["attempts"]) == ("succeeded", 1)
    assert fresh_sandbox.orders_of(number) == 1


async def _status_is(job: Job, status: JobStatus) -> bool:
    return await job.status() is status


async def test_a_lost_order_answer_is_read_back_only_once_seven_is_done_with_it(
    client: Client, admin_headers: Headers, settings: Settings, fresh_sandbox: SandboxProcess
) -> None:
    # seven ordered the number, the answer was lost, and seven's reads show it only a
    # moment later (it is still carrying the order out). A worker that read at once
    # would find nothing and order again: seven refuses that (already ordered) and the
    # operation would fail while seven bills the number.
    number = available_numbers(fresh_sandbox, 1)[0]
    fresh_sandbox.add_fault("drop_after_commit", "order", number=number, visible_after_ms=1500)
    operation = await order(client, admin_headers, number)
    done = await carried_out(
        client, admin_headers, settings, operation["id"], seven_settle_seconds=2.5
    )
    assert done["status"] == "succeeded", done
    processed = [r for r in fresh_sandbox.requests("order") if r["processed"]]
    assert len(processed) == 1
    assert fresh_sandbox.orders_of(number) == 1
    assert (await number_of(client, admin_headers, number))["state"] == "active"


async def test_an_accepted_order_is_never_sent_again_whatever_the_read_back_meets(
    client: Client, admin_headers: Headers, settings: Settings, fresh_sandbox: SandboxProcess
) -> None:
    # Seen in production: seven accepted the order, the read-back got 429 three times,
    # and seven received 8 order requests. Then a refused friendly name.
    number = available_numbers(fresh_sandbox, 1)[0]
    fresh_sandbox.add_fault("rate_limit", "active_get", times=3, number=number)
    fresh_sandbox.add_fault("refuse", "update", number=number, message="Name too long.")
    operation = await order(client, admin_headers, number, friendly_name="front desk")
    done = await carried_out(client, admin_headers, settings, operation["id"])
    assert done["status"] == "succeeded", done
    assert fresh_sandbox.order_requests(number) == 1
    assert [w["code"] for w in done["warnings"]] == ["update_refused"]
    assert "Name too long." in done["warnings"][0]["message"]
    mirrored = await number_of(client, admin_headers, number)
    assert (mirrored["state"], mirrored["friendly_name"]) == ("active", "")


async def test_a_refused_deletion_fails_with_sevens_reason_and_keeps_the_number(
    client: Client, admin_headers: Headers, settings: Settings, fresh_sandbox: SandboxProcess
) -> None:
    number = available_numbers(fresh_sandbox, 1)[0]
    with WorkerProcess(fast(settings)):
        ordered = await order(client, admin_headers, number)
        assert (await wait_finished(client, admin_headers, ordered["id"]))["status"] == "succeeded"
        fresh_sandbox.add_fault(
            "refuse", "delete", times=None, number=number, message="Number is locked."
        )
        response = await client.delete(
            f"/v1/numbers/{number}?delete_immediately=true", headers=admin_headers
        )
        done = await wait_finished(client, admin_headers, response.json()["id"])
    assert (done["status"], done["error"]["code"]) == ("failed", "delete_refused")
    assert "Number is locked." in done["error"]["message"]
    assert number in {n["number"] for n in fresh_sandbox.active()}
    mirrored = await number_of(client, admin_headers, number)
    assert (mirrored["state"], mirrored["pending_operation"]) == ("active", None)


@pytest.mark.parametrize("at_seven", [True, False], ids=["seven-still-has-it", "gone-from-seven"])
async def test_a_delete_of_a_missing_number_deletes_it_and_releases_its_holder(
    client: Client,
    admin_headers: Headers,
    settings: Settings,
    fresh_sandbox: SandboxProcess,
    db: asyncpg.Connection,
    at_seven: bool,
) -> None:
    # A short list from seven left the number out: the mirror shows it missing, held.
    number = available_numbers(fresh_sandbox, 1)[0]
    if at_seven:
        fresh_sandbox.put_active(number)
    tenant = uuid.uuid4()
    await db.execute("INSERT INTO tenants (id, name) VALUES ($1, 'acme')", tenant)
    await db.execute(
        "INSERT INTO numbers (number, country, payment_interval, state, missing_since, tenant_id)"
        " VALUES ($1, 'DE', 'annually', 'missing', now() - interval '5 minutes', $2)",
        number,
        tenant,
    )
    await db.execute(
        "INSERT INTO allocations (id, number, tenant_id) VALUES (gen_random_uuid(), $1, $2)",
        number,
        tenant,
    )

    response = await client.delete(
        f"/v1/numbers/{number}?delete_immediately=true", headers=admin_headers
    )
    assert response.status_code == 202, response.text
    done = await carried_out(client, admin_headers, settings, response.json()["id"])

    assert done["status"] == "succeeded", done["error"]
    row = await db.fetchrow(
        "SELECT state, missing_since, tenant_id FROM numbers WHERE number = $1", number
    )
    assert (row["state"], row["missing_since"], row["tenant_id"]) == ("deleted", None, None)
    assert await db.fetchval(
        "SELECT released_at IS NOT NULL FROM allocations WHERE number = $1", number
    )
    assert fresh_sandbox.api("GET", f"/numbers/active/{number}").status_code == 404


async def _insert(db: asyncpg.Connection, table: str, **values: Any) -> None:
    """A row as an earlier release wrote it, column by column."""
    placeholders = ", ".join(f"${i}" for i in range(1, len(values) + 1))
    await db.execute(
        f"INSERT INTO {table} ({', '.join(values)}) VALUES ({placeholders})",  # noqa: S608
        *values.values(),
    )


async def test_operations_stored_by_earlier_releases_are_carried_out(
    client: Client,
    admin_headers: Headers,
    settings: Settings,
    fresh_sandbox: SandboxProcess,
    db: asyncpg.Connection,
) -> None:
    """Orders repeated their tenant in params (the row's tenant_id holds it); migration
    0009 queued clearings that empty all four settings, slack_forward included. The
    reconciler enqueues such rows, and the worker carries them out as they are."""
    tenant, _ = await create_tenant(client, admin_headers, "acme")
    pool = await create_pool(client, admin_headers, cooldown_days=0)
    ordered, cleared = available_numbers(fresh_sandbox, 2)
    order_id, clearing_id = uuid.uuid4(), uuid.uuid4()
    legacy_order = {
        "payment_interval": "monthly",
        "friendly_name": "Front desk",
        "pool": pool,
        "tenant": tenant,
    }
    emptied = {"friendly_name": "", "sms_forward": [], "email_forward": [], "slack_forward": []}
    fresh_sandbox.put_active(
        cleared,
        friendly_name="Old holder",
        forward_sms_mo={"sms": {"number": ["4917612345678"], "enabled": True}},
    )
    for operation, kind, number, params, holder in (
        (order_id, "order", ordered, legacy_order, uuid.UUID(tenant)),
        (clearing_id, "update", cleared, emptied, None),
    ):
        await _insert(
            db,
            "operations",
            id=operation,
            kind=kind,
            status="queued",
            number=number,
            params=json.dumps(params),
            tenant_id=holder,
        )
    await _insert(
        db,
        "numbers",
        number=ordered,
        country="DE",
        payment_interval="monthly",
        friendly_name="Front desk",
        state="ordering",
        tenant_id=uuid.UUID(tenant),
        pool_id=uuid.UUID(pool),
        pending_operation_id=order_id,
    )
    await _insert(
        db,
        "numbers",
        number=cleared,
        country="DE",
        payment_interval="annually",
        friendly_name="Old holder",
        state="active",
        pending_operation_id=clearing_id,
        handover="clearing",
        handover_operation_id=clearing_id,
    )

    with WorkerProcess(fast(settings)):
        done_order = await wait_finished(client, admin_headers, str(order_id))
        done_clearing = await wait_finished(client, admin_headers, str(clearing_id))

    assert done_order["status"] == "succeeded", done_order
    # Read back without the copy of the tenant: the operation names it once.
    assert (done_order["tenant"], done_order["params"]) == (
        tenant,
        {"payment_interval": "monthly", "friendly_name": "Front desk", "pool": pool},
    )
    assert [o["payment_interval"] for o in fresh_sandbox.ledger()[ordered]] == ["monthly"]
    mirrored = await number_of(client, admin_headers, ordered)
    assert (mirrored["state"], mirrored["friendly_name"], mirrored["tenant"], mirrored["pool"]) == (
        "active",
        "Front desk",
        tenant,
        pool,
    )
    holding = await db.fetchrow(
        "SELECT tenant_id, pool_id FROM allocations WHERE number = $1 AND released_at IS NULL",
        ordered,
    )
    assert holding is not None
    assert (str(holding["tenant_id"]), str(holding["pool_id"])) == (tenant, pool)

    assert done_clearing["status"] == "succeeded", done_clearing
    assert done_clearing["params"] == emptied
    at_seven = {n["number"]: n for n in fresh_sandbox.active()}[cleared]
    assert (at_seven["friendly_name"], at_seven["forward_sms_mo"]["sms"]["number"]) == ("", [])
    clean = await number_of(client, admin_headers, cleared)
    assert (clean["handover"], clean["friendly_name"]) == (None, "")
