"""The baseline run into an empty mirror: seven's list COPYed straight into ``numbers``.

When no run has succeeded yet (the run records no drift) and the mirror holds no row,
the diff of ``diff.py`` has nothing to compare: nothing exists to change or remove,
and every number seven lists is added unless an operation of ours is busy with it.
So instead of COPYing the list into a temporary table and inserting it from there,
the rows go into ``numbers`` by COPY (in chunks of ``_CHUNK_ROWS``, each one's
trigger work overlapping the reading of the next); for 100,000 numbers this halved the first
sync (the temporary table, the anti-joins and the second pass over every row are gone).
What is written is what the diff would write: the same columns (``rows.py``, each
item's digest included: ``digests.py``), the
state of ``state_for``, ``synced_at`` the transaction's ``now()``, and the same busy
numbers left out. The mirror's triggers fire for COPY as for INSERT (the first fee
version of each number is recorded).

The mirror's secondary indexes (those not behind a constraint) are dropped before the
COPY: building an index over rows already there sorts them once, where keeping it up
to date inserts each row into each B-tree (100,000 numbers: the first sync 5.0 to 5.9 s
with the indexes kept, see bench/README.md). Dropping them takes ``ACCESS EXCLUSIVE``,
which keeps other writers out of ``numbers`` until the run commits, so the mirror is
still empty when the COPY runs (an order that inserted its row meanwhile would
otherwise fail the COPY on the primary key), and readers wait too: seconds, once in
the mirror's life, while it has nothing to read yet. They are not built again in the
run: each is left to ``CREATE INDEX CONCURRENTLY`` after its commit (``indexes.py``),
so the mirror is there to read (filters and searches scanning it meanwhile) about half
a second sooner at 100,000 numbers. A unique index would be built in the run.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

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
# Rows per COPY statement: more than the 5,000 above which the change notice of a
# statement is one "*" (migration 0018), and few enough that the three chunks held at
# once (copied, queued, being read) stay a few tens of MB.
_CHUNK_ROWS = 10_000


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
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    await _copy_in_chunks(driver, rows.of_batches(numbers))
    for index in indexes:
        if deferred(index.definition):
            await defer_index(conn, index.name, index.definition)
        else:
            await conn.execute(text(index.definition))
    added = rows.count - rows.skipped
    return DiffCounts(
        fetched=rows.count, added=added, changed=0, removed=0, missing=0, unchanged=0, drift=0
    )


async def _copy_in_chunks(driver: Any, rows: AsyncIterator[tuple[Any, ...]]) -> None:
    """COPY ``rows`` into ``numbers`` in statements of ``_CHUNK_ROWS``, the next chunk read
    while the last one's statement finishes.

    What the mirror's triggers do for a statement runs at its end: the fee versions'
    ``INSERT`` from the transition table and its rollup trigger, four foreign keys'
    checks per row, the change notice. In one COPY all of it waited until seven's whole
    list was read, with the worker idle; chunk by chunk it overlaps reading, decoding
    and building the next chunk's rows (100,000 numbers: 2.1 s to 1.8 s, bench/README).
    The rows and what the triggers write are the same; only the rollup months are
    marked outdated once per chunk instead of once (each time from its first month).
    """
    chunks: asyncio.Queue[list[tuple[Any, ...]] | None] = asyncio.Queue(maxsize=1)

    async def read() -> None:
        chunk: list[tuple[Any, ...]] = []
        try:
            async for row in rows:
                chunk.append(row)
                if len(chunk) == _CHUNK_ROWS:
                    await chunks.put(chunk)
                    chunk = []
            if chunk:
                await chunks.put(chunk)
        finally:
            # Also when reading failed: the loop below stops, and awaiting the reader
            # raises its error.
            await chunks.put(None)

    reader = asyncio.create_task(read())
    try:
        while (chunk := await chunks.get()) is not None:
            await driver.copy_records_to_table("numbers", records=chunk, columns=_COPY_COLUMNS)
        await reader
    finally:
        reader.cancel()
