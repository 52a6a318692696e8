"""The sync's diff rules, one at a time, against the sandbox and a real Postgres.

These call the service verb ``run_sync`` directly (the rules are about what it writes);
``test_sync_worker.py`` runs the same verb through the real arq worker.
"""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Any

import httpx
import msgspec
import pytest
from sqlalchemy import event, select, text, update

from app.db.models import Number, Operation, SyncDrift, SyncRun
from app.numbers.mirror import SEVEN_COLUMNS, columns_from_active
from app.resources import Resources
from app.seven.client import SevenClient
from app.seven.types import ActiveNumber
from app.sync import baseline
from app.sync.service import SYNC_LOCK_KEY, SyncOutcome, run_sync
from tests.support.db import connected
from tests.support.operations import available_numbers, rent
from tests.support.polling import until
from tests.support.sandbox import SandboxProcess


async def sync(resources: Resources) -> SyncOutcome:
    outcome = await run_sync(resources.engine, resources.seven)
    assert outcome.outcome == "ran", outcome
    return outcome


async def mirror(resources: Resources, number: str) -> Number:
    async with resources.sessions() as session:
        row = await session.get(Number, number)
    assert row is not None, f"{number} is not in the mirror"
    return row


async def row_versions(resources: Resources) -> dict[str, str]:
    """Each mirror row's ``xmin``: it changes whenever the row is written, even to equal values."""
    async with resources.sessions() as session:
        rows = await session.execute(text("SELECT number, xmin::text FROM numbers"))
    return dict(rows.tuples().all())


async def drift_of(resources: Resources, run_id: uuid.UUID | None) -> list[SyncDrift]:
    async with resources.sessions() as session:
        found = await session.execute(
            select(SyncDrift)
            .where(SyncDrift.run_id == run_id)
            .order_by(SyncDrift.number, SyncDrift.id)
        )
    return list(found.scalars())


async def add_operation(resources: Resources, number: str, kind: str, status: str) -> uuid.UUID:
    """One of *our* operations, as the operations worker would have left it."""
    finished = status in ("succeeded", "failed")
    async with resources.sessions() as session:
        operation = Operation(kind=kind, status=status, number=number, attempts=1)
        session.add(operation)
        await session.flush()
        await session.execute(
            update(Operation)
            .where(Operation.id == operation.id)
            .values(
                submitted_at=text("now()") if status != "queued" else None,
                finished_at=text("now()") if finished else None,
            )
        )
        await session.commit()
        return operation.id


def seven_view(sandbox: SandboxProcess, number: str) -> dict[str, Any]:
    found = sandbox.api("GET", f"/numbers/active/{number}").content
    return columns_from_active(msgspec.json.decode(found, type=ActiveNumber))


async def test_a_first_sync_fills_the_mirror_as_seven_shows_it_and_records_no_drift(
    resources: Resources, fresh_sandbox: SandboxProcess
) -> None:
    plain, cancelled = rent(fresh_sandbox, 2)
    fresh_sandbox.put_active(cancelled, expires="2031-02-28 10:00:00", friendly_name="Hotline")

    outcome = await sync(resources)

    assert outcome.counts is not None
    assert (outcome.counts.fetched, outcome.counts.added, outcome.counts.unchanged) == (2, 2, 0)
    assert await drift_of(resources, outcome.run_id) == []  # the baseline: nothing to drift from
    for number, state in ((plain, "active"), (cancelled, "deleting")):
        row = await mirror(resources, number)
        assert row.state == state
        assert row.synced_at is not None
        expected = seven_view(fresh_sandbox, number)
        assert {c: getattr(row, c) for c in SEVEN_COLUMNS} == {
            c: expected[c] for c in SEVEN_COLUMNS
        }


