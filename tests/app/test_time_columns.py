"""Every time the database holds is an instant (timestamptz), so none leaves without its offset."""

from __future__ import annotations

import asyncpg


async def test_no_column_holds_a_time_without_its_zone(database_url: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        naive = await connection.fetch(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = 'public' AND data_type = 'timestamp without time zone'"
        )
        zoned = await connection.fetchval(
            "SELECT count(*) FROM information_schema.columns"
            " WHERE table_schema = 'public' AND data_type = 'timestamp with time zone'"
        )
    finally:
        await connection.close()
    assert [tuple(row) for row in naive] == []
    assert zoned > 10  # the migrations ran: the check looked at real tables
