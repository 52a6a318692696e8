"""The mirror's numbers as this API process last read them, already encoded.

Postgres stays the truth: an entry is only ever a committed row read from the mirror
(loaded in bulk by the listener, or by a read that missed), and it is dropped as soon
as PostgreSQL announces a change to that number (migration 0006's triggers, heard by
:mod:`app.numbers.listener`). The rules that keep it exact (served only while LISTEN is
in place, never storing a row read across a notice) are :class:`NoticedCache`'s.

Two parts hold the rows:

- the *columns* (:class:`~app.numbers.columns.Columns`): the latest load of the whole
  mirror, in number order, ~100 bytes a number, never changed but for marking a row dead
  once a notice names it or a newer read of it is held;
- the *front*: :class:`NoticedCache`'s entries, one object each (~1,300 bytes): the rows
  read since (single reads that missed, the numbers notices named read again, rows the
  columns cannot take), bounded by :data:`FRONT_SIZE`. A number is never both in the
  front and alive in the columns.

A load builds new columns beside the served ones and takes their place when it ends; a
front past :data:`REBUILD_AT` is folded into new columns the same way, from memory.
The numbers are also kept in number order, all of them and by each value of the
indexed filters (the columns' positions, and sorted lists for the front), so that a
list page can be answered from memory (:mod:`app.numbers.memory_pages`), but only while
the cache knows it holds every row of the mirror (:attr:`NumberCache.complete`).
"""

from __future__ import annotations

import heapq
import time
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from operator import itemgetter
from typing import Any, NamedTuple

from sortedcontainers import SortedList, SortedSet

from app.lib.notice_cache import FORGET_LOG_SIZE, NoticedCache
from app.numbers.columns import Columns, key_of
from app.numbers.entries import CachedNumber, Document
from app.numbers.q_index import QText

__all__ = ["FORGET_LOG_SIZE", "CachedNumber", "Document", "LoadStart", "NumberCache"]

# The filters a list can bisect: each value's numbers are kept in order.
_INDEXED = ("country", "state", "tenant_id", "pool_id")

# The most rows the front holds (past it, the least recently used goes, and the cache is
# no longer complete), and how many make the listener fold it into new columns (soon,
# rather than at the next renewal): a front row costs ~1,300 bytes, ~10 times a row of
# the columns, and a fold of a million rows ~4 s of one core (bench/README, 1 December,
# 19:00).
FRONT_SIZE = 30_000
REBUILD_AT = 15_000
# Rows a fold copies between turns of the event loop (~4 us each).
FOLD_BATCH = 1_000

# Numbers stored or dropped in the front since its ``q`` index was built, past which it
# is dropped (and built again by the next ``q`` page): a page tests those of them in the
# range it covers one by one (~0.3 us each), and a build holds the event loop ~0.5 us a
# number of the front (bench/README, 1 December, 14:00).
Q_INDEX_CHANGES = 1_000

# A row found while walking: its number, what the filters test (with the body: a front
# entry; without: a row of the columns, or None when nothing is tested), and its
# position in the columns (None: a front entry).
_Found = tuple[str, CachedNumber | None, int | None]
# A list's test of one row: does it belong on the page (None: memory cannot tell).
Accept = Callable[[str, CachedNumber], bool | None]


class LoadStart(NamedTuple):
    """Taken when a load of the whole mirror begins (:meth:`NumberCache.load_started`)."""

    ticket: int
    losses: int
    at: float


class _FrontQ(NamedTuple):
    """The front's numbers, their entries and their ``q`` text, as of one moment."""

    numbers: list[str]
    entries: list[CachedNumber]
    text: QText


