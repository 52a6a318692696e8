"""Indexes of the mirror that the first sync leaves to be built after its commit.

The first sync into the empty mirror drops the secondary indexes of ``numbers`` for its
COPY (``baseline.py``). The B-trees and the tags' GIN are built again in the run's own
transaction; the two trigram GIN indexes, which only ``q=`` searches use, are not:
their definitions are written to ``deferred_index_builds`` in that transaction, and
once the run has committed and its operation has succeeded they are built with
``CREATE INDEX CONCURRENTLY`` (:func:`build_deferred_indexes`, called under the sync's
lock at the end of every run). Meanwhile every read is answered as before, a search by
a scan of ``numbers`` instead of the index; nothing the mirror holds waits for them.

A worker that dies between the commit and the builds leaves the rows behind, and the
next run builds them. A build cut short (a timeout, a cancelled job) leaves an invalid
index of that name, which is dropped and built again.
"""

from __future__ import annotations

import re
import time

import structlog
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = structlog.get_logger(__name__)

_PENDING = text("SELECT name, definition FROM deferred_index_builds ORDER BY name")
_DEFER = text(
    "INSERT INTO deferred_index_builds (name, definition) VALUES (:name, :definition)"
    " ON CONFLICT (name) DO UPDATE SET definition = EXCLUDED.definition, deferred_at = now()"
)
_DONE = text("DELETE FROM deferred_index_builds WHERE name = :name")
# True: the index is there and usable; False: a build of it was cut short; None: none.
_VALID = text("SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass(:name)")
_CREATE_INDEX = re.compile(r"^CREATE (UNIQUE )?INDEX ")


def deferred(definition: str) -> bool:
    """Whether the first sync leaves this index (``pg_get_indexdef``) to be built after it:
    the trigram indexes, which no list filter, sort or constraint uses."""
    return "gin_trgm_ops" in definition


async def defer_index(conn: AsyncConnection, name: str, definition: str) -> None:
    """Record, in the caller's transaction, that ``name`` is to be built after it commits."""
    await conn.execute(_DEFER, {"name": name, "definition": definition})


def concurrently(definition: str) -> str:
    """``CREATE [UNIQUE] INDEX ...`` as ``CREATE [UNIQUE] INDEX CONCURRENTLY ...``."""
    statement, found = _CREATE_INDEX.subn(r"CREATE \1INDEX CONCURRENTLY ", definition, count=1)
    if not found:
        raise ValueError(f"not an index definition: {definition!r}")
    return statement


async def build_deferred_indexes(engine: AsyncEngine) -> list[str]:
    """Build every deferred index; the names built. A build that fails is logged and left
    for the next run (the mirror is whole without it: only searches are slower)."""
    built: list[str] = []
    async with engine.connect() as conn:
        # CREATE INDEX CONCURRENTLY cannot run inside a transaction block.
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        pending = (await conn.execute(_PENDING)).tuples().all()
        if not pending:
            return built
        clock = time.perf_counter()
        for name, definition in pending:
            try:
                valid = (await conn.execute(_VALID, {"name": name})).scalar_one_or_none()
                if valid is False:
                    await conn.execute(text(f"DROP INDEX CONCURRENTLY {name}"))
                if valid is not True:
                    await conn.execute(text(concurrently(definition)))
                await conn.execute(_DONE, {"name": name})
            except DBAPIError as error:
                log.warning("deferred_index_build_failed", index=name, error=str(error.orig))
                continue
            built.append(name)
        log.info(
            "deferred_indexes_built",
            indexes=built,
            seconds=round(time.perf_counter() - clock, 3),
        )
    return built
