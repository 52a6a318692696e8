"""Cursor-paged lists: iterate over every item of every page, or read one page."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Generic, Protocol, TypeVar

from seven_numbers_client.core import Call, Core
from seven_numbers_client.transports import AsyncRunner, Runner, SyncRunner

T = TypeVar("T")


class Page(Protocol[T]):
    @property
    def items(self) -> list[T]: ...

    @property
    def next_cursor(self) -> str | None: ...


class Pages(Generic[T]):
    """``for item in pages`` (``Client``) or ``async for item in pages`` (``AsyncClient``)
    reads page after page until the last; ``pages.page(cursor)`` reads one."""

    def __init__(self, runner: Runner, core: Core, call_for: Callable[[str | None], Call]):
        self._runner = runner
        self._core = core
        self._call_for = call_for

    def page(self, cursor: str | None = None) -> Page[T] | Awaitable[Page[T]]:
        """One page (a ``NumberPage``, ``OperationPage``, ...): ``items``, ``next_cursor``."""
        return self._runner.run(self._core.run(self._call_for(cursor)))

    def __iter__(self) -> Iterator[T]:
        runner = self._runner
        if not isinstance(runner, SyncRunner):
            raise TypeError("an AsyncClient's list is read with `async for`")
        cursor = None
        while True:
            page = runner.run(self._core.run(self._call_for(cursor)))
            yield from page.items
            cursor = page.next_cursor
            if not cursor:
                return

    async def __aiter__(self) -> AsyncIterator[T]:
        runner = self._runner
        if not isinstance(runner, AsyncRunner):
            raise TypeError("a Client's list is read with `for`")
        cursor = None
        while True:
            page = await runner.run(self._core.run(self._call_for(cursor)))
            for item in page.items:
                yield item
            cursor = page.next_cursor
            if not cursor:
                return