async def test_the_first_sync_copies_into_the_empty_mirror_and_records_first_fee_versions(
    resources: Resources, fresh_sandbox: SandboxProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A COPY for each number: each statement's rows get their versions.
    monkeypatch.setattr(baseline, "_FIRST_STATEMENT_ROWS", 1)
    monkeypatch.setattr(baseline, "_PARCEL_ROWS", 1)
    numbers = rent(fresh_sandbox, 3)

    first = await sync(resources)
    again = await sync(resources)

    assert (first.path, again.path) == ("baseline", "diff")
    assert again.counts is not None and again.counts.unchanged == 3
    async with resources.sessions() as session:
        versions = await session.execute(
            text(
                "SELECT v.number, v.valid_from = m.synced_at, v.fee_basic_charge"
                " FROM number_fee_versions v JOIN numbers m USING (number) ORDER BY v.number"
            )
        )
    expected = [(n, True, seven_view(fresh_sandbox, n)["fee_basic_charge"]) for n in numbers]
    assert versions.tuples().all() == sorted(expected)


async def test_the_first_sync_leaves_the_mirrors_indexes_as_the_migrations_made_them(
    resources: Resources, fresh_sandbox: SandboxProcess
) -> None:
    """The baseline drops the secondary indexes for its COPY and builds them again."""
    rent(fresh_sandbox, 3)
    definitions = text(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'numbers' ORDER BY 1"
    )
    async with resources.engine.connect() as connection:
        before = (await connection.execute(definitions)).tuples().all()

    assert (await sync(resources)).path == "baseline"

    async with resources.engine.connect() as connection:
        assert (await connection.execute(definitions)).tuples().all() == before
    assert len(before) > 5  # the primary key, the filters' and the search's


async def test_the_first_sync_leaves_out_numbers_an_operation_is_busy_with(
    resources: Resources, fresh_sandbox: SandboxProcess
) -> None:
    plain, busy = rent(fresh_sandbox, 2)
    await add_operation(resources, busy, "order", "running")

    outcome = await sync(resources)

    assert outcome.path == "baseline" and outcome.counts is not None
    counts = outcome.counts
    assert (counts.fetched, counts.added, counts.unchanged) == (2, 1, 0)
    assert set(await row_versions(resources)) == {plain}


async def test_a_first_sync_into_a_mirror_that_has_rows_diffs_against_them(
    resources: Resources, fresh_sandbox: SandboxProcess
) -> None:
    ordered, other = rent(fresh_sandbox, 2)
    # Our order reached seven before any sync ran; the mirror still shows it being ordered.
    async with resources.sessions() as session:
        session.add(
            Number(number=ordered, country="DE", payment_interval="annually", state="ordering")
        )
        await session.commit()

    outcome = await sync(resources)

    assert outcome.path == "diff" and outcome.counts is not None
    assert (outcome.counts.fetched, outcome.counts.added) == (2, 2)
    assert await drift_of(resources, outcome.run_id) == []
    for number in (ordered, other):
        assert (await mirror(resources, number)).state == "active"


async def test_a_number_new_at_seven_is_added_and_reported_as_drift(
    resources: Resources, fresh_sandbox: SandboxProcess
) -> None:
    await sync(resources)  # the baseline
    (number,) = rent(fresh_sandbox, 1)

    outcome = await sync(resources)

    assert outcome.counts is not None and outcome.counts.added == 1
    (drift,) = await drift_of(resources, outcome.run_id)
    assert (drift.number, drift.kind, drift.before) == (number, "added", None)
    seven = seven_view(fresh_sandbox, number)
    assert drift.after is not None
    assert (drift.after["country"], drift.after["created"]) == (seven["country"], seven["created"])
    assert (await mirror(resources, number)).state == "active"


async def test_numbers_our_orders_explain_are_added_without_drift(
    resources: Resources, fresh_sandbox: SandboxProcess
) -> None:
    await sync(resources)
    ordering, lost = rent(fresh_sandbox, 2)
    # Ours, still shown as being ordered (the worker's mirror write was lost) ...
    async with resources.sessions() as session:
        session.add(
            Number(number=ordering, country="DE", payment_interval="annually", state="ordering")
        )
        await session.commit()
    await add_operation(resources, ordering, "order", "succeeded")
    # ... and an order we gave up on (outcome unknown) that seven carried out after all.
    await add_operation(resources, lost, "order", "failed")

    outcome = await sync(resources)

    assert outcome.counts is not None and outcome.counts.added == 2
    assert await drift_of(resources, outcome.run_id) == []
    assert (await mirror(resources, ordering)).state == "active"
    assert (await mirror(resources, ordering)).fee_basic_charge is not None
    assert (await mirror(resources, lost)).state == "active"


async def test_a_change_at_seven_is_written_and_its_drift_holds_only_the_changed_fields(
    resources: Resources, fresh_sandbox: SandboxProcess
) -> None:
    renamed, rescheduled, repriced, untouched = rent(fresh_sandbox, 4, friendly_name="Support")
    await sync(resources)
    before = await mirror(resources, renamed)
    old_price = (await mirror(resources, repriced)).fee_basic_charge
    versions = await row_versions(resources)
    fresh_sandbox.put_active(renamed, friendly_name="Sales")
    fresh_sandbox.put_active(rescheduled, expires="2031-01-31 00:00:00")
    fresh_sandbox.put_active(repriced, billing={"fees": {"basic_charge": 123.45}})

    outcome = await sync(resources)

    assert outcome.counts is not None
    assert (outcome.counts.changed, outcome.counts.unchanged) == (3, 1)
    drift = {d.number: d for d in await drift_of(resources, outcome.run_id)}
    assert (drift[renamed].kind, drift[renamed].before, drift[renamed].after) == (
        "changed",
        {"friendly_name": "Support"},
        {"friendly_name": "Sales"},
    )
    assert (drift[rescheduled].before, drift[rescheduled].after) == (
        {"expires": None, "state": "active"},
        {"expires": "2031-01-31 00:00:00", "state": "deleting"},
    )
    # Money is a decimal string in drift too, never a JSON number.
    assert (drift[repriced].before, drift[repriced].after) == (
        {"billing.fees.basic_charge": str(old_price)},
        {"billing.fees.basic_charge": "123.4500"},
    )
    assert (await mirror(resources, repriced)).fee_basic_charge == Decimal("123.45")
    after = await mirror(resources, renamed)
    assert after.friendly_name == "Sales"
    assert after.synced_at is not None and before.synced_at is not None
    assert after.synced_at > before.synced_at
    # Expiry dates: a number seven will delete at period end is "deleting", in UTC too.
    scheduled = await mirror(resources, rescheduled)
    assert scheduled.state == "deleting"
    assert scheduled.seven_expires_at is not None
    assert scheduled.seven_expires_at.isoformat() == "2031-01-30T23:00:00+00:00"
    assert (await row_versions(resources))[untouched] == versions[untouched]


async def test_changes_our_operations_explain_are_written_without_drift(
    resources: Resources, fresh_sandbox: SandboxProcess
) -> None:
    updated, deleted = rent(fresh_sandbox, 2)
    await sync(resources)
    # Our update timed out (failed, but submitted) and our delete succeeded; seven did both.
    await add_operation(resources, updated, "update", "failed")
    await add_operation(resources, deleted, "delete", "succeeded")
    fresh_sandbox.put_active(updated, friendly_name="Renamed by us")
    fresh_sandbox.put_active(deleted, expires="2031-01-31 00:00:00")

    outcome = await sync(resources)

    assert outcome.counts is not None and outcome.counts.changed == 2
    assert await drift_of(resources, outcome.run_id) == []
    assert (await mirror(resources, updated)).friendly_name == "Renamed by us"
    assert (await mirror(resources, deleted)).state == "deleting"


async def test_an_operation_older_than_the_previous_run_explains_nothing(
    resources: Resources, fresh_sandbox: SandboxProcess
) -> None:
    (number,) = rent(fresh_sandbox, 1)
    await sync(resources)
    await add_operation(resources, number, "update", "succeeded")
    await sync(resources)  # saw the number after our update: the update is accounted for
    fresh_sandbox.put_active(number, friendly_name="Changed by someone else")

    outcome = await sync(resources)

    assert [d.kind for d in await drift_of(resources, outcome.run_id)] == ["changed"]


async def test_a_number_gone_from_seven_is_missing_then_deleted_when_a_read_confirms_it(
    resources: Resources, fresh_sandbox: SandboxProcess
) -> None:
    gone, kept = rent(fresh_sandbox, 2)
    await sync(resources)
    fresh_sandbox.remove_active(gone)

    outcome = await sync(resources)

    assert outcome.counts is not None
    assert (outcome.counts.missing, outcome.counts.removed, outcome.counts.unchanged) == (1, 1, 1)
    # The list left it out, then a read of the number found it gone.
    missing, removed = await drift_of(resources, outcome.run_id)
    assert [(d.number, d.kind, d.after) for d in (missing, removed)] == [
        (gone, "missing", None),
        (gone, "removed", None),
    ]
    country = (await mirror(resources, gone)).country
    assert missing.before is not None and missing.before["country"] == country
    assert removed.before == missing.before
    assert (await mirror(resources, gone)).state == "deleted"
    assert (await mirror(resources, kept)).state == "active"


async def test_numbers_we_deleted_are_removed_without_drift(
    resources: Resources, fresh_sandbox: SandboxProcess
) -> None:
    deleted_now, expired = rent(fresh_sandbox, 2)
    await sync(resources)
    await add_operation(resources, deleted_now, "delete", "succeeded")
    # A deletion at period end whose day has come: seven drops the number, as announced.
    async with resources.sessions() as session:
        await session.execute(
            update(Number)
            .where(Number.number == expired)
            .values(state="deleting", seven_expires_at=text("now() - interval '1 hour'"))
        )
        await session.commit()
    fresh_sandbox.remove_active(deleted_now)
    fresh_sandbox.remove_active(expired)

    outcome = await sync(resources)

    assert outcome.counts is not None and outcome.counts.removed == 2
    assert await drift_of(resources, outcome.run_id) == []
    assert (await mirror(resources, deleted_now)).state == "deleted"
    assert (await mirror(resources, expired)).state == "deleted"


async def test_an_unchanged_resync_writes_no_number_row(
    resources: Resources, fresh_sandbox: SandboxProcess
) -> None:
    rent(fresh_sandbox, 5)
    rent_cancelled = available_numbers(fresh_sandbox, 6)[5]
    fresh_sandbox.put_active(rent_cancelled, expires="2031-02-28 10:00:00")
    await sync(resources)
    versions = await row_versions(resources)

    outcome = await sync(resources)

    assert outcome.counts is not None
    assert (outcome.counts.fetched, outcome.counts.unchanged) == (6, 6)
    assert (outcome.counts.added, outcome.counts.changed, outcome.counts.removed) == (0, 0, 0)
    assert await row_versions(resources) == versions
    assert await drift_of(resources, outcome.run_id) == []


async def test_numbers_with_an_operation_in_flight_are_left_alone(
    resources: Resources, fresh_sandbox: SandboxProcess
) -> None:
    pending, queued, deleting, plain = rent(fresh_sandbox, 4)
    await sync(resources)
    # The worker has claimed an update of `pending` (the mirror row points at it) ...
    operation_id = await add_operation(resources, pending, "update", "running")
    async with resources.sessions() as session:
        await session.execute(
            update(Number).where(Number.number == pending).values(pending_operation_id=operation_id)
        )
        await session.commit()
    # ... an update of `queued` waits for a worker, a delete of `deleting` is running.
    await add_operation(resources, queued, "update", "queued")
    await add_operation(resources, deleting, "delete", "running")
    versions = await row_versions(resources)
    for number in (pending, queued, plain):
        fresh_sandbox.put_active(number, friendly_name="changed at seven")
    fresh_sandbox.remove_active(deleting)

    outcome = await sync(resources)

    assert outcome.counts is not None
    assert (outcome.counts.changed, outcome.counts.removed) == (1, 0)
    assert outcome.counts.unchanged == 0  # three fetched numbers were busy, one changed
    after = await row_versions(resources)
    assert {n: after[n] == versions[n] for n in (pending, queued, deleting, plain)} == {
        pending: True,
        queued: True,
        deleting: True,
        plain: False,
    }
    assert (await mirror(resources, deleting)).state == "active"
    assert [d.number for d in await drift_of(resources, outcome.run_id)] == [plain]


async def test_a_number_whose_operation_finishes_during_the_fetch_is_left_alone(
    resources: Resources, fresh_sandbox: SandboxProcess
) -> None:
    (number,) = rent(fresh_sandbox, 1, friendly_name="Before")
    await sync(resources)
    operation_id = await add_operation(resources, number, "update", "running")
    # seven's list is slow to come, and was taken before our rename reached seven.
    fresh_sandbox.add_fault("latency", "active_list", ms=1500)
    run = asyncio.create_task(sync(resources))

    async def fetching() -> bool:
        return len(fresh_sandbox.requests("active_list")) == 2  # the first sync's, this one's

    await until(fetching, "the sync fetching seven's list")
    # The update finishes meanwhile, as the worker records it: the mirror shows the rename.
    async with resources.sessions() as session:
        await session.execute(
            update(Operation)
            .where(Operation.id == operation_id)
            .values(status="succeeded", finished_at=text("now()"), updated_at=text("now()"))
        )
        await session.execute(
            update(Number).where(Number.number == number).values(friendly_name="Renamed by us")
        )
        await session.commit()
    outcome = await run

    assert outcome.counts is not None
    assert (outcome.counts.changed, outcome.counts.unchanged) == (0, 0)
    assert (await mirror(resources, number)).friendly_name == "Renamed by us"


async def test_a_delete_from_an_earlier_rental_explains_no_removal(
    resources: Resources, fresh_sandbox: SandboxProcess
) -> None:
    number, kept = rent(fresh_sandbox, 2)
    await sync(resources)
    # We deleted the number once; it was rented again later, and now seven drops it.
    operation_id = await add_operation(resources, number, "delete", "succeeded")
    async with resources.sessions() as session:
        await session.execute(
            text(
                "UPDATE operations SET finished_at = n.seven_created_at - interval '1 day',"
                " updated_at = n.seven_created_at - interval '1 day', submitted_at = NULL"
                " FROM numbers n WHERE n.number = operations.number AND operations.id = :id"
            ),
            {"id": operation_id},
        )
        await session.commit()
    fresh_sandbox.remove_active(number)

    outcome = await sync(resources)

    # Unexplained: missing first (drift), then gone when a read confirms it.
    assert outcome.counts is not None and outcome.counts.missing == 1
    drift = await drift_of(resources, outcome.run_id)
    assert [d.kind for d in drift] == ["missing", "removed"]
    assert (await mirror(resources, number)).state == "deleted"
    assert (await mirror(resources, kept)).state == "active"


async def test_a_deleted_number_seven_lists_again_unchanged_is_active_again(
    resources: Resources, fresh_sandbox: SandboxProcess
) -> None:
    (number,) = rent(fresh_sandbox, 1)
    await sync(resources)
    # The mirror has it deleted; seven lists it with exactly the columns the mirror kept.
    async with resources.sessions() as session:
        await session.execute(update(Number).where(Number.number == number).values(state="deleted"))
        await session.commit()

    outcome = await sync(resources)

    assert outcome.counts is not None
    assert (outcome.counts.added, outcome.counts.unchanged) == (1, 0)
    assert (await mirror(resources, number)).state == "active"
    assert [d.kind for d in await drift_of(resources, outcome.run_id)] == ["added"]


async def test_an_ordering_number_whose_order_is_in_flight_is_not_touched(
    resources: Resources, fresh_sandbox: SandboxProcess
) -> None:
    await sync(resources)
    (number,) = rent(fresh_sandbox, 1)
    async with resources.sessions() as session:
        session.add(
            Number(number=number, country="DE", payment_interval="annually", state="ordering")
        )
        await session.commit()
    await add_operation(resources, number, "order", "running")

    outcome = await sync(resources)

    assert outcome.counts is not None and outcome.counts.added == 0
    assert (await mirror(resources, number)).state == "ordering"
    assert await drift_of(resources, outcome.run_id) == []


async def test_a_failure_at_seven_fails_the_run_with_its_code_and_writes_nothing(
    resources: Resources, fresh_sandbox: SandboxProcess
) -> None:
    rent(fresh_sandbox, 2)
    fresh_sandbox.add_fault("server_error", "active_list", status=503)

    outcome = await run_sync(resources.engine, resources.seven)

    assert (outcome.outcome, outcome.error_code) == ("failed", "seven_server_error")
    async with resources.sessions() as session:
        run = await session.get(SyncRun, outcome.run_id)
        assert run is not None and run.status == "failed" and run.finished_at is not None
        assert (await session.execute(select(Number))).first() is None


async def test_a_run_that_would_remove_most_live_numbers_is_refused_and_writes_nothing(
    resources: Resources, fresh_sandbox: SandboxProcess
) -> None:
    numbers = rent(fresh_sandbox, 4)
    await sync(resources)
    versions = await row_versions(resources)
    # seven glitches: its list comes back empty although nobody deleted anything.
    for number in numbers:
        fresh_sandbox.remove_active(number)
    # ... and one new number appears, which the refused run does not add either.
    fresh_sandbox.put_active(available_numbers(fresh_sandbox, 1)[0])

    outcome = await run_sync(resources.engine, resources.seven)

    assert (outcome.outcome, outcome.error_code) == ("failed", "sync_guard_tripped")
    assert await row_versions(resources) == versions
    async with resources.sessions() as session:
        run = await session.get(SyncRun, outcome.run_id)
    assert run is not None and run.status == "failed"
    assert "4 of the mirror's 4 live numbers" in (run.error_message or "")
    assert await drift_of(resources, outcome.run_id) == []

    applied = await run_sync(resources.engine, resources.seven, max_removed_share=1.0)

    assert applied.counts is not None
    assert (applied.counts.removed, applied.counts.added) == (4, 1)


async def test_the_guard_counts_only_removals_nothing_of_ours_explains(
    resources: Resources, fresh_sandbox: SandboxProcess
) -> None:
    ours, gone, kept = rent(fresh_sandbox, 3)
    await sync(resources)
    await add_operation(resources, ours, "delete", "succeeded")
    fresh_sandbox.remove_active(ours)
    fresh_sandbox.remove_active(gone)

    # Two of three live numbers go, one of them by our own delete: 1/3 is unexplained.
    outcome = await run_sync(resources.engine, resources.seven, max_removed_share=0.4)

    assert outcome.outcome == "ran" and outcome.counts is not None
    assert outcome.counts.removed == 2
    assert (await mirror(resources, kept)).state == "active"


def seven_listing(numbers: list[dict[str, Any]]) -> SevenClient:
    """A client whose seven answers ``GET /numbers/active`` with exactly these numbers."""
    body = msgspec.json.encode({"activeNumbers": numbers})
    http = httpx.AsyncClient(
        transport=httpx.MockTransport(lambda _: httpx.Response(200, content=body))
    )
    return SevenClient("key", base_url="http://seven.invalid/api", http_client=http)


@pytest.mark.parametrize("first_sync", [True, False], ids=["baseline", "diff"])
async def test_a_malformed_number_in_the_list_fails_the_run_and_writes_nothing(
    resources: Resources,
    fresh_sandbox: SandboxProcess,
    first_sync: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A first sync has finished three COPY statements (500, 500, 1,000 rows) before it
    # meets the broken one.
    monkeypatch.setattr(baseline, "_FIRST_STATEMENT_ROWS", 500)
    monkeypatch.setattr(baseline, "_PARCEL_ROWS", 100)
    (number,) = rent(fresh_sandbox, 1)
    template = msgspec.json.decode(fresh_sandbox.api("GET", f"/numbers/active/{number}").content)
    # Enough numbers that the COPY has sent rows before it meets the broken one.
    listed = [{**template, "number": str(4915170000000 + i)} for i in range(4000)]
    if not first_sync:
        async with seven_listing(listed) as seven:
            assert (await run_sync(resources.engine, seven)).outcome == "ran"
    versions = await row_versions(resources)
    listed[3500] = {**listed[3500], "billing": "monthly"}  # not seven's shape

    async with seven_listing(listed) as seven:
        outcome = await run_sync(resources.engine, seven)

    assert (outcome.outcome, outcome.error_code) == ("failed", "malformed_response")
    assert await row_versions(resources) == versions
    async with resources.sessions() as session:
        run = await session.get(SyncRun, outcome.run_id)
    assert run is not None and run.status == "failed" and "billing" in (run.error_message or "")


async def test_a_run_left_running_by_a_dead_worker_is_closed_by_the_next_sync(
    resources: Resources, fresh_sandbox: SandboxProcess
) -> None:
    async with resources.sessions() as session:
        stale = SyncRun(status="running")
        session.add(stale)
        await session.commit()

    await sync(resources)

    async with resources.sessions() as session:
        row = await session.get(SyncRun, stale.id)
        assert row is not None and row.status == "failed" and row.error_message


@pytest.mark.parametrize("failure", ["raises", "returns false"])
async def test_a_failed_unlock_discards_the_connection_instead_of_pooling_it_locked(
    resources: Resources, fresh_sandbox: SandboxProcess, database_url: str, failure: str
) -> None:
    rent(fresh_sandbox, 1)

    def sabotage(*args: Any) -> tuple[str, Any]:
        # before_cursor_execute(conn, cursor, statement, parameters, context, executemany)
        statement, parameters = args[2], args[3]
        if "pg_advisory_unlock" in statement:
            if failure == "raises":
                raise ConnectionResetError("the connection broke while unlocking")
            # Another key: PostgreSQL answers false (this session does not hold it).
            statement = statement.replace("pg_advisory_unlock(", "pg_advisory_unlock(1 + ")
        return statement, parameters

    event.listen(resources.engine.sync_engine, "before_cursor_execute", sabotage, retval=True)

    outcome = await run_sync(resources.engine, resources.seven)

    async with connected(database_url) as other:
        # Had the pool kept the connection, it would still hold the lock: every later
        # sync would be skipped.
        assert await other.fetchval("SELECT pg_try_advisory_lock($1)", SYNC_LOCK_KEY)
    assert outcome.outcome == "ran"  # the run is recorded; the failure is logged, not raised
