"""Which of seven's items a re-sync need not decode: the mirror's digests of them.

A re-sync used to decode and COPY every number seven lists, only to find most of them
equal to the mirror (bench/README.md, Sync). Each row the sync writes now also keeps
``seven_digest``, BLAKE2b-128 of the item's bytes as seven sent them; the trigger of
migration 0022 clears it when anything else writes what the diff compares or judges a
row by (seven's columns, ``state``, ``missing_since``, ``pending_operation_id``). So
while a row has a digest it holds exactly what that item maps to, and its state is
the one the item gives it: the diff would find nothing to write. A re-sync takes the
digests at its start (:func:`hold_digests`), hashes each item as it arrives, and
decodes and copies only the items whose digest it does not hold (``RowCounter``). The
numbers it matched stay in ``sync_held`` (:func:`keep_matched`), where the diff's
statements find them listed (not removed, and counted busy when an operation of ours
is busy with them), as rows of ``sync_incoming`` would have been.

A row cleared by a write that happened after the digests were taken is still judged
by its digest in that run, as a row changed after seven's list was read is judged by
that list; the next run decodes it again.
"""

# The SQL here is assembled from this module's constants, never input.
# ruff: noqa: S608

from __future__ import annotations

import hashlib
from collections.abc import Collection

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.driver import asyncpg_connection

#: The numbers whose digest the run held and met again (after ``keep_matched``).
HELD_TABLE = "sync_held"
DIGEST_COLUMN = "seven_digest"
# Part of every digest: change it when rows.py or state_for maps an item differently,
# so that no stored digest vouches for a row the new mapping would write otherwise.
_MAPPING = b"rows.py 1"
_HOLD_SLICE = 50_000


def item_digest(item: bytes | msgspec.Raw) -> bytes:
    """The digest of one item of seven's list (its bytes, as sent: ``msgspec.Raw``)."""
    return hashlib.blake2b(item, digest_size=16, person=_MAPPING).digest()


async def hold_digests(conn: AsyncConnection) -> dict[bytes, str]:
    """The mirror's digests, each to its number; kept in ``sync_held`` for the run's
    transaction (dropped at its commit)."""
    await conn.execute(
        text(
            f"CREATE TEMPORARY TABLE {HELD_TABLE} ON COMMIT DROP AS"
            f" SELECT number, {DIGEST_COLUMN} FROM numbers WHERE {DIGEST_COLUMN} IS NOT NULL"
        )
    )
    driver = await asyncpg_connection(conn)
    # The driver's records (not SQLAlchemy's rows: a third of the time), a slice at a
    # time: a million records at once took the worker's peak from about 300 to 381 MB.
    cursor = await driver.cursor(f"SELECT {DIGEST_COLUMN}, number FROM {HELD_TABLE}")
    held: dict[bytes, str] = {}
    while records := await cursor.fetch(_HOLD_SLICE):
        held.update(records)  # each record is a (digest, number) pair
    return held


async def keep_matched(conn: AsyncConnection, unmatched: Collection[str]) -> None:
    """Leave in ``sync_held`` only the numbers whose digest the run met (``unmatched``:
    the held ones it did not meet, or met only after the number's first item)."""
    if unmatched:
        await conn.execute(
            text(f"DELETE FROM {HELD_TABLE} WHERE number = ANY(:numbers)"),
            {"numbers": list(unmatched)},
        )
