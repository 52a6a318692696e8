"""Keyset pagination, once: the cursor, the page, and the one extra row that tells whether
another page follows.

A list is ordered by columns that are unique together (its :class:`Keyset`); a page is the
rows after the previous page's last one in that order, so pages stay stable while rows are
added, and no page costs more than the one before (no ``OFFSET``). The cursor handed out is
that last row's key as base64url of its JSON: opaque to callers, and read back with the
types of the key's columns, so a cursor the list did not make is one 422 ``invalid_cursor``.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from typing import TYPE_CHECKING, Annotated, Any, Generic, TypeVar

import msgspec
from sqlalchemy import ColumnElement, DateTime, Select, tuple_
from sqlalchemy.orm import InstrumentedAttribute

from app.lib.params import given, invalid, parse_count

if TYPE_CHECKING:
    from litestar.params import KwargDefinition

T = TypeVar("T")
U = TypeVar("U")
R = TypeVar("R")
S = TypeVar("S", bound=Select[Any])


class Page(msgspec.Struct, Generic[T]):
    """One page of a list; ``next_cursor``, passed back as ``cursor``, asks for the next
    and is null on the last page."""

    items: list[T]
    next_cursor: str | None

    def map(self, out: Callable[[T], U]) -> Page[U]:
        return Page(items=[out(item) for item in self.items], next_cursor=self.next_cursor)


@dataclass(frozen=True, slots=True)
class PageQuery:
    limit: int
    after: tuple[Any, ...] | None = None
    """The previous page's last key, from its cursor; None for the first page."""


def _key_type(column: InstrumentedAttribute[Any]) -> Any:
    """The type a cursor's value for ``column`` is read back as."""
    if isinstance(column.type, DateTime) and column.type.timezone:
        # Written with its offset, so read back only with one.
        return Annotated[datetime, msgspec.Meta(tz=True)]
    return column.type.python_type


class Keyset:
    """How one list pages: the columns it is ordered by, unique together; their direction;
    its default and largest ``limit``; and the names of its ``limit`` and ``cursor``
    parameters (the codes of their 422s follow them)."""

    def __init__(
        self,
        *columns: InstrumentedAttribute[Any],
        limit: int,
        max_limit: int,
        descending: bool = False,
        limit_name: str = "limit",
        cursor_name: str = "cursor",
        cursor_from: str = "next_cursor",
    ) -> None:
        self.max_limit = max_limit
        self._columns = columns
        self._key_type = tuple[tuple(_key_type(column) for column in columns)]  # type: ignore[misc]
        self._row_key = attrgetter(*(column.key for column in columns))
        self._default_limit = limit
        self._descending = descending
        self._limit_name = limit_name
        self._cursor_name = cursor_name
        self._cursor_from = cursor_from

    # How the handlers document their parameters: built on first use, so that what imports
    # a Keyset without serving it (the worker) needs no web framework.
    @functools.cached_property
    def limit_parameter(self) -> KwargDefinition:
        from app.lib.query_parameters import count_parameter

        return count_parameter(self._default_limit, self.max_limit)

    @functools.cached_property
    def cursor_parameter(self) -> KwargDefinition:
        from app.lib.query_parameters import cursor_parameter

        return cursor_parameter(f"{self._cursor_from} of the previous page")

    def query(self, limit: str | None, cursor: str | None) -> PageQuery:
        """The page a request asks for; each bad parameter is a 422 that names it."""
        return PageQuery(
            limit=parse_count(
                limit, self._limit_name, default=self._default_limit, maximum=self.max_limit
            ),
            after=None if (value := given(cursor)) is None else self._decode(value),
        )

    def select(self, stmt: S, query: PageQuery) -> S:
        """``stmt`` in the list's order, from after the cursor, one row more than the page."""
        key = tuple_(*self._columns)
        if query.after is not None:
            stmt = stmt.where(key < query.after if self._descending else key > query.after)
        order: list[ColumnElement[Any]] = [
            column.desc() if self._descending else column.asc() for column in self._columns
        ]
        return stmt.order_by(*order).limit(query.limit + 1)

    def page(
        self, rows: Sequence[R], query: PageQuery, key: Callable[[R], Any] | None = None
    ) -> Page[R]:
        """The rows :meth:`select` found, cut to the page; a cursor only when one more row
        was there. ``key`` reads a row's key when the row is not the entity itself."""
        items = list(rows[: query.limit])
        if len(rows) <= query.limit:
            return Page(items=items, next_cursor=None)
        last = (key or self._row_key)(items[-1])
        return Page(items=items, next_cursor=self._encode(last))

    def _encode(self, key: Any) -> str:
        values = key if isinstance(key, tuple) else (key,)
        return base64.urlsafe_b64encode(msgspec.json.encode(values)).rstrip(b"=").decode()

    def _decode(self, cursor: str) -> tuple[Any, ...]:
        try:
            raw = base64.urlsafe_b64decode(cursor.encode() + b"=" * (-len(cursor) % 4))
            return tuple(msgspec.json.decode(raw, type=self._key_type))
        except (ValueError, msgspec.DecodeError):  # bad base64 or text is a ValueError too
            raise invalid(
                self._cursor_name, cursor, f"the {self._cursor_from} of a previous page"
            ) from None
