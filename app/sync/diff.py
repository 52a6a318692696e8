"""The set-based diff between seven's list (a temporary table) and the mirror.

Everything here runs inside one transaction on one connection: seven's list is COPYed
into ``sync_incoming`` (dropped at commit), but for the items the mirror already holds
byte for byte (their numbers go to ``sync_held`` instead: ``digests.py``), then three
statements write the difference: new numbers, changed numbers, numbers gone from
seven. Each statement also records its drift and returns counts, so a run costs a
handful of round trips whatever the size of the account. A row that needs no change
is not written at all.

Rules:

* A number is **busy**, and left alone, while its mirror row has a pending operation,
  while an order/update/delete of it is queued or running, or when such an operation
  changed after this run started fetching (its write may be newer than our list).
* A mirror row in ``ordering``, ``deleted`` or ``failed`` that seven lists is **added**
  (back); one in ``active``/``deleting``/``missing`` whose seven columns or state differ
  is **changed** (a ``missing`` one is back: ``missing_since`` is cleared, its holder was
  never touched).
* A live row (``active``, ``deleting``, ``missing``) that seven no longer lists is
  **removed** (state ``deleted``; the trigger of migration 0005 releases its holder) when
  one of our operations explains it (our delete during this rental, or a scheduled end of
  period that has passed). Otherwise one short list must not end anyone's holding: the
  row becomes **missing** (``missing_since`` = now, holder kept, not allocatable) and is
  removed only by a sync at least ``confirm_seconds`` after the first that missed it
  (every list in between left it out too, or it would be active again), or by a read of
  the number at seven that finds it gone (``apply_single_reads``, after the run).
* Drift is not recorded when one of our operations explains the difference: our order
  for an added number, any of our operations on the number for a change (finished
  since the previous run started), our delete or a passed end of period for a removal.
  A baseline run records no drift. The windows: an operation that finished after the
  previous run started may have changed seven after that run read it; a deletion at
  period end shows months later.

Drift JSON names each field as a read of the number does (``DRIFT_NAMES``: a dotted path
such as ``billing.fees.basic_charge`` or ``features.sms``), fees as decimal strings, plus
``state``; a ``changed`` item holds only the fields that differ, an ``added`` one only
``after``, a ``missing`` or ``removed`` one only ``before``. Rows written before these
names (under the mirror's column names) are renamed as they are read (``caller_names``).
"""

# The SQL below is assembled from this module's own constants (table and column names,
# never input); every value travels as a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.driver import asyncpg_connection
from app.db.vocabulary import (
    IN_FLIGHT,
    LIVE_STATES,
    NUMBER_OPERATION_KINDS,
    DriftKind,
    NumberState,
    OperationKind,
    OperationStatus,
    sql,
)
from app.numbers.mirror import SEVEN_COLUMNS
from app.seven.types import ActiveNumber
from app.sync.digests import DIGEST_COLUMN, HELD_TABLE
from app.sync.rows import COPY_SUFFIX, INCOMING_COLUMNS, RowCounter

INCOMING_TABLE = "sync_incoming"
BUSY_TABLE = "sync_busy"
SYNC_WORK_MEM = "64MB"

# Each mirror column of seven's fields under the name a read of the number shows it by
# (app.numbers.schemas.NumberOut; nested fields as dotted paths). The UTC copies of
# created/expires would only repeat them.
DRIFT_NAMES = {
    "country": "country",
    "friendly_name": "friendly_name",
    "payment_interval": "billing.payment_interval",
    "fee_setup": "billing.fees.setup",
    "fee_basic_charge": "billing.fees.basic_charge",
    "fee_sms_mo": "billing.fees.sms_mo",
    "fee_voice_mo": "billing.fees.voice_mo",
    "feature_sms": "features.sms",
    "feature_a2p_sms": "features.a2p_sms",
    "feature_voice": "features.voice",
    "forward_sms_mo": "forward_sms_mo",
    "created": "created",
    "expires": "expires",
}
_DRIFT_FIELDS = tuple(DRIFT_NAMES)
_ABSENT_STATES = sql((NumberState.ORDERING, NumberState.DELETED, NumberState.FAILED))
_LIVE_STATES = sql(LIVE_STATES)
# The vocabulary the statements compare and write, as SQL literals.
_ORDERING = sql(NumberState.ORDERING)
_MISSING = sql(NumberState.MISSING)
_DELETED = sql(NumberState.DELETED)
_ADDED = sql(DriftKind.ADDED)
_CHANGED = sql(DriftKind.CHANGED)
_REMOVED = sql(DriftKind.REMOVED)
_MISSED = sql(DriftKind.MISSING)


