"""Keyset pagination: opaque cursors read back with their types, and a cursor only when
another page follows."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from sqlalchemy import select
from sqlalchemy.dialects import postgresql

from app.db.models import Operation
from app.lib.errors import InvalidInput
from app.lib.pagination import PageQuery
from app.numbers.service import PAGES as NUMBER_PAGES
from app.operations.reads import PAGES as OPERATION_PAGES
from app.sync.runs import DRIFT_PAGES

MOMENT = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)


def _rows(*keys: object) -> list[SimpleNamespace]:
    return [SimpleNamespace(created_at=MOMENT, id=key) for key in keys]


def _cursor(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


def test_a_page_has_a_cursor_only_when_one_more_row_was_found() -> None:
    query = PageQuery(limit=2)
    ids = [uuid.uuid4() for _ in range(3)]
    full = OPERATION_PAGES.page(_rows(*ids), query)
    assert [row.id for row in full.items] == ids[:2]
    assert full.next_cursor is not None
    after = OPERATION_PAGES.query("2", full.next_cursor).after
    assert after == (MOMENT, ids[1])
    # Exactly as many rows as the page holds: the last page, no cursor.
    assert OPERATION_PAGES.page(_rows(*ids[:2]), query).next_cursor is None
    assert OPERATION_PAGES.page([], query).next_cursor is None


def test_the_cursor_is_opaque_url_safe_and_round_trips() -> None:
    cursor = NUMBER_PAGES.page(
        [SimpleNamespace(number="4915170264838")] * 2, PageQuery(limit=1)
    ).next_cursor
    assert cursor is not None and "=" not in cursor and "4915170264838" not in cursor
    assert NUMBER_PAGES.query(None, cursor) == PageQuery(limit=50, after=("4915170264838",))


@pytest.mark.parametrize(
    "cursor",
    [
        "***",
        "\u00e9",
        _cursor(b"not json"),
        _cursor(b"[4915170264838]"),  # a number, not the text of one
        _cursor(b'["4915170264838", "4915170264839"]'),
        _cursor(b"4915170264838"),
    ],
)
def test_a_cursor_the_list_did_not_make_is_invalid_cursor(cursor: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        NUMBER_PAGES.query(None, cursor)
    assert caught.value.code == "invalid_cursor"
    assert caught.value.details["parameter"] == "cursor"


def test_a_cursor_is_read_back_with_its_types() -> None:
    run = uuid.uuid4()
    naive = _cursor(f'["2026-03-01T12:30:15", "{run}"]'.encode())
    not_a_uuid = _cursor(b'["2026-03-01T12:30:15Z", "x"]')
    for cursor in (naive, not_a_uuid):
        with pytest.raises(InvalidInput, match="invalid cursor"):
            OPERATION_PAGES.query(None, cursor)


def test_parameters_are_named_as_the_list_names_them() -> None:
    with pytest.raises(InvalidInput) as caught:
        DRIFT_PAGES.query(None, "x")
    assert caught.value.code == "invalid_drift_cursor"
    assert "next_drift_cursor" in caught.value.message
    with pytest.raises(InvalidInput) as limit:
        DRIFT_PAGES.query("10001", None)
    assert limit.value.code == "invalid_drift_limit"
    assert DRIFT_PAGES.query(None, None) == PageQuery(limit=1000)


def test_the_query_continues_after_the_key_in_the_lists_order_one_row_more() -> None:
    last = uuid.uuid4()
    stmt = OPERATION_PAGES.select(select(Operation.id), PageQuery(3, (MOMENT, last)))
    compiled = stmt.compile(dialect=postgresql.dialect())
    sql = " ".join(str(compiled).split())
    assert "WHERE (operations.created_at, operations.id) < (" in sql
    assert "ORDER BY operations.created_at DESC, operations.id DESC LIMIT" in sql
    assert list(compiled.params.values()) == [MOMENT, last, 4]
