"""What a list's ``q`` tests of each cached number, laid out for ``str.find``.

``q`` matches a number when its lowered friendly name holds ``q`` lowered, or its
number holds ``q``'s digits (app.numbers.service._matches). Testing entry by entry
costs a dict lookup and a call per number, hundreds per page. Here the names of every
number, in number order, are one string and the numbers another, each part followed by
a separator that no ``q`` holds, so one ``find`` (C speed) skips every number that
cannot match, and a ``count`` of the separators before a hit says whose part it is in.

An index is a picture of the cache at the moment it was built; app.numbers.cache keeps
it exact by testing the numbers stored or dropped since in full, beside it.
"""

from __future__ import annotations

import contextlib
import heapq
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from itertools import accumulate, groupby
from operator import add
from typing import Generic, TypeVar

# Between the parts. PostgreSQL's text cannot hold it, so no name or number does, and
# app.numbers.memory_pages leaves a ``q`` holding it to the database.
SEPARATOR = "\x00"

V = TypeVar("V")


class QIndex(Generic[V]):
    """The names and numbers of a sorted run of entries, joined for searching."""

    __slots__ = (
        "_digit_starts",
        "_digits",
        "_name_starts",
        "_names",
        "_undecided",
        "numbers",
        "values",
    )

    def __init__(self, numbers: list[str], values: list[V], names: list[str | None]) -> None:
        """``numbers`` in order, each one's entry, and each one's lowered name ("" for
        none; None when memory cannot test it, which makes it a candidate for every
        ``q``).

        Built with C-level iteration only (map, accumulate, list.index): ~15 ms of the
        event loop for 100,000 numbers."""
        self.numbers = numbers
        self.values = values
        undecided = array("I", _positions(names, None))
        if undecided:
            names = names.copy()
            for position in undecided:
                names[position] = ""
        self._undecided = undecided
        self._names, self._name_starts = _joined(names)  # type: ignore[arg-type]
        self._digits, self._digit_starts = _joined(numbers)

    def candidates(
        self, name: str, digits: str | None, after: str | None
    ) -> Iterator[tuple[str, V]]:
        """The numbers after ``after``, in order, whose name holds ``name`` or whose
        number holds ``digits`` (neither holding the separator), and those whose name
        cannot be tested here, each with its entry. Every other number of the index
        fails ``q``."""
        start = 0 if after is None else bisect_right(self.numbers, after)
        streams = [_hits(self._names, self._name_starts, name, start)]
        undecided = self._undecided[bisect_left(self._undecided, start) :]
        if undecided:
            streams.append(iter(undecided))
        if digits is not None:
            streams.append(_hits(self._digits, self._digit_starts, digits, start))
        # Once each: a number whose name and digits both hold q is found twice.
        positions = streams[0] if len(streams) == 1 else _unique(heapq.merge(*streams))
        numbers, values = self.numbers, self.values
        return ((numbers[at], values[at]) for at in positions)


def _unique(ordered: Iterable[int]) -> Iterator[int]:
    return (value for value, _ in groupby(ordered))


def _positions(values: list[str | None], wanted: None) -> Iterator[int]:
    """Where ``wanted`` is in ``values`` (list.index: C speed, for the few it finds)."""
    position = -1
    with contextlib.suppress(ValueError):
        while True:
            position = values.index(wanted, position + 1)
            yield position


def _joined(parts: list[str]) -> tuple[str, array[int]]:
    """``parts`` each followed by the separator, as one string, and where each starts
    (one more offset: where the next would)."""
    text = SEPARATOR.join(parts) + SEPARATOR
    # Part i starts after the lengths of those before it and their i separators.
    ends = accumulate(map(len, parts), initial=0)
    return text, array("I", map(add, ends, range(len(parts) + 1)))


def _hits(text: str, starts: array[int], needle: str, position: int) -> Iterator[int]:
    """The positions, from ``position`` on, of the parts of ``text`` holding ``needle``."""
    find, count = text.find, text.count
    if position >= len(starts) - 1:
        return
    offset = starts[position]  # where part ``position`` starts
    while (at := find(needle, offset)) >= 0:
        # The needle holds no separator, so it lies within the part it starts in: the
        # one after as many separators as lie before it.
        position += count(SEPARATOR, offset, at)
        yield position
        offset = find(SEPARATOR, at) + 1
        position += 1