def _cols(alias: str) -> str:
    return ", ".join(f"{alias}.{c}" for c in SEVEN_COLUMNS)


def _json(alias: str, state: str | None = None) -> str:
    """seven's fields of a row as drift JSON, with the mirror's ``state`` when given."""
    # Money stays a decimal string in JSON too, never a JSON number a client reads as float.
    pairs = [
        f"'{DRIFT_NAMES[c]}', {alias}.{c}::text"
        if c.startswith("fee_")
        else f"'{DRIFT_NAMES[c]}', {alias}.{c}"
        for c in _DRIFT_FIELDS
    ]
    if state is not None:
        pairs.append(f"'state', {state}")
    return f"jsonb_build_object({', '.join(pairs)})"


def caller_names(fields: dict[str, Any] | None) -> dict[str, Any] | None:
    """A stored drift item's fields under the names reads use: rows written before
    ``DRIFT_NAMES`` hold column names (renamed here, on the way out, rather than by
    rewriting every stored row); other keys pass unchanged."""
    if fields is None:
        return None
    return {DRIFT_NAMES.get(key, key): value for key, value in fields.items()}


def _state(alias: str) -> str:
    """``app.numbers.mirror.state_for``: a number with an ``expires`` is being deleted."""
    active, deleting = sql(NumberState.ACTIVE), sql(NumberState.DELETING)
    return f"CASE WHEN coalesce({alias}.expires, '') = '' THEN {active} ELSE {deleting} END"


def _busy(number: str) -> str:
    return f"EXISTS (SELECT 1 FROM {BUSY_TABLE} b WHERE b.number = {number})"


def _ours(number: str, *kinds: OperationKind, since: str = ":previous_started") -> str:
    """One of our operations reached seven (succeeded, or was submitted) since ``since``."""
    return f"""EXISTS (
        SELECT 1 FROM operations o
        WHERE o.number = {number} AND o.kind IN {sql(kinds)}
          AND (o.status = {sql(OperationStatus.SUCCEEDED)} OR o.submitted_at IS NOT NULL)
          AND greatest(o.updated_at, o.finished_at) >= {since})"""


def _diff_keys(before: str, after: str) -> str:
    """Only the fields that differ, so a changed friendly name is one short line."""
    return f"""coalesce((SELECT jsonb_object_agg(f.key, f.value) FROM jsonb_each({before}) f
        WHERE f.value IS DISTINCT FROM {after} -> f.key), '{{}}'::jsonb)"""


_INSERT_NEW = f"""
WITH inserted AS (
    INSERT INTO numbers (number, {", ".join(SEVEN_COLUMNS)}, state, synced_at, {DIGEST_COLUMN})
    SELECT s.number, {_cols("s")}, {_state("s")}, now(), s.{DIGEST_COLUMN}
    FROM {INCOMING_TABLE} s
    WHERE NOT EXISTS (SELECT 1 FROM numbers m WHERE m.number = s.number)
      AND NOT {_busy("s.number")}
    ON CONFLICT (number) DO NOTHING
    RETURNING number
), drift AS (
    INSERT INTO sync_drift (run_id, number, kind, before, after)
    SELECT :run_id, s.number, {_ADDED}, NULL, {_json("s", _state("s"))}
    FROM inserted i JOIN {INCOMING_TABLE} s USING (number)
    WHERE :record_drift AND NOT {_ours("s.number", OperationKind.ORDER)}
    RETURNING 1
)
SELECT (SELECT count(*) FROM inserted) AS added, (SELECT count(*) FROM drift) AS drift
"""

