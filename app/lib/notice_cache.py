"""A process's copy of rows PostgreSQL announces changes to (LISTEN/NOTIFY), kept exact.

An entry is only ever a committed row read from the database, and it is dropped as soon
as a notice names it (:meth:`NoticedCache.forget`) or says "forget everything"
(:meth:`NoticedCache.clear`). The cache answers only while its listener holds its LISTEN
(:meth:`activate`); before that, and from the moment the connection is lost until it is
back and the cache emptied (:meth:`deactivate`), every read goes to the database. An
entry is also not served once it is older than ``max_age`` seconds, a safety net for a
notice lost in some way nobody foresaw.

A row may be stored only if no notice about it (and no "forget everything") arrived
since its query began (``ticket``, then ``put``): otherwise a change committed while
the query ran could be announced, and forgotten, before the stale row it replaced was
stored.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Hashable, Iterable
from typing import ClassVar, Generic, TypeVar

import structlog

from app.lib.metrics import CACHE_EMPTIED

# How many names' notices are remembered for reads in flight; past that, every read in
# flight is treated as outdated (cheaper than remembering more, and just as safe).
FORGET_LOG_SIZE = 20_000

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

log = structlog.get_logger(__name__)


class NoticedCache(Generic[K, V]):
    """A bounded LRU of rows by name, usable only while ``active``."""

    kind: ClassVar[str] = "rows"
    """What it holds, in its log lines and metrics."""

    def __init__(self, max_entries: int, max_age: float) -> None:
        self.max_entries = max_entries
        self.max_age = max_age
        # Each entry with the monotonic time it was stored.
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._active = False
        # Notices counted; a ticket is the count when a read began.
        self._generation = 0
        # A read that began before this count is outdated, whatever it read.
        self._floor = 0
        # The count at the latest notice naming each name, since ``_floor``.
        self._forgotten: dict[K, int] = {}

    @property
    def active(self) -> bool:
        return self._active

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: K) -> bool:
        """Whether ``name`` is stored and would be served now."""
        return self.get(name) is not None

    def get(self, name: K) -> V | None:
        if not self._active:
            return None
        entry = self._entries.get(name)
        if entry is None:
            return None
        stored_at, value = entry
        if time.monotonic() - stored_at > self.max_age:
            del self._entries[name]
            self._dropped(name, value, lost=True)
            return None
        self._entries.move_to_end(name)
        return value

    def ticket(self) -> int:
        """Taken before the query whose rows may be stored with :meth:`put`."""
        return self._generation

    def put(self, ticket: int, name: K, value: V) -> None:
        """Store a row read after ``ticket`` was taken, unless it changed since."""
        if not self._active or self.max_entries <= 0 or not self.unchanged_since(ticket, name):
            return
        previous = self._entries.get(name)
        self._entries[name] = (time.monotonic(), value)
        self._entries.move_to_end(name)
        self._kept(name, value, None if previous is None else previous[1])
        if len(self._entries) > self._capacity():
            evicted, (_, old) = self._entries.popitem(last=False)
            self._dropped(evicted, old, lost=True)

    def unchanged_since(self, ticket: int, name: K) -> bool:
        """Whether no notice about ``name`` (nor "forget everything") came after ``ticket``."""
        return ticket >= self._floor and self._forgotten.get(name, ticket) <= ticket

    def forget(self, names: Iterable[K]) -> None:
        """These rows changed (a notice): drop them, and any of them being read now."""
        names = list(names)
        self._generation += 1
        if len(self._forgotten) + len(names) > FORGET_LOG_SIZE:
            self._floor = self._generation
            self._forgotten.clear()
        else:
            self._forgotten.update(dict.fromkeys(names, self._generation))
        for name in names:
            entry = self._entries.pop(name, None)
            if entry is not None:
                self._dropped(name, entry[1], lost=False)

    def clear(self, reason: str | None) -> None:
        """Everything may have changed: drop all, and every row being read now.

        ``reason`` is logged and counted when rows were held: each emptying costs a
        reload, and one an operator did not expect (the listener lost, a sync point
        missed) is worth seeing. None: nothing to see (the process is stopping, or the
        cache is switched on)."""
        if self._active and reason is not None:
            self._count_emptied(reason, len(self))
        self._generation += 1
        self._floor = self._generation
        self._forgotten.clear()
        self._entries.clear()
        self._emptied()

    def activate(self) -> None:
        """The listener is listening: entries may be served and stored (from empty)."""
        self.clear(None)
        self._active = True

    def deactivate(self, reason: str | None) -> None:
        """Notices may be missed from now on: serve and store nothing, keep nothing."""
        self.clear(reason)
        self._active = False

    def _count_emptied(self, reason: str, held: int) -> None:
        if held:
            CACHE_EMPTIED.labels(self.kind, reason).inc()
            log.info("cache_emptied", cache=self.kind, reason=reason, held=held)

    def _capacity(self) -> int:
        """The most entries held; past it, the least recently used goes."""
        return self.max_entries

    # What a subclass keeps beside the entries (app.numbers.cache: their order) follows
    # them through these.
    def _kept(self, name: K, value: V, replaced: V | None) -> None:
        """``value`` is stored under ``name``, in place of ``replaced``."""

    def _dropped(self, name: K, value: V, *, lost: bool) -> None:
        """``name`` is no longer stored: forgotten on a notice, or ``lost`` (evicted for
        room, or aged out) while its row may well be unchanged."""

    def _emptied(self) -> None:
        """Every entry is gone (:meth:`clear`)."""
