"""Statements that commit on their own: one round trip for what is one statement.

In a transaction, a lone statement costs three round trips with asyncpg (BEGIN, the
statement, COMMIT). A connection in PostgreSQL's autocommit mode sends it alone, and
PostgreSQL commits it before it answers, so a single statement (a lock, a read, one
UPDATE) is exactly as durable and as atomic as before, for a third of the trips. Where
several statements must commit together, the connection is switched back first.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection


async def commit_each_statement(connection: AsyncConnection, on: bool = True) -> None:
    """From now on each statement on ``connection`` commits on its own (``on``), or the
    next one begins a transaction that lasts until a commit (``on=False``, the default
    isolation). Only between transactions: SQLAlchemy refuses the switch inside one. No
    round trip; the pool restores the default when the connection is returned."""
    level = "AUTOCOMMIT" if on else connection.default_isolation_level
    await connection.execution_options(isolation_level=level)