_UPDATE_EXISTING = f"""
WITH candidates AS (
    SELECT s.*, {_state("s")} AS new_state,
           CASE WHEN m.state IN {_ABSENT_STATES} THEN {_ADDED} ELSE {_CHANGED} END AS kind,
           m.state = {_ORDERING} AS ordered_by_us,
           {_json("m", "m.state")} AS before_json, {_json("s", _state("s"))} AS after_json
    FROM {INCOMING_TABLE} s JOIN numbers m USING (number)
    WHERE m.pending_operation_id IS NULL
      AND (ROW({_cols("m")}) IS DISTINCT FROM ROW({_cols("s")})
           OR m.state IS DISTINCT FROM {_state("s")})
      AND NOT {_busy("m.number")}
), updated AS (
    UPDATE numbers m
    SET {", ".join(f"{c} = c.{c}" for c in SEVEN_COLUMNS)},
        state = c.new_state, missing_since = NULL, synced_at = now(), updated_at = now(),
        {DIGEST_COLUMN} = c.{DIGEST_COLUMN}
    FROM candidates c
    -- Re-checked on the row as it is now: an operation may have claimed it meanwhile.
    WHERE m.number = c.number AND m.pending_operation_id IS NULL
    RETURNING m.number
), written AS (
    SELECT c.* FROM candidates c JOIN updated u USING (number)
), drift AS (
    INSERT INTO sync_drift (run_id, number, kind, before, after)
    SELECT :run_id, w.number, w.kind,
           CASE WHEN w.kind = {_ADDED} THEN w.before_json
                ELSE {_diff_keys("w.before_json", "w.after_json")} END,
           CASE WHEN w.kind = {_ADDED} THEN w.after_json
                ELSE {_diff_keys("w.after_json", "w.before_json")} END
    FROM written w
    WHERE :record_drift
      AND NOT (w.kind = {_ADDED} AND (w.ordered_by_us OR {_ours("w.number", OperationKind.ORDER)}))
      AND NOT (w.kind = {_CHANGED} AND {_ours("w.number", *NUMBER_OPERATION_KINDS)})
    RETURNING 1
)
SELECT count(*) FILTER (WHERE kind = {_ADDED}) AS added,
       count(*) FILTER (WHERE kind = {_CHANGED}) AS changed,
       (SELECT count(*) FROM drift) AS drift
FROM written
"""

# A row equal to seven's item but without that item's digest (written since by an
# operation of ours, whose answer from seven matched the list, or a single read) is
# given the digest, so that later runs need not decode that item again; nothing the
# diff compares or a read shows changes (not counted, no drift, synced_at kept).
_RECORD_DIGESTS = f"""
UPDATE numbers m SET {DIGEST_COLUMN} = s.{DIGEST_COLUMN}
FROM {INCOMING_TABLE} s
WHERE m.number = s.number AND s.{DIGEST_COLUMN} IS NOT NULL
  AND m.{DIGEST_COLUMN} IS DISTINCT FROM s.{DIGEST_COLUMN}
  AND m.pending_operation_id IS NULL AND m.missing_since IS NULL
  AND ROW({_cols("m")}) IS NOT DISTINCT FROM ROW({_cols("s")})
  AND m.state = {_state("s")}
  AND NOT {_busy("m.number")}
"""

# A mirror row (alias m) seven no longer lists: live, not claimed, not busy. seven's
# list is the rows of sync_incoming and the numbers of sync_held (digests.py).
_UNLISTED = f"""m.state IN {_LIVE_STATES} AND m.pending_operation_id IS NULL
      AND NOT EXISTS (SELECT 1 FROM {INCOMING_TABLE} s WHERE s.number = m.number)
      AND NOT EXISTS (SELECT 1 FROM {HELD_TABLE} h WHERE h.number = m.number)
      AND NOT {_busy("m.number")}"""

