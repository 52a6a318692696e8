"""The mirror's digests of seven's items: a re-sync skips what the mirror holds byte for
byte, and only that (``app/sync/digests.py``, migration 0022), against the sandbox and a
real Postgres."""

from __future__ import annotations

import msgspec
import pytest
from sqlalchemy import text

from app.db.models import Operation
from app.numbers.mirror import SEVEN_COLUMNS
from app.resources import Resources
from app.seven.active_list import ActiveList
from app.seven.types import ActiveNumber
from app.sync.digests import item_digest
from app.sync.rows import RowCounter
from app.sync.service import SyncOutcome, run_sync
from tests.support.operations import rent
from tests.support.sandbox import SandboxProcess
from tests.support.seven_docs import DOC_ACTIVE
from tests.sync.test_sync import drift_of, mirror, row_versions, seven_view


async def sync(resources: Resources) -> SyncOutcome:
    outcome = await run_sync(resources.engine, resources.seven)
    assert outcome.outcome == "ran", outcome
    assert outcome.counts is not None
    return outcome


async def digests(resources: Resources) -> dict[str, bytes | None]:
    async with resources.sessions() as session:
        rows = await session.execute(text("SELECT number, seven_digest FROM numbers"))
    return dict(rows.tuples().all())


async def write(resources: Resources, statement: str, **params: object) -> None:
    async with resources.sessions() as session:
        await session.execute(text(statement), params)
        await session.commit()


async def an_operation(resources: Resources, number: str) -> str:
    """An update of ``number`` queued by us, which writes nothing of the number's row."""
    async with resources.sessions() as session:
        operation = Operation(kind="update", status="queued", number=number, attempts=0)
        session.add(operation)
        await session.commit()
        return str(operation.id)


# Each write of what the diff compares or judges a row by, made by something other than
# the sync: it must leave the row without a digest.
WATCHED_WRITES = {
    "country": "country = 'FR'",
    "friendly_name": "friendly_name = 'written by the API'",
    "payment_interval": (
        "payment_interval = CASE payment_interval WHEN 'monthly' THEN 'annually' ELSE 'monthly' END"
    ),
    "fee_setup": "fee_setup = fee_setup + 1",
    "fee_basic_charge": "fee_basic_charge = fee_basic_charge + 0.01",
    "fee_sms_mo": "fee_sms_mo = fee_sms_mo + 1",
    "fee_voice_mo": "fee_voice_mo = fee_voice_mo + 1",
    "feature_sms": "feature_sms = NOT feature_sms",
    "feature_a2p_sms": "feature_a2p_sms = NOT feature_a2p_sms",
    "feature_voice": "feature_voice = NOT feature_voice",
    "forward_sms_mo": """forward_sms_mo = '{"written": "by us"}'::jsonb""",
    "created": "created = '2020-01-01 00:00:00'",
    "expires": "expires = '2031-01-31 00:00:00'",
    "seven_created_at": "seven_created_at = seven_created_at - interval '1 day'",
    "seven_expires_at": "seven_expires_at = now()",
    "state": "state = 'deleting'",
    "missing_since": "state = 'missing', missing_since = now()",
    "pending_operation_id": "pending_operation_id = CAST(:operation AS uuid)",
}


def test_the_watched_writes_cover_every_column_the_diff_compares() -> None:
    assert set(WATCHED_WRITES) == {*SEVEN_COLUMNS, "state", "missing_since", "pending_operation_id"}


@pytest.mark.parametrize("column", list(WATCHED_WRITES))
async def test_any_other_write_of_what_the_sync_compares_clears_the_digest(
    resources: Resources, fresh_sandbox: SandboxProcess, column: str
) -> None:
    written, untouched = rent(fresh_sandbox, 2)
    await sync(resources)
    held = await digests(resources)
    assert all(held.values())
    operation = await an_operation(resources, written)

    await write(
        resources,
        f"UPDATE numbers SET {WATCHED_WRITES[column]} WHERE number = :number",  # noqa: S608
        number=written,
        operation=operation,
    )

    assert await digests(resources) == {written: None, untouched: held[untouched]}


async def test_writes_that_change_nothing_the_sync_compares_keep_the_digest(
    resources: Resources, fresh_sandbox: SandboxProcess
) -> None:
    (number,) = rent(fresh_sandbox, 1)
    await sync(resources)
    held = await digests(resources)

    await write(
        resources,
        'UPDATE numbers SET tags = \'{"team": "sales"}\'::jsonb, synced_at = now(),'
        " friendly_name = friendly_name, state = state WHERE number = :number",
        number=number,
    )
    assert await digests(resources) == held
    # The sync's own write: new values with the digest of the item they came from.
    await write(
        resources,
        "UPDATE numbers SET friendly_name = 'x', seven_digest = '\\x01'::bytea"
        " WHERE number = :number",
        number=number,
    )
    assert await digests(resources) == {number: b"\x01"}


