"""The mirror's numbers as this API process last read them, already encoded.

Postgres stays the truth: an entry is only ever a committed row read from the mirror
(loaded in bulk by the listener, or by a read that missed), and it is dropped as soon
as PostgreSQL announces a change to that number (migration 0006's triggers, heard by
:mod:`app.numbers.listener`). The rules that keep it exact (served only while LISTEN is
in place, never storing a row read across a notice) are :class:`NoticedCache`'s.

The numbers are also kept in number order, all of them and by each value of the
indexed filters, so that a list page can be answered from memory
(:mod:`app.numbers.memory_pages`), but only while the cache knows it holds every row
of the mirror (:attr:`NumberCache.complete`).
"""

from __future__ import annotations

import heapq
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import islice
from operator import attrgetter, itemgetter
from typing import Any, NamedTuple

import msgspec
from sortedcontainers import SortedList, SortedSet

from app.lib.notice_cache import FORGET_LOG_SIZE, NoticedCache
from app.numbers.q_index import QIndex

__all__ = ["FORGET_LOG_SIZE", "CachedNumber", "LoadStart", "NumberCache"]

FEATURES = ("sms", "a2p_sms", "voice")
# One frozenset per combination of features, and one object per holder and pool, each
# shared by every entry that has it (a row read brings its own copies).
_FEATURE_SETS: dict[frozenset[str], frozenset[str]] = {}
_IDS: dict[uuid.UUID, uuid.UUID] = {}


def _shared(value: uuid.UUID | None) -> uuid.UUID | None:
    return None if value is None else _IDS.setdefault(value, value)


# Not tracked by the garbage collector (gc=False): an entry refers to no container that
# could lead back to it, and a million tracked entries made every full collection walk
# them all (a pause of ~3 ms per 1,000 entries held, while loading and after).
class CachedNumber(msgspec.Struct, frozen=True, gc=False):
    tenant_id: uuid.UUID | None
    """The holder, for the tenancy check each read applies (app.lib.tenancy.may_see)."""
    body: bytes
    """The ``NumberOut`` document, encoded once."""
    version: int
    """The row version it was encoded from (PostgreSQL's ``xmin``): a list page read from
    the database uses the body only when its row is of the same version."""
    # What a list page's filters test, beside the body (which is never decoded):
    country: str
    state: str
    pool_id: uuid.UUID | None
    name: str | None
    """The friendly name in lower case when it is ASCII, else None: PostgreSQL's ILIKE
    lowers other letters by its locale, which Python cannot promise to do the same."""
    features: frozenset[str]
    tags: Mapping[str, Any] | None
    """None when there are none (most numbers)."""

    @classmethod
    def of(cls, row: Any, body: bytes) -> CachedNumber:
        """The entry for a ``numbers`` row (its columns and ``version``) and its body."""
        name = row.friendly_name or ""
        features = frozenset(
            feature
            for feature, has in zip(
                FEATURES, (row.feature_sms, row.feature_a2p_sms, row.feature_voice), strict=True
            )
            if has
        )
        return cls(
            tenant_id=_shared(row.tenant_id),
            body=body,
            version=row.version,
            country=sys.intern(row.country),
            state=sys.intern(row.state),
            pool_id=_shared(row.pool_id),
            name=name.lower() if name.isascii() else None,
            features=_FEATURE_SETS.setdefault(features, features),
            tags=row.tags or None,
        )


# The filters a list can bisect: each value's numbers are kept in order.
_INDEXED = ("country", "state", "tenant_id", "pool_id")

# Numbers stored or dropped since the ``q`` index was built, past which it is dropped (and
# built again by the next ``q`` page): a page tests those of them in the range it covers
# one by one (~0.3 us each), and a build holds the event loop ~0.5 us a number held
# (bench/README, 1 December, 14:00).
Q_INDEX_CHANGES = 1_000


class LoadStart(NamedTuple):
    """Taken when a load of the whole mirror begins (:meth:`NumberCache.load_started`)."""

    ticket: int
    losses: int
    at: float