# ... and one of those neither a scheduled end of period that has passed nor our delete
# (during this rental) explains: drift, and what the removal guard counts.
_THIS_RENTAL = "coalesce(m.seven_created_at, '-infinity')"
_UNEXPLAINED_REMOVAL = f"""NOT coalesce(m.seven_expires_at <= now(), false)
      AND NOT {_ours("m.number", OperationKind.DELETE, since=_THIS_RENTAL)}"""

# Each unlisted row is judged once: deleted when explained or missed long enough, missing
# when first missed, left as it is while it waits out the confirmation window.
# MATERIALIZED: inlined, the judgement's filter (with its operations subquery) is pushed
# down to the scan of the whole mirror, before the anti-join leaves the few unlisted rows.
_MARK_GONE = f"""
WITH judged AS MATERIALIZED (
    SELECT m.number, m.state, {_UNEXPLAINED_REMOVAL} AS unexplained,
           coalesce(m.missing_since <= now() - make_interval(secs => :confirm_seconds), false)
               AS missed_long_enough
    FROM numbers m
    WHERE {_UNLISTED}
), decided AS (
    SELECT number, state, unexplained,
           CASE WHEN NOT unexplained OR missed_long_enough THEN {_DELETED}
                WHEN state <> {_MISSING} THEN {_MISSING} END AS new_state
    FROM judged
), written AS (
    UPDATE numbers m
    SET state = d.new_state, missing_since = CASE WHEN d.new_state = {_MISSING} THEN now() END,
        synced_at = now(), updated_at = now()
    FROM decided d
    -- Re-checked on the row as it is now: an operation may have claimed it meanwhile.
    WHERE m.number = d.number AND d.new_state IS NOT NULL
      AND m.state = d.state AND m.pending_operation_id IS NULL
    RETURNING m.number, d.new_state, d.unexplained, {_json("m")} AS before_json
), drift AS (
    INSERT INTO sync_drift (run_id, number, kind, before, after)
    SELECT :run_id, w.number,
           CASE WHEN w.new_state = {_MISSING} THEN {_MISSED} ELSE {_REMOVED} END,
           w.before_json, NULL
    FROM written w
    WHERE :record_drift AND w.unexplained
    RETURNING 1
)
SELECT count(*) FILTER (WHERE new_state = {_DELETED}) AS removed,
       count(*) FILTER (WHERE new_state = {_MISSING}) AS missing,
       count(*) FILTER (WHERE unexplained) AS unexplained,
       (SELECT count(*) FROM drift) AS drift
FROM written
"""

# The guard's denominator, taken before the run writes anything.
_COUNT_LIVE = f"SELECT count(*) FROM numbers WHERE state IN {_LIVE_STATES}"

#: The numbers a run leaves alone (see "busy" above); ``:run_started`` is the run's start.
BUSY_NUMBERS = f"""
SELECT number FROM numbers WHERE pending_operation_id IS NOT NULL
UNION
SELECT number FROM operations
WHERE number IS NOT NULL AND kind IN {sql(NUMBER_OPERATION_KINDS)}
  AND (status IN {sql(IN_FLIGHT)} OR greatest(updated_at, finished_at) >= :run_started)
"""

# Collected once: a few rows, probed by every statement.
_COLLECT_BUSY = f"CREATE TEMPORARY TABLE {BUSY_TABLE} ON COMMIT DROP AS {BUSY_NUMBERS}"

_COUNT_BUSY = f"""
SELECT (SELECT count(*) FROM {INCOMING_TABLE} s WHERE {_busy("s.number")})
     + (SELECT count(*) FROM {HELD_TABLE} h WHERE {_busy("h.number")})
"""


