"""The asyncpg connection under a SQLAlchemy one, for what SQLAlchemy does not offer:
COPY, a cursor over the driver's records, a statement's records without building rows
(a third of the time for a million of them)."""

from __future__ import annotations

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection


async def asyncpg_connection(connection: AsyncConnection) -> asyncpg.Connection:
    """The driver's connection, in whatever transaction ``connection`` is in."""
    driver = (await connection.get_raw_connection()).driver_connection
    if driver is None:  # only a connection already closed has none
        raise RuntimeError("the connection is closed")
    return driver