class NumberCache(NoticedCache[str, CachedNumber]):
    """Mirror rows by number (digits), in number order too."""

    def __init__(self, max_entries: int, max_age: float) -> None:
        super().__init__(max_entries, max_age)
        self._order: SortedList = SortedList()
        # (field, value) -> that value's numbers; None values (unheld, in no pool) are
        # not indexed: no filter asks for them.
        self._indexes: dict[tuple[str, Any], SortedList] = {}
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
        # What ``q`` tests of every number as of some moment (built by the first ``q``
        # page after it), and the numbers stored or dropped since, which it may not show.
        self._q_index: QIndex[CachedNumber] | None = None
        self._q_changed: SortedSet = SortedSet()

    @property
    def complete(self) -> bool:
        """Whether every row of the mirror is held, as of the notices applied: a load of
        the whole mirror since the cache was switched on and emptied, nothing evicted or
        aged out since, each number a notice named read again, and no entry older than
        ``max_age`` (the load renews them all)."""
        return (
            self.active
            and self._loaded_at is not None
            and not self.holes
            and not self._unordered
            and time.monotonic() - self._loaded_at < self.max_age
        )

    def load_started(self) -> LoadStart:
        return LoadStart(self.ticket(), self._losses, time.monotonic())

    def load_finished(self, start: LoadStart, whole: bool) -> None:
        """A load begun at ``start`` stored what it read; ``whole``: it read every row.

        It makes the cache complete unless it read across a "forget everything" or
        lost an entry meanwhile. The numbers named since it began stay holes (it may
        have read them before their change); those named before, it read afresh.
        """
        if not whole or start.ticket < self._floor or self._losses != start.losses:
            return
        self.holes = {n for n in self.holes if not self.unchanged_since(start.ticket, n)}
        self._loaded_at = start.at

    def put_row(self, ticket: int, row: Any, body: bytes) -> None:
        """:meth:`put` of a ``numbers`` row read after ``ticket``, encoded as ``body``."""
        self.put(ticket, row.number, CachedNumber.of(row, body))

    def renew(self, ticket: int, number: str, version: int) -> bool:
        """Keep the entry of ``number`` as if stored now, when it is of ``version``, the
        row's version read after ``ticket`` and no notice named it since; False when the
        row must be read whole (not held, or held at another version)."""
        if not self.active or not self.unchanged_since(ticket, number):
            return False
        entry = self._entries.get(number)
        if entry is None or entry[1].version != version:
            return False
        self._entries[number] = (time.monotonic(), entry[1])
        self._entries.move_to_end(number)
        return True

    def absent(self, ticket: int, numbers: Iterable[str]) -> None:
        """``numbers``, read after ``ticket``, are not in the mirror: no longer holes,
        unless a notice named them since."""
        for number in numbers:
            if self.unchanged_since(ticket, number):
                self.holes.discard(number)

    def forget(self, names: Iterable[str]) -> None:
        names = list(names)
        super().forget(names)
        if self.active:
            self.holes.update(names)

    def first(
        self,
        wanted: int,
        index: tuple[str, Any] | None,
        after: str | None,
        accept: Callable[[str, CachedNumber], bool | None],
        max_walk: int,
    ) -> tuple[list[str], list[bytes]] | None:
        """The first ``wanted`` numbers after ``after`` in number order that ``accept``
        takes, and their bodies: of all numbers (``index`` None) or of one filter's value
        (``("country", "DE")``). None when ``accept`` cannot tell for one, or when
        ``max_walk`` were tested without finding them all.

        One loop over the order, here, with no call but ``accept``: pages whose filters
        match sparsely (tags, features) spend their time in it. A ``q`` page does not
        walk: :meth:`search`.
        """
        order = self._order if index is None else self._indexes.get(index)
        numbers: list[str] = []
        bodies: list[bytes] = []
        if not order:
            return numbers, bodies
        keys = iter(order) if after is None else order.irange(after, inclusive=(False, True))
        entries = self._entries
        for number in islice(keys, max_walk):
            entry = entries[number][1]
            verdict = accept(number, entry)
            if verdict:
                numbers.append(number)
                bodies.append(entry.body)
                if len(numbers) == wanted:
                    return numbers, bodies
            elif verdict is None:
                return None
        # Fewer than wanted: the end of the order, or the walk given up.
        return None if next(keys, None) is not None else (numbers, bodies)

    def search(
        self,
        wanted: int,
        after: str | None,
        q: tuple[str, str | None],
        accept: Callable[[str, CachedNumber], bool | None],
        max_tested: int,
    ) -> tuple[list[str], list[bytes]] | None:
        """:meth:`first` of all numbers for a ``q`` (its lowered text and its digits, as
        app.numbers.q_index takes them), testing with ``accept`` only the numbers the
        index finds, and those stored or dropped since it was built (the index may
        show their past). None when ``accept`` cannot tell for one, or when
        ``max_tested`` were tested without finding them all."""
        index = self._q_index
        if index is None:
            numbers = list(self._order)
            held = list(map(itemgetter(1), map(self._entries.__getitem__, numbers)))
            names = list(map(attrgetter("name"), held))
            index = self._q_index = QIndex(numbers, held, names)
            self._q_changed.clear()
        # The index's entries are the held ones but for the numbers changed since.
        found: Iterator[tuple[str, CachedNumber]] = index.candidates(*q, after)
        if changed := self._q_changed:
            entries = self._entries
            since = changed.irange(after, inclusive=(False, True))  # all when None
            found = heapq.merge(
                ((n, entry) for n, entry in found if n not in changed),
                ((n, entries[n][1]) for n in since if n in entries),
                key=itemgetter(0),
            )
        numbers: list[str] = []
        bodies: list[bytes] = []
        for tested, (number, entry) in enumerate(found):
            if tested == max_tested:
                return None
            verdict = accept(number, entry)
            if verdict:
                numbers.append(number)
                bodies.append(entry.body)
                if len(numbers) == wanted:
                    break
            elif verdict is None:
                return None
        return numbers, bodies

    def index_size(self, index: tuple[str, Any]) -> int:
        numbers = self._indexes.get(index)
        return 0 if numbers is None else len(numbers)

    def _kept(self, name: str, value: CachedNumber, replaced: CachedNumber | None) -> None:
        self.holes.discard(name)
        self._q_stale(name)
        if replaced is None:
            self._order.add(name)
            if not (name.isascii() and name.isdigit()):
                self._unordered += 1
        for field in _INDEXED:
            new = getattr(value, field)
            old = None if replaced is None else getattr(replaced, field)
            if new != old:
                if old is not None:
                    self._unindex(field, old, name)
                if new is not None:
                    numbers = self._indexes.get((field, new))
                    if numbers is None:
                        numbers = self._indexes[(field, new)] = SortedList()
                    numbers.add(name)

    def _dropped(self, name: str, value: CachedNumber, *, lost: bool) -> None:
        self._q_stale(name)
        self._order.remove(name)
        if not (name.isascii() and name.isdigit()):
            self._unordered -= 1
        for field in _INDEXED:
            old = getattr(value, field)
            if old is not None:
                self._unindex(field, old, name)
        if lost:
            self._losses += 1
            self._loaded_at = None

    def _unindex(self, field: str, value: Any, name: str) -> None:
        numbers = self._indexes[(field, value)]
        numbers.remove(name)
        if not numbers:
            del self._indexes[(field, value)]

    def _q_stale(self, name: str) -> None:
        """``name`` was stored or dropped: the ``q`` index may no longer show it as held."""
        if self._q_index is None:
            return
        self._q_changed.add(name)
        if len(self._q_changed) > Q_INDEX_CHANGES:
            self._q_index = None
            self._q_changed.clear()

    def _emptied(self) -> None:
        self._q_index = None
        self._q_changed.clear()
        self._order.clear()
        self._indexes.clear()
        self.holes.clear()
        self._loaded_at = None
        self._unordered = 0
