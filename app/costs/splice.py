"""The account-wide report by number of a live month, spliced: the kept recurring part's
rows without usage, encoded once when the part is kept, with afresh only the rows of the
numbers that have usage this month (migration 0026).

A usage write changes the row of one number, yet the report from the part (``parts.py``)
read, summed, rounded and encoded all ~97,000 of them again, when ~12,000 numbers have
usage in a month. Here the part's rows are kept as the answers write them with no usage,
each at a known byte offset, in key order (:func:`keep`); a report reads them whole and
writes over them the rows of the numbers with usage, priced in its own statement beside
the part's validity check (``sql.spliced_sql``): a row of a number with usage replaces
the kept one, or goes in at its place when the number has usage alone. The totals are
the kept exact sums plus the usage, rounded once. The same bytes as the whole
statement's answer: each row is the same figures through the same encoder.

The numbers a recurring change touched since the part was kept (``parts.py``, migration
0027) go the same way, their slices computed afresh: a row replaces the kept one, goes
in at its place, or, when the number has no charge now (deleted before the month, say),
the kept one goes; the totals take their kept sums out and their fresh ones in.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_left
from typing import Any

import msgspec

from app.costs.live import touched_sql, usable_sql, valid_sql
from app.costs.model import Row
from app.costs.rendered import Rendered, encoded_row, encoded_totals, stored
from app.costs.sql import (
    AFRESH_PARAMETERS,
    NUMBER_ROWS_SQL,
    NUMBER_SUMS_SQL,
    SPLICED_PARAMETERS,
    numbered,
    spliced_sql,
)

#: From the valid part, and from the usable part with the touched numbers afresh.
REPORT_SQL = numbered(spliced_sql(valid_sql("p", True)), SPLICED_PARAMETERS)
AFRESH_SQL = numbered(
    spliced_sql(usable_sql("p"), touched_sql("p")), (*SPLICED_PARAMETERS, *AFRESH_PARAMETERS)
)
_KEEP = (
    "INSERT INTO cost_live_number_rows (part, numbers, recurring, setup, keys, offsets, rows)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7)"
)
_keys = msgspec.json.Decoder(list[str])
# Rows encoded between two turns of the event loop while a part is kept (~5 ms).
_YIELD_EVERY = 4096
_offsets = msgspec.json.Decoder(list[int])


async def keep(driver: Any, part: int) -> None:
    """Keep the rows of ``part`` (an asyncpg connection ``driver``, in the transaction
    that kept the part): each row encoded and followed by a comma, the byte offset of
    each and of the end, the keys in order; and the exact sums of its figures."""
    rows = sorted(await driver.fetch(NUMBER_ROWS_SQL, part), key=_by_key)
    sum_recurring, sum_setup = await driver.fetchrow(NUMBER_SUMS_SQL, part)
    encoded, offsets, at = [], [], 0
    for index, (key, recurring, setup, usage, total) in enumerate(rows):
        if index % _YIELD_EVERY == 0:  # ~0.15 s of encoding: let the answers in between
            await asyncio.sleep(0)
        row = encoded_row(Row(key, 1, recurring, setup, usage, total)) + b","
        offsets.append(at)
        encoded.append(row)
        at += len(row)
    offsets.append(at)
    keys = msgspec.json.encode([row[0] for row in rows])
    await driver.execute(
        _KEEP,
        part,
        len(rows),
        sum_recurring,
        sum_setup,
        keys,
        msgspec.json.encode(offsets),
        b"".join(encoded),
    )


def _by_key(row: Any) -> str:
    return str(row[0])


def spliced(records: list[Any]) -> tuple[Rendered, str | None] | None:
    """The report of :data:`REPORT_SQL`'s records and the snapshot it was read in; None
    when they are none (no valid part with kept rows)."""
    if not records:
        return None
    *used, totals = records
    if not totals[2]:
        raise ValueError("the spliced report's totals row comes last")
    keys, offsets, kept = _keys.decode(totals[9]), _offsets.decode(totals[10]), totals[11]
    view = memoryview(kept)
    pieces: list[Any] = [b"["]
    at = 0  # how far the kept rows are copied
    for row in sorted(used, key=_by_key):
        key, _, _, recurring, setup, usage, total, in_part, has_row, *_ = row
        place = bisect_left(keys, key)
        if in_part != (keys[place : place + 1] == [key]):  # the part's rows and slices disagree
            raise ValueError(f"the kept rows and the part's slices disagree on {key!r}")
        pieces.append(view[at : offsets[place]])
        if has_row:  # else a touched number that has no row now: its kept one goes
            pieces.append(encoded_row(Row(key, 1, recurring, setup, usage, total, None)) + b",")
        # A number with a kept row: this one replaces it; else it goes in before the next.
        at = offsets[place + 1] if in_part else offsets[place]
    pieces.append(view[at:])
    rows = b"".join(pieces)
    rows = rows[:-1] + b"]" if rows.endswith(b",") else rows + b"]"
    recurring, setup, usage, total = totals[3:7]
    summed = Row("total", totals[1], recurring, setup, usage, total)
    return stored(rows, encoded_totals(summed)), totals[12]
