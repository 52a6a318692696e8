"""At most ``COST_REPORTS_PER_KEY`` cost reports at once per API key, across all API processes.

The counter lives in PostgreSQL, not Redis: each running report holds one of its key's
slots, a transaction-level advisory lock (``pg_try_advisory_xact_lock``) taken in the
transaction the report's statement runs in. PostgreSQL lets the lock go when that
transaction ends, however it ends: the report's session closing at the end of the
request, a request cancelled midway (the pool rolls its connection back), or an API
process that crashed (its connections close). A process that hangs instead is cut off by
``statement_timeout`` or ``idle_in_transaction_session_timeout``. So no slot outlives its
report and there is no lease to tune; and the reports, which need PostgreSQL anyway, do
not start to depend on Redis.

Slots are tried in order and none is waited for: with every slot taken the request is
refused at once, 429 with ``Retry-After``.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.lib.auth import Principal
from app.lib.errors import TooManyRequests

#: A report takes about a second over 100,000 numbers: by then a slot is likely free.
RETRY_AFTER_SECONDS = 2


def slot_key(principal: Principal, slot: int) -> int:
    """The advisory-lock key of one of ``principal``'s report slots: 63 bits of a hash,
    never negative, in the same bigint key space as the operations' locks (a clash of
    63-bit hashes is not a concern)."""
    caller = str(principal.key_id) if principal.key_id is not None else principal.actor
    digest = hashlib.blake2b(f"cost-report:{caller}:{slot}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


async def take_report_slot(session: AsyncSession, principal: Principal, slots: int) -> None:
    """Hold one of the caller's slots for the rest of ``session``'s transaction, which the
    report's statement must run in; ``TooManyRequests`` when all are taken."""
    for slot in range(slots):
        if await session.scalar(select(func.pg_try_advisory_xact_lock(slot_key(principal, slot)))):
            return
    raise TooManyRequests(
        f"At most {slots} cost reports run at once for one API key; "
        f"try again in {RETRY_AFTER_SECONDS} seconds.",
        retry_after=RETRY_AFTER_SECONDS,
        code="too_many_reports",
    )