class NumberCache(NoticedCache[str, CachedNumber]):
    """Mirror rows by number (digits), in number order too."""

    kind = "numbers"

    def __init__(self, max_entries: int, max_age: float) -> None:
        super().__init__(max_entries, max_age)
        self._columns: Columns | None = None
        # Built by a load in progress beside the served columns (the same object when
        # none are served: a first load serves what it has read so far).
        self._building: Columns | None = None
        # The front's numbers in order.
        self._front_order: SortedList = SortedList()
        # (field, value) -> that value's front numbers; None values (unheld, in no pool)
        # are not indexed: no filter asks for them.
        self._front_indexes: dict[tuple[str, Any], SortedList] = {}
        self.holes: set[str] = set()
        """Numbers a notice named that have not been read again since: their rows may
        exist (changed) or not, so no list may be answered from memory meanwhile."""
        # When the latest load of the whole mirror that left nothing out began.
        self._loaded_at: float | None = None
        # Entries evicted or aged out: a load during which this grew left holes.
        self._losses = 0
        # Numbers held that are not plain ASCII digits: their order in PostgreSQL's
        # collation may differ from Python's.
        self._unordered = 0
        # What ``q`` tests of every front number as of some moment (built by the first
        # ``q`` page after it), and the numbers stored or dropped since, which it may not
        # show.
        self._front_q: _FrontQ | None = None
        self._q_changed: SortedSet = SortedSet()
        # The served columns' rows a renewal in progress found current (None: none runs).
        self._seen: bytearray | None = None

    def __len__(self) -> int:
        return len(self._entries) + (0 if self._columns is None else self._columns.alive)

    @property
    def complete(self) -> bool:
        """Whether every row of the mirror is held, as of the notices applied: a load of
        the whole mirror since the cache was switched on and emptied, nothing evicted or
        aged out since, each number a notice named read again, and no entry older than
        ``max_age`` (a load renews them all)."""
        return (
            self.active
            and self._loaded_at is not None
            and not self.holes
            and not self._unordered
            and time.monotonic() - self._loaded_at < self.max_age
        )

    @property
    def needs_build(self) -> bool:
        """Whether the next load should build the columns from the database rather than
        renew them: none are served."""
        return self._columns is None

    @property
    def needs_fold(self) -> bool:
        """Whether the front has grown past :data:`REBUILD_AT` beside served columns: the
        next load folds it into new columns (:meth:`fold`) instead."""
        return self._columns is not None and len(self._entries) > REBUILD_AT

    def document(self, name: str) -> Document | None:
        """:meth:`get` of what a read serves, without building the rest of the row."""
        front = super().get(name)
        if front is not None:
            return Document(front.tenant_id, front.version, front.body)
        position = self._in_columns(name)
        return None if position is None else self._columns.document(position)  # type: ignore[union-attr]

    def get(self, name: str) -> CachedNumber | None:
        value = super().get(name)
        if value is not None:
            return value
        position = self._in_columns(name)
        return None if position is None else self._columns.entry(position)  # type: ignore[union-attr]

    def _in_columns(self, name: str) -> int | None:
        """The position of ``name``'s row in the served columns, if it may be served."""
        if not self.active or self._columns is None:
            return None
        key = key_of(name)
        position = None if key is None else self._columns.find(key)
        if position is not None and time.monotonic() - self._columns.stored_at > self.max_age:
            self._lose_columns()
            return None
        return position

    def put_row(self, ticket: int, row: Any, body: bytes) -> None:
        """:meth:`put` of a ``numbers`` row read after ``ticket``, encoded as ``body``."""
        self.put(ticket, row.number, CachedNumber.of(row, body))

    # The load of the whole mirror (app.numbers.service.load_numbers): a build of new
    # columns, or a renewal of the served ones.

    def load_started(self) -> LoadStart:
        return LoadStart(self.ticket(), self._losses, time.monotonic())

    def build_started(self, start: LoadStart) -> None:
        """A load begun at ``start`` reads every row in number order into new columns."""
        self._building = Columns(start.at)
        if self._columns is None:
            self._columns = self._building

    def load_row(self, start: LoadStart, row: Any, body: bytes) -> None:
        """A row a build begun at ``start`` read, encoded as ``body``: into the new
        columns, or the front when they cannot take it."""
        if not self.active or not self.unchanged_since(start.ticket, row.number):
            return
        entry = CachedNumber.of(row, body)
        key = key_of(row.number)
        building = self._building
        if building is None or key is None or not building.append(key, row.number, entry):
            self.put(start.ticket, row.number, entry)

    def renew(self, ticket: int, number: str, version: int) -> bool:
        """Keep the row of ``number`` as if read now, when it is of ``version``, the
        row's version read after ``ticket`` and no notice named it since; False when the
        row must be read whole (not held, or held at another version)."""
        if not self.active or not self.unchanged_since(ticket, number):
            return False
        entry = self._entries.get(number)
        if entry is not None:
            if entry[1].version != version:
                return False
            self._entries[number] = (time.monotonic(), entry[1])
            self._entries.move_to_end(number)
            return True
        key = key_of(number)
        columns = self._columns
        position = None if key is None or columns is None else columns.find(key)
        if position is None or columns.versions[position] != version:  # type: ignore[union-attr]
            return False
        if self._seen is None:
            self._seen = bytearray(columns.dead)  # type: ignore[union-attr]
        self._seen[position] = 1
        return True

    def load_finished(self, start: LoadStart, whole: bool) -> None:
        """A load begun at ``start`` stored what it read; ``whole``: it read every row.

        New columns take the place of the served ones. A renewal that read every row
        renews the columns, and drops the rows it did not find (deleted without a notice
        heard). The cache is complete unless the load read across a "forget everything"
        or lost an entry meanwhile. The numbers named since it began stay holes (it may
        have read them before their change); those named before, it read afresh.
        """
        building, self._building = self._building, None
        seen, self._seen = self._seen, None
        if building is not None and building.stored_at == start.at:
            self._serve(building)
        elif whole and self._columns is not None:
            self._renewed(self._columns, seen, start)
        if not whole or start.ticket < self._floor or self._losses != start.losses:
            return
        self.holes = {n for n in self.holes if not self.unchanged_since(start.ticket, n)}
        self._loaded_at = start.at

    def fold(self) -> Iterator[None]:
        """Build new columns of the served ones' live rows and the front's, without
        reading the database, and serve them; the front keeps only what they do not
        hold. Yields after every :data:`FOLD_BATCH` rows, for the caller to let requests
        in (a notice meanwhile marks the rows it names dead in both; a row read meanwhile
        is compared at the end, as after a build). Gives up when the cache is emptied."""
        old = self._columns
        if old is None:
            return
        front = sorted((key, name) for name in self._entries if (key := key_of(name)) is not None)
        held_since = [self._entries[name][0] for _, name in front]
        new = self._building = Columns.continuing(old, min([old.stored_at, *held_since]))
        at = 0
        for position in range(len(old)):
            key = old.keys[position]
            while at < len(front) and front[at][0] < key:
                self._fold_front(new, *front[at])
                at += 1
            if not old.dead[position]:
                new.copy(old, position)
            if position % FOLD_BATCH == FOLD_BATCH - 1:
                yield
                if self._building is not new:
                    return
        for key, name in front[at:]:
            self._fold_front(new, key, name)
        self._building = None
        self._serve(new)

    def _fold_front(self, new: Columns, key: int, name: str) -> None:
        """Append the front's row of ``name``, if it still holds one."""
        held = self._entries.get(name)
        if held is not None:
            new.append(key, name, held[1])

    def absent(self, ticket: int, numbers: Iterable[str]) -> None:
        """``numbers``, read after ``ticket``, are not in the mirror: no longer holes,
        unless a notice named them since."""
        for number in numbers:
            if self.unchanged_since(ticket, number):
                self.holes.discard(number)

    def forget(self, names: Iterable[str]) -> None:
        names = list(names)
        super().forget(names)
        keys = [key for key in map(key_of, names) if key is not None]
        for columns in (self._columns, self._building):
            if columns is not None:
                for key in keys:
                    columns.kill(key)  # a second time for the same columns is nothing
        if self.active:
            self.holes.update(names)

    # List pages from memory (app.numbers.memory_pages).

    def first(
        self,
        wanted: int,
        index: tuple[str, Any] | None,
        after: str | None,
        accept: Accept | None,
        max_walk: int,
    ) -> tuple[list[str], list[bytes]] | None:
        """The first ``wanted`` numbers after ``after`` in number order that ``accept``
        takes (each, when None), and their bodies: of all numbers (``index`` None) or of
        one filter's value (``("country", "DE")``). None when ``accept`` cannot tell for
        one, or when ``max_walk`` were tested without finding them all. A ``q`` page does
        not walk: :meth:`search`.
        """
        order = self._front_order if index is None else self._front_indexes.get(index)
        streams: list[Iterator[_Found]] = []
        if order:
            keys = iter(order) if after is None else order.irange(after, inclusive=(False, True))
            entries = self._entries
            streams.append((number, entries[number][1], None) for number in keys)
        columns = self._columns
        if columns is not None:
            start = self._start(columns, after)
            if start is None:
                return None
            streams.append(_rows(columns, columns.positions(start, index), accept is not None))
        return self._take(_merged(streams), wanted, accept, max_walk)

    def search(
        self,
        wanted: int,
        after: str | None,
        q: tuple[str, str | None],
        accept: Accept,
        max_tested: int,
        *,
        q_alone: bool = False,
    ) -> tuple[list[str], list[bytes]] | None:
        """:meth:`first` of all numbers for a ``q`` (its lowered text, ASCII, and its
        digits, as app.numbers.q_index takes them), testing with ``accept`` only the
        numbers whose name or digits hold it, and the front's numbers stored or dropped
        since its index was built (the index may show their past). None when ``accept``
        cannot tell for one, or when ``max_tested`` were tested without finding them all.

        ``q_alone``: ``q`` is the page's only condition, so a number of the columns whose
        name or digits hold it is taken untested (as :meth:`first` takes each number of
        a walk whose one condition is its order); only an undecided name is tested.
        """
        streams: list[Iterator[_Found]] = []
        if self._entries:
            streams.append(self._front_candidates(q, after))
        columns = self._columns
        if columns is not None:
            start = self._start(columns, after)
            if start is None:
                return None
            dead = columns.dead
            positions = (p for p in columns.q.candidates(*q, start) if not dead[p])
            if q_alone:
                streams.append(_q_hits(columns, positions))
            else:
                streams.append(_rows(columns, positions, tested=True))
        return self._take(_merged(streams), wanted, accept, max_tested)

    def index_size(self, index: tuple[str, Any]) -> int:
        """About how many numbers a walk of ``index`` may test (for choosing the least)."""
        numbers = self._front_indexes.get(index)
        front = 0 if numbers is None else len(numbers)
        return front + (0 if self._columns is None else self._columns.index_size(index))

    def _take(
        self, found: Iterator[_Found], wanted: int, accept: Accept | None, max_tested: int
    ) -> tuple[list[str], list[bytes]] | None:
        """The first ``wanted`` of ``found`` that ``accept`` takes, and their bodies;
        None when ``accept`` cannot tell for one, or when ``max_tested`` were tested and
        more follow."""
        numbers: list[str] = []
        bodies: list[bytes] = []
        columns = self._columns
        for tested, (number, entry, position) in enumerate(found):
            if tested == max_tested:
                return None
            # An untested row (entry None) is one every condition already holds.
            verdict = True if accept is None or entry is None else accept(number, entry)
            if verdict:
                numbers.append(number)
                if position is None:
                    bodies.append(entry.body)  # type: ignore[union-attr]
                else:
                    bodies.append(columns.body(position))  # type: ignore[union-attr]
                if len(numbers) == wanted:
                    break
            elif verdict is None:
                return None
        return numbers, bodies

    @staticmethod
    def _start(columns: Columns, after: str | None) -> int | None:
        """The first position after ``after`` (None: it is not a number the columns
        order, so memory cannot tell where it lies)."""
        if after is None:
            return 0
        key = key_of(after)
        return None if key is None else columns.after(key)

    def _front_candidates(self, q: tuple[str, str | None], after: str | None) -> Iterator[_Found]:
        index = self._front_q
        if index is None:
            numbers = list(self._front_order)
            entries = [self._entries[number][1] for number in numbers]
            text = QText()
            for number, entry in zip(numbers, entries, strict=True):
                text.append(number, entry.name)
            index = self._front_q = _FrontQ(numbers, entries, text)
            self._q_changed.clear()
        start = 0 if after is None else bisect_right(index.numbers, after)
        found: Iterator[_Found] = (
            (index.numbers[at], index.entries[at], None) for at in index.text.candidates(*q, start)
        )
        # The index's entries are the held ones but for the numbers changed since.
        if changed := self._q_changed:
            held = self._entries
            since = changed.irange(after, inclusive=(False, True))  # all when None
            found = heapq.merge(
                ((n, entry, None) for n, entry, _ in found if n not in changed),
                ((n, held[n][1], None) for n in since if n in held),
                key=itemgetter(0),
            )
        return found

    # The front's orders follow its entries through NoticedCache's hooks.

    def _capacity(self) -> int:
        return min(self.max_entries, FRONT_SIZE)

    def _kept(self, name: str, value: CachedNumber, replaced: CachedNumber | None) -> None:
        self.holes.discard(name)
        self._q_stale(name)
        if self._columns is not None and (key := key_of(name)) is not None:
            self._columns.kill(key)  # the front's row is the newer
        if replaced is None:
            self._front_order.add(name)
            self._unordered += _unordered(name)
        for field in _INDEXED:
            new = getattr(value, field)
            old = None if replaced is None else getattr(replaced, field)
            if new != old:
                if old is not None:
                    self._unindex(field, old, name)
                if new is not None:
                    self._index(field, new, name)

    def _dropped(self, name: str, value: CachedNumber, *, lost: bool) -> None:
        self._q_stale(name)
        self._front_order.remove(name)
        self._unordered -= _unordered(name)
        for field in _INDEXED:
            old = getattr(value, field)
            if old is not None:
                self._unindex(field, old, name)
        if lost:
            self._lost()

    def _lost(self) -> None:
        self._losses += 1
        self._loaded_at = None

    def _index(self, field: str, value: Any, name: str) -> None:
        numbers = self._front_indexes.get((field, value))
        if numbers is None:
            numbers = self._front_indexes[(field, value)] = SortedList()
        numbers.add(name)

    def _unindex(self, field: str, value: Any, name: str) -> None:
        numbers = self._front_indexes[(field, value)]
        numbers.remove(name)
        if not numbers:
            del self._front_indexes[(field, value)]

    def _q_stale(self, name: str) -> None:
        """``name`` was stored or dropped: the front's ``q`` index may no longer show it."""
        if self._front_q is None:
            return
        self._q_changed.add(name)
        if len(self._q_changed) > Q_INDEX_CHANGES:
            self._front_q = None
            self._q_changed.clear()

    def _serve(self, columns: Columns) -> None:
        """Built columns take the served ones' place. A front row they hold at the same
        row version goes (the same row: theirs is alive again, should that front row's
        own read have marked it dead); at another, the front's is kept (read after a
        change whose notice is still on its way) and theirs is dead."""
        self._columns = columns
        kept = len(self._entries)
        for name in list(self._entries):
            key = key_of(name)
            position = None if key is None else columns.locate(key)
            if position is None:
                continue
            if columns.versions[position] == self._entries[name][1].version:
                columns.revive(position)
                del self._entries[name]
            else:
                columns.kill(key)  # type: ignore[arg-type]
        if len(self._entries) != kept:
            self._front_rebuilt()

    def _front_rebuilt(self) -> None:
        """The front's orders and ``q`` index anew, for the entries it holds now: after
        a build or fold has taken most of them, quicker than dropping them one by one
        (~10 us each, a fold's 15,000 and more held the event loop for a quarter of a
        second)."""
        self._front_order = SortedList(self._entries)
        self._front_indexes = {}
        for name, (_, value) in self._entries.items():
            for field in _INDEXED:
                if (indexed := getattr(value, field)) is not None:
                    self._index(field, indexed, name)
        self._unordered = sum(map(_unordered, self._entries))
        self._front_q = None
        self._q_changed.clear()

    def _renewed(self, columns: Columns, seen: bytearray | None, start: LoadStart) -> None:
        """A renewal read every row: the columns' rows it did not find current are gone
        or changed without a notice heard; the others are as good as read now."""
        seen = seen if seen is not None else bytearray(columns.dead)
        position = seen.find(0)
        while position >= 0:
            columns.kill(columns.keys[position])
            position = seen.find(0, position + 1)
        columns.stored_at = start.at

    def _lose_columns(self) -> None:
        """The served columns aged out (no renewal reached them): no longer served."""
        self._count_emptied("aged_out", self._columns.alive)  # type: ignore[union-attr]
        if self._building is self._columns:
            self._building = None
        self._columns = None
        self._lost()

    def _emptied(self) -> None:
        self._front_q = None
        self._q_changed.clear()
        self._front_order.clear()
        self._front_indexes.clear()
        self._columns = self._building = None
        self._seen = None
        self.holes.clear()
        self._loaded_at = None
        self._unordered = 0


def _unordered(name: str) -> bool:
    """Whether ``name`` is not plain ASCII digits: PostgreSQL's collation may order it
    otherwise than Python does."""
    return not (name.isascii() and name.isdigit())


def _rows(columns: Columns, positions: Iterator[int], tested: bool) -> Iterator[_Found]:
    """The columns' rows at ``positions``: their numbers, and what the filters test of
    them when they are ``tested`` (else None)."""
    if not tested:
        return ((columns.number(p), None, p) for p in positions)
    return ((columns.number(p), columns.filterable(p), p) for p in positions)


def _q_hits(columns: Columns, positions: Iterator[int]) -> Iterator[_Found]:
    """The columns' rows at a ``q``'s candidate ``positions``, untested (their name or
    digits hold it) but for an undecided name's."""
    q = columns.q
    return (
        (columns.number(p), columns.filterable(p) if q.undecided_at(p) else None, p)
        for p in positions
    )


def _merged(streams: list[Iterator[_Found]]) -> Iterator[_Found]:
    """One stream in number order of streams in number order (no number in two)."""
    if not streams:
        return iter(())
    if len(streams) == 1:
        return streams[0]
    return heapq.merge(*streams, key=itemgetter(0))