class RemovalsRefused(Exception):
    """The run would take more of the mirror's live numbers off the account than it may.

    seven answering with a short or empty list (a glitch on its side) would otherwise
    mark every number missing, and a second such list deleted, ending every tenant's
    holding of it. Only removals nothing of ours explains count (our deletes and passed
    ends of period are expected): numbers becoming missing, and missing numbers this
    run would delete for having been missed long enough.
    """

    code = "sync_guard_tripped"

    def __init__(self, unexplained: int, live: int, max_share: float) -> None:
        self.unexplained = unexplained
        self.live = live
        super().__init__(
            f"{self.code}: seven no longer lists {unexplained} of the mirror's {live} live"
            f" numbers, more than SYNC_MAX_REMOVED_SHARE ({max_share:g}) allows; nothing"
            " was written. If seven's list is right, POST /v1/sync with"
            ' {"force": true} (or `python -m app.cli sync --force`) applies it.'
        )


@dataclass(frozen=True, slots=True)
class DiffCounts:
    fetched: int
    added: int
    changed: int
    removed: int
    """Marked ``deleted``."""
    missing: int
    """Marked ``missing``: seven no longer lists them, not yet confirmed gone."""
    unchanged: int
    drift: int

    def by_outcome(self) -> dict[str, int]:
        """The numbers by what the run did with them (without the drift among them)."""
        return {name: count for name, count in dataclasses.asdict(self).items() if name != "drift"}


async def load_incoming(
    conn: AsyncConnection, rows: Iterable[tuple[Any, ...]] | AsyncIterable[tuple[Any, ...]]
) -> None:
    """COPY seven's list (``RowCounter`` rows) into a temporary table shaped like the
    mirror's columns (with each item's digest).

    Must run inside the transaction that diffs: the table is dropped at its commit.
    ``CREATE TABLE AS ... WITH NO DATA`` copies the column types (numeric scale,
    jsonb, timestamptz) without the mirror's constraints.
    """
    copied = (*INCOMING_COLUMNS, *COPY_SUFFIX)
    columns = ", ".join(copied)
    # The comparison hashes the whole mirror (100,000 rows is about 25 MB); with the
    # default 4 MB it spills to disk in batches. Only this transaction gets more.
    await conn.execute(text(f"SET LOCAL work_mem = '{SYNC_WORK_MEM}'"))
    await conn.execute(
        text(
            f"CREATE TEMPORARY TABLE {INCOMING_TABLE} ON COMMIT DROP AS "
            f"SELECT {columns} FROM numbers WITH NO DATA"
        )
    )
    driver = await asyncpg_connection(conn)
    await driver.copy_records_to_table(INCOMING_TABLE, records=rows, columns=copied)


async def apply_diff(
    conn: AsyncConnection,
    *,
    run_id: uuid.UUID,
    run_started: datetime,
    previous_started: datetime | None,
    fetched: int,
    max_removed_share: float | None,
    confirm_seconds: int,
) -> DiffCounts:
    """Write the difference between seven's list (``sync_incoming`` and the numbers
    matched in ``sync_held``, see ``digests.py``) and the mirror; count it.

    A missing number is deleted when it was first missed at least ``confirm_seconds``
    before this run. Raises :class:`RemovalsRefused` when more than ``max_removed_share``
    of the live numbers were removed unexplained (None: no limit); the caller must then
    roll back, so that the run writes nothing.
    """
    params = {
        "run_id": run_id,
        "run_started": run_started,
        "confirm_seconds": confirm_seconds,
        # Drift needs something to drift from: the first run is the baseline.
        "record_drift": previous_started is not None,
        "previous_started": previous_started or datetime.min.replace(tzinfo=run_started.tzinfo),
    }
    await conn.execute(text(_COLLECT_BUSY), {"run_started": run_started})
    busy = (await conn.execute(text(_COUNT_BUSY))).scalar_one()
    live = (await conn.execute(text(_COUNT_LIVE))).scalar_one()
    # Existing rows first: into an empty mirror (the first sync) this join is instant,
    # where after the insert it would compare 100,000 rows just written.
    existing = (await conn.execute(text(_UPDATE_EXISTING), params)).one()
    # After the changes: a row just written has its item's digest already.
    await conn.execute(text(_RECORD_DIGESTS))
    new = (await conn.execute(text(_INSERT_NEW), params)).one()
    gone = (await conn.execute(text(_MARK_GONE), params)).one()
    # Checked on what the removal statement did (counting beforehand would cost another
    # anti-join over the whole mirror on every run); raising discards all of it, as the
    # caller rolls the transaction back.
    if max_removed_share is not None and gone.unexplained > max_removed_share * live:
        raise RemovalsRefused(gone.unexplained, live, max_removed_share)
    added = new.added + existing.added
    return DiffCounts(
        fetched=fetched,
        added=added,
        changed=existing.changed,
        removed=gone.removed,
        missing=gone.missing,
        unchanged=fetched - added - existing.changed - busy,
        drift=new.drift + existing.drift + gone.drift,
    )


