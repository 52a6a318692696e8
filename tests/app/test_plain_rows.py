"""Core rows converted to named tuples (app.db.rows.plain) read as the rows they were:
the cache's load builds each number's document from them."""

from __future__ import annotations

from sqlalchemy import select

from app.db.models import Number
from app.db.rows import plain
from app.numbers.service import _document
from app.resources import Resources
from tests.support.tenancy import Sessions, seed_numbers


async def test_plain_rows_hold_every_column_as_the_rows_did(
    sessions: Sessions, resources: Resources
) -> None:
    await seed_numbers(sessions, ["4915170264838", "4915170264839"], friendly_name="Support")
    async with resources.engine.connect() as connection:
        rows = (await connection.execute(select(Number.__table__).order_by("number"))).all()
    converted = plain(rows)
    assert [tuple(row) for row in converted] == [tuple(row) for row in rows]
    for row, same in zip(rows, converted, strict=True):
        assert {field: getattr(same, field) for field in row._fields} == row._asdict()
        assert _document(same) == _document(row)  # type: ignore[arg-type]
    assert plain([]) == []
