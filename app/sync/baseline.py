"""The baseline run into an empty mirror: seven's list COPYed straight into ``numbers``.

When no run has succeeded yet (the run records no drift) and the mirror holds no row,
the diff of ``diff.py`` has nothing to compare: nothing exists to change or remove,
and every number seven lists is added unless an operation of ours is busy with it.
So instead of COPYing the list into a temporary table and inserting it from there,
the rows go into ``numbers`` by COPY (in a few statements, each one's trigger work
overlapping the reading of the next); for 100,000 numbers this halved the first
sync (the temporary table, the anti-joins and the second pass over every row are gone).
What is written is what the diff would write: the same columns (``rows.py``, each
item's digest included: ``digests.py``), the
state of ``state_for``, ``synced_at`` the transaction's ``now()``, and the same busy
numbers left out. The mirror's triggers fire for COPY as for INSERT (the first fee
version of each number is recorded).

The mirror's secondary indexes (those not behind a constraint) are dropped before the
COPY and built again after it, in the same transaction: building an index over rows
already there sorts them once, where keeping it up to date inserts each row into each
B-tree (100,000 numbers: the first sync 5.0 to 5.9 s with the indexes kept, see
bench/README.md). That takes ``ACCESS EXCLUSIVE``, which keeps other writers out of
``numbers`` until the run commits, so the mirror is still empty when the COPY runs (an
order that inserted its row meanwhile would otherwise fail the COPY on the primary
key), and readers wait too: seconds, once in the mirror's life, while it has nothing
to read yet. The two trigram indexes are not built in the run: they are left to
``CREATE INDEX CONCURRENTLY`` after its commit (``indexes.py``), so the mirror is
there to read (searches scanning it) half a second sooner at 100,000 numbers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.driver import asyncpg_connection
from app.seven.types import ActiveNumber
from app.sync.diff import BUSY_NUMBERS, DiffCounts
from app.sync.indexes import defer_index, deferred
from app.sync.rows import COPY_SUFFIX, MIRROR_COLUMNS, RowCounter, mirror_row_maker

_MIRROR_HAS_ROWS = text("SELECT EXISTS (SELECT 1 FROM numbers)")
# The indexes of ``numbers`` that no constraint owns (the primary key stays: it is what
# would refuse a number listed twice), as the statements that create them.
_SECONDARY_INDEXES = text(
    """
SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition
FROM pg_index i
WHERE i.indrelid = 'numbers'::regclass
  AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = i.indexrelid)
"""
)

_COPY_COLUMNS = (*MIRROR_COLUMNS, *COPY_SUFFIX)
# The first COPY statement's rows (each later one: as many as all before it). More than
# the 5,000 above which a statement's change notice is one "*" (migration 0006).
_FIRST_STATEMENT_ROWS = 10_000
# Rows are handed from the reader to the COPY in parcels, at most this many ahead of
# it: about 20,000 rows, a few tens of MB, while a statement's trigger work runs.
_PARCEL_ROWS = 1_000
_AHEAD_PARCELS = 20


async def load_baseline(
    conn: AsyncConnection,
    numbers: AsyncIterable[Iterable[ActiveNumber]],
    *,
    run_started: datetime,
) -> DiffCounts | None:
    """COPY seven's list, read as it arrives in batches, into the empty mirror and count
    it; None when the mirror has rows (nothing read or written: the caller diffs
    instead). Call it only for a run with no succeeded run before it, inside the
    transaction that commits the run."""
    if (await conn.execute(_MIRROR_HAS_ROWS)).scalar_one():
        return None
    await conn.execute(text("LOCK TABLE numbers IN ACCESS EXCLUSIVE MODE"))
    # Looked at again under the lock: a writer may have committed since.
    if (await conn.execute(_MIRROR_HAS_ROWS)).scalar_one():
        return None
    busy = set((await conn.execute(text(BUSY_NUMBERS), {"run_started": run_started})).scalars())
    synced_at = (await conn.execute(text("SELECT now()"))).scalar_one()
    # In seven's order, as it arrives: sorting by number first sped the B-trees' inserts
    # up (about 0.2 s of 2 s for 100,000 numbers) but needed the whole list held at once.
    rows = RowCounter(row=mirror_row_maker(synced_at), skip=busy)
    indexes = (await conn.execute(_SECONDARY_INDEXES)).all()
    for index in indexes:
        await conn.execute(text(f"DROP INDEX {index.name}"))
    driver = await asyncpg_connection(conn)
    await _copy_in_statements(driver, rows.of_batches(numbers))
    for index in indexes:
        if deferred(index.definition):
            await defer_index(conn, index.name, index.definition)
        else:
            await conn.execute(text(index.definition))
    added = rows.count - rows.skipped
    return DiffCounts(
        fetched=rows.count, added=added, changed=0, removed=0, missing=0, unchanged=0, drift=0
    )


async def _copy_in_statements(driver: Any, rows: AsyncIterator[tuple[Any, ...]]) -> None:
    """COPY ``rows`` into ``numbers`` in several statements, each as long as all before it
    together (the first ``_FIRST_STATEMENT_ROWS``), the list read ahead while one ends.

    What the mirror's triggers do for a statement runs at its end: the fee versions'
    ``INSERT`` from the transition table and its rollup trigger, four foreign keys'
    checks per row, the change notice. In one COPY all of it waited until seven's whole
    list was read, with the worker idle; statement by statement it overlaps reading,
    decoding and building the next rows (up to ``_AHEAD_PARCELS`` parcels ahead). The
    statements double because the fee versions' rollup trigger reads the whole mirror
    once per statement: equal statements would make that quadratic (a million numbers
    in 10,000-row statements: 74 s instead of about 30), doubling ones keep the sum
    under twice the mirror. The rows and what the triggers write are the same; only the
    rollup months are marked outdated once per statement, each from its first month.
    """
    parcels: asyncio.Queue[list[tuple[Any, ...]] | None] = asyncio.Queue(_AHEAD_PARCELS)

    async def read() -> None:
        parcel: list[tuple[Any, ...]] = []
        try:
            async for row in rows:
                parcel.append(row)
                if len(parcel) == _PARCEL_ROWS:
                    await parcels.put(parcel)
                    parcel = []
            if parcel:
                await parcels.put(parcel)
        finally:
            # Also when reading failed: the statements stop, and awaiting the reader
            # raises its error.
            await parcels.put(None)

    copied = 0

    async def statement(first: list[tuple[Any, ...]]) -> AsyncIterator[tuple[Any, ...]]:
        """The rows of one statement, from its first parcel on; None left for the loop."""
        nonlocal copied
        quota = max(_FIRST_STATEMENT_ROWS, copied)
        parcel: list[tuple[Any, ...]] | None = first
        while parcel is not None:
            for row in parcel:
                yield row
            copied += len(parcel)
            quota -= len(parcel)
            if quota <= 0:
                return
            parcel = await parcels.get()
        await parcels.put(None)  # the end of the list, for the loop below

    reader = asyncio.create_task(read())
    try:
        while (first := await parcels.get()) is not None:
            await driver.copy_records_to_table(
                "numbers", records=statement(first), columns=_COPY_COLUMNS
            )
        await reader
    finally:
        reader.cancel()