# -- after the run: single reads of missing numbers (app/sync/confirm.py) --------------

#: The missing numbers to read, longest missing first; ``:limit`` of them.
OLDEST_MISSING = f"""
SELECT number FROM numbers
WHERE state = {_MISSING} AND pending_operation_id IS NULL
ORDER BY missing_since, number
LIMIT :limit
"""

# Only rows still missing with no operation pending are written: the read is older than
# anything an operation of ours did to the number since.
_STILL_MISSING = f"m.state = {_MISSING} AND m.pending_operation_id IS NULL"

_CONFIRM_GONE = f"""
WITH gone AS (
    UPDATE numbers m
    SET state = {_DELETED}, missing_since = NULL, synced_at = now(), updated_at = now()
    WHERE m.number = ANY(:numbers) AND {_STILL_MISSING}
    RETURNING m.number, {_json("m")} AS before_json
), drift AS (
    INSERT INTO sync_drift (run_id, number, kind, before, after)
    SELECT :run_id, g.number, {_REMOVED}, g.before_json, NULL FROM gone g
)
SELECT count(*) FROM gone
"""

_RESTORE_FOUND = f"""
WITH candidates AS (
    SELECT s.*, {_state("s")} AS new_state,
           {_json("m", "m.state")} AS before_json, {_json("s", _state("s"))} AS after_json
    FROM {INCOMING_TABLE} s JOIN numbers m USING (number)
    WHERE {_STILL_MISSING}
), restored AS (
    UPDATE numbers m
    SET {", ".join(f"{c} = c.{c}" for c in SEVEN_COLUMNS)},
        state = c.new_state, missing_since = NULL, synced_at = now(), updated_at = now()
    FROM candidates c
    WHERE m.number = c.number AND {_STILL_MISSING}
    RETURNING m.number
), drift AS (
    INSERT INTO sync_drift (run_id, number, kind, before, after)
    SELECT :run_id, c.number, {_CHANGED}, {_diff_keys("c.before_json", "c.after_json")},
           {_diff_keys("c.after_json", "c.before_json")}
    FROM candidates c JOIN restored r USING (number)
)
SELECT count(*) FROM restored
"""


async def apply_single_reads(
    conn: AsyncConnection,
    *,
    run_id: uuid.UUID,
    gone: Sequence[str],
    found: Sequence[ActiveNumber],
) -> tuple[int, int]:
    """Write what reads of missing numbers said (uncommitted), as drift of ``run_id``:
    ``gone`` numbers become ``deleted`` (drift ``removed``), ``found`` ones take seven's
    columns and state again with their holder (drift ``changed``). Returns how many of
    each were written (removed, restored)."""
    removed = restored = 0
    if gone:
        params = {"run_id": run_id, "numbers": list(gone)}
        removed = (await conn.execute(text(_CONFIRM_GONE), params)).scalar_one()
    if found:
        await load_incoming(conn, RowCounter(found))
        restored = (await conn.execute(text(_RESTORE_FOUND), {"run_id": run_id})).scalar_one()
    return removed, restored