@pytest.mark.parametrize(
    ("change", "kind"),
    [
        ("friendly_name = 'written behind the sync''s back'", "changed"),
        ("fee_basic_charge = fee_basic_charge + 1", "changed"),
        ("state = 'deleted'", "added"),
        ("state = 'missing', missing_since = now()", "changed"),
    ],
)
async def test_a_resync_corrects_a_row_written_behind_its_back(
    resources: Resources, fresh_sandbox: SandboxProcess, change: str, kind: str
) -> None:
    written = rent(fresh_sandbox, 3)[0]
    await sync(resources)
    await write(
        resources,
        f"UPDATE numbers SET {change} WHERE number = :number",  # noqa: S608
        number=written,
    )
    versions = await row_versions(resources)

    outcome = await sync(resources)

    assert outcome.counts is not None
    assert (outcome.counts.fetched, outcome.counts.unchanged) == (3, 2)
    row = await mirror(resources, written)
    expected = seven_view(fresh_sandbox, written)
    assert {c: getattr(row, c) for c in SEVEN_COLUMNS} == {c: expected[c] for c in SEVEN_COLUMNS}
    assert (row.state, row.missing_since) == ("active", None)
    assert [(d.number, d.kind) for d in await drift_of(resources, outcome.run_id)] == [
        (written, kind)
    ]
    after = await row_versions(resources)
    assert [n for n in versions if after[n] != versions[n]] == [written]
    # Written by the sync again, it holds the digest of seven's item once more.
    assert all((await digests(resources)).values())
    again = await sync(resources)
    assert again.counts is not None and again.counts.unchanged == 3
    assert await row_versions(resources) == after


async def test_an_unchanged_number_an_operation_is_busy_with_is_counted_busy(
    resources: Resources, fresh_sandbox: SandboxProcess
) -> None:
    queued = rent(fresh_sandbox, 2)[0]
    await sync(resources)
    await an_operation(resources, queued)  # writes nothing of the row: its digest stays

    outcome = await sync(resources)

    assert outcome.counts is not None
    assert (outcome.counts.fetched, outcome.counts.unchanged) == (2, 1)
    assert (await mirror(resources, queued)).state == "active"  # listed: not missing


def _batch(*items: dict[str, object]) -> ActiveList:
    raws = msgspec.json.decode(msgspec.json.encode(list(items)), type=list[msgspec.Raw])
    return ActiveList(raws, msgspec.json.Decoder(ActiveNumber).decode)


async def _rows(counter: RowCounter, *batches: ActiveList) -> list[tuple[object, ...]]:
    async def listed():  # type: ignore[no-untyped-def]
        for batch in batches:
            yield batch

    return [row async for row in counter.of_batches(listed())]


async def test_items_the_mirror_holds_are_counted_but_not_copied_and_repeats_stay_first_wins() -> (
    None
):
    one, two, three = ({**DOC_ACTIVE, "number": f"49151700000{i}"} for i in range(3))
    renamed_two = {**two, "friendly_name": "renamed"}
    held_one, held_two = (item_digest(msgspec.json.encode(item)) for item in (one, two))
    counter = RowCounter(held={held_one: one["number"], held_two: two["number"]})

    # one: held and first (matched); renamed two before two: two's own item is a
    # repeat, so two's digest counts as unmatched; three: new.
    rows = await _rows(counter, _batch(one, renamed_two), _batch(two, three, one))

    assert [row[0] for row in rows] == [two["number"], three["number"]]
    assert rows[0][2] == "renamed"
    assert rows[0][-1] == item_digest(msgspec.json.encode(renamed_two))
    assert (counter.count, counter.matched) == (3, 1)
    assert list(counter.unmatched) == [two["number"]]


async def test_a_batch_wholly_held_is_counted_at_once_and_a_repeat_in_it_once() -> None:
    one, two = ({**DOC_ACTIVE, "number": f"49151700000{i}"} for i in range(2))
    held = {item_digest(msgspec.json.encode(item)): str(item["number"]) for item in (one, two)}
    counter = RowCounter(held=dict(held))
    assert await _rows(counter, _batch(one, two)) == []
    assert (counter.count, counter.matched, list(counter.unmatched)) == (2, 2, [])

    repeated = RowCounter(held=dict(held))
    assert await _rows(repeated, _batch(one, two, one), _batch(two)) == []
    assert (repeated.count, repeated.matched, list(repeated.unmatched)) == (2, 2, [])


async def test_a_row_equal_to_sevens_item_without_its_digest_is_given_it_and_nothing_else(
    resources: Resources, fresh_sandbox: SandboxProcess
) -> None:
    renamed = rent(fresh_sandbox, 2)[0]
    await sync(resources)
    # An update of ours: seven and the mirror both take the new name (the executor
    # writes seven's answer), which clears the digest of the old item.
    fresh_sandbox.put_active(renamed, friendly_name="Renamed by us")
    await write(
        resources,
        "UPDATE numbers SET friendly_name = 'Renamed by us' WHERE number = :number",
        number=renamed,
    )
    before = await mirror(resources, renamed)
    assert (await digests(resources))[renamed] is None

    outcome = await sync(resources)

    assert outcome.counts is not None
    assert (outcome.counts.unchanged, outcome.counts.changed) == (2, 0)
    assert await drift_of(resources, outcome.run_id) == []
    after = await mirror(resources, renamed)
    assert (after.synced_at, after.updated_at) == (before.synced_at, before.updated_at)
    assert all((await digests(resources)).values())
    versions = await row_versions(resources)
    again = await sync(resources)  # the item is matched now: nothing decoded or written
    assert again.counts is not None and again.counts.unchanged == 2
    assert await row_versions(resources) == versions
