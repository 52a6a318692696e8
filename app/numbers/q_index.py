"""What a list's ``q`` tests of each cached number, laid out for ``bytes.find``.

``q`` matches a number when its lowered friendly name holds ``q`` lowered, or its
number holds ``q``'s digits (app.numbers.service._matches). Testing entry by entry
costs a lookup and a call per number, hundreds per page. Here the names of a run of
numbers, in number order, are one byte string and the numbers another
(:class:`JoinedText`), each part followed by a separator that no ``q`` holds, so one
``find`` (C speed) skips every number that cannot match, and a ``count`` of the
separators before a hit says whose part it is in.

Names are tested here only when they are ASCII (memory pages answer only an ASCII
``q``); any other name is *undecided*: a candidate for every ``q``, for the caller's
full test to refuse.
"""

from __future__ import annotations

import heapq
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from itertools import groupby

# Between the parts. PostgreSQL's text cannot hold it, so no name or number does, and
# app.numbers.memory_pages leaves a ``q`` holding it to the database.
SEPARATOR = "\x00"
_SEPARATOR = SEPARATOR.encode()


class JoinedText:
    """Parts (names, or numbers) each followed by the separator, in one growing
    ``bytearray``, and where each part starts: ~1 byte a character and 4 a part."""

    __slots__ = ("starts", "text")

    def __init__(self) -> None:
        self.text = bytearray()
        self.starts = array("I", [0])  # one more than the parts: where the next would

    def __len__(self) -> int:
        return len(self.starts) - 1

    def append(self, part: bytes | bytearray) -> None:
        self.text += part
        self.text += _SEPARATOR
        self.starts.append(len(self.text))

    def raw_part(self, position: int) -> bytearray:
        starts = self.starts
        return self.text[starts[position] : starts[position + 1] - 1]

    def part(self, position: int) -> str:
        """The part at ``position`` (ASCII, as every part here is)."""
        starts = self.starts  # written out: a page reads a few hundred of these
        return self.text[starts[position] : starts[position + 1] - 1].decode("ascii")

    def hits(self, needle: bytes, position: int) -> Iterator[int]:
        """The positions, from ``position`` on, of the parts holding ``needle`` (which
        holds no separator)."""
        text, starts = self.text, self.starts
        if position >= len(starts) - 1:
            return
        find, count = text.find, text.count
        offset = starts[position]  # where part ``position`` starts
        while (at := find(needle, offset)) >= 0:
            # The needle holds no separator, so it lies within the part it starts in:
            # the one after as many separators as lie before it.
            position += count(_SEPARATOR, offset, at)
            yield position
            offset = find(_SEPARATOR, at) + 1
            position += 1


class QText:
    """The names and numbers of a run of numbers in number order, for ``q``."""

    __slots__ = ("digits", "names", "undecided")

    def __init__(self) -> None:
        self.names = JoinedText()
        self.digits = JoinedText()
        self.undecided = array("I")
        """The positions whose name memory cannot test (in order: appended so)."""

    def append(self, number: str, name: str | None) -> None:
        """The next number and its lowered name (None: undecided)."""
        if name is None:
            self.undecided.append(len(self.names))
            name = ""
        self.names.append(name.encode("ascii"))
        self.digits.append(number.encode("ascii"))

    def copy(self, other: QText, position: int) -> None:
        """Append ``other``'s number and name at ``position``."""
        if other.undecided_at(position):
            self.undecided.append(len(self.names))
        self.names.append(other.names.raw_part(position))
        self.digits.append(other.digits.raw_part(position))

    def undecided_at(self, position: int) -> bool:
        """Whether the name at ``position`` is one memory cannot test."""
        undecided = self.undecided
        if not undecided:  # most mirrors have no such name
            return False
        at = bisect_left(undecided, position)
        return at < len(undecided) and undecided[at] == position

    def name(self, position: int) -> str | None:
        if self.undecided_at(position):
            return None
        return self.names.part(position)

    def candidates(self, name: str, digits: str | None, start: int) -> Iterator[int]:
        """The positions from ``start`` on, in order, whose name holds ``name`` or whose
        number holds ``digits`` (neither holding the separator; ``name`` ASCII), and
        those whose name cannot be tested here. Every other position fails ``q``."""
        streams = [self.names.hits(name.encode("ascii"), start)]
        undecided = self.undecided[bisect_left(self.undecided, start) :]
        if undecided:
            streams.append(iter(undecided))
        if digits is not None:
            streams.append(self.digits.hits(digits.encode("ascii"), start))
        # Once each: a number whose name and digits both hold q is found twice.
        return streams[0] if len(streams) == 1 else _unique(heapq.merge(*streams))


def _unique(ordered: Iterable[int]) -> Iterator[int]:
    return (value for value, _ in groupby(ordered))
