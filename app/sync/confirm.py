"""After a run: missing numbers read one by one at seven, to confirm them gone or find them.

seven's list is one large answer that a glitch can cut short; a read of one number
(``GET /numbers/active/:number``) is a second answer about that number alone. After each
run that ran, the numbers left ``missing`` (longest missing first, at most
``READS_PER_RUN``) are read:

* not on the account (:class:`NumberNotOnAccount`): ``deleted``, drift ``removed`` on
  the run (the trigger of migration 0005 releases the holder);
* found: back to ``active``/``deleting`` with seven's columns, holder untouched, drift
  ``changed`` (``state`` from ``missing``);
* any other answer says nothing about the number: it stays missing for the next run (or
  the confirmation window, ``SYNC_CONFIRM_MISSING_SECONDS``). A transient one (seven
  unreachable, 429, a 5xx, a timeout, an answer in no documented shape) ends the reading
  for this run: the numbers after it would most likely meet the same, each after its own
  wait.

Why a bound: the reads run one after another inside the sync job, under its lock and its
timeout (``SYNC_JOB_TIMEOUT_SECONDS``, 600 s). At a few tenths of a second a read, 50 add
seconds to a run; a short list, though, can leave up to ``SYNC_MAX_REMOVED_SHARE`` of the
account missing, and reading tens of thousands of numbers would hold the sync for hours
and press on an API with no documented rate limit. The usual case, a few numbers someone
removed in seven's web interface, is settled by the run that first misses them; the rest
wait for later runs (longest missing first, so none waits forever) or the window.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.seven.client import SevenClient
from app.seven.errors import NumberNotOnAccount, SevenError
from app.seven.types import ActiveNumber
from app.sync.diff import OLDEST_MISSING, apply_single_reads

log = structlog.get_logger(__name__)

READS_PER_RUN = 50


@dataclass(frozen=True, slots=True)
class Confirmed:
    """What the reads after one run wrote."""

    removed: int
    """Confirmed gone: now ``deleted``."""
    restored: int
    """Found at seven: ``active``/``deleting`` again."""


async def confirm_missing(
    conn: AsyncConnection, seven: SevenClient, run_id: uuid.UUID, *, limit: int = READS_PER_RUN
) -> Confirmed:
    """Read the longest-missing numbers at seven and write what the answers settle, as
    drift of ``run_id`` (uncommitted: the caller commits it with the run's new counts)."""
    numbers = list((await conn.execute(text(OLDEST_MISSING), {"limit": limit})).scalars())
    # No transaction stays open while seven answers.
    await conn.commit()
    if not numbers:
        return Confirmed(removed=0, restored=0)
    clock = time.perf_counter()
    gone: list[str] = []
    found: list[ActiveNumber] = []
    read = 0
    for number in numbers:
        read += 1
        try:
            found.append(await seven.get_active(number))
        except NumberNotOnAccount:
            gone.append(number)
        except SevenError as error:
            log.info("sync_missing_unsettled", number=number, code=error.code)
            if error.transient:
                break
    removed, restored = await apply_single_reads(conn, run_id=run_id, gone=gone, found=found)
    log.info(
        "sync_missing_read",
        run_id=str(run_id),
        missing=len(numbers),
        read=read,
        removed=removed,
        restored=restored,
        seconds=round(time.perf_counter() - clock, 3),
    )
    return Confirmed(removed=removed, restored=restored)
