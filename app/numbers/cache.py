"""The mirror's numbers as this API process last read them, already encoded.

Postgres stays the truth: an entry is only ever a committed row read from the mirror
(loaded in bulk by the listener, or by a read that missed), and it is dropped as soon
as PostgreSQL announces a change to that number (migration 0006's triggers, heard by
:mod:`app.numbers.listener`). The cache answers only while the listener holds its
LISTEN; before that, and from the moment the connection is lost until it is back and
the cache emptied, every read goes to the database. An entry is also not served once
it is older than ``max_age`` seconds (the listener reloads them well before), a safety
net for a notice lost in some way nobody foresaw.

A row may be stored only if no notice about its number (and no "forget everything")
arrived since its query began (``ticket``, then ``put``): otherwise a change committed
while the query ran could be announced, and forgotten, before the stale row it
replaced was stored.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass

# How many numbers' notices are remembered for reads in flight; past that, every read in
# flight is treated as outdated (cheaper than remembering more, and just as safe).
FORGET_LOG_SIZE = 20_000


@dataclass(frozen=True, slots=True)
class CachedNumber:
    tenant_id: uuid.UUID | None
    """The holder, for the tenancy check each read applies (app.lib.tenancy.may_see)."""
    body: bytes
    """The ``NumberOut`` document, encoded once."""
    stored_at: float


class NumberCache:
    """A bounded LRU of mirror rows by number (digits), usable only while ``active``."""

    def __init__(self, max_entries: int, max_age: float) -> None:
        self.max_entries = max_entries
        self.max_age = max_age
        self._entries: OrderedDict[str, CachedNumber] = OrderedDict()
        self._active = False
        # Notices counted; a ticket is the count when a read began.
        self._generation = 0
        # A read that began before this count is outdated, whatever its number.
        self._floor = 0
        # The count at the latest notice naming each number, since ``_floor``.
        self._forgotten: dict[str, int] = {}

    @property
    def active(self) -> bool:
        return self._active

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, number: str) -> bool:
        """Whether ``number`` is a stored number this cache would serve now."""
        return self.get(number) is not None

    def get(self, number: str) -> CachedNumber | None:
        if not self._active:
            return None
        entry = self._entries.get(number)
        if entry is None:
            return None
        if time.monotonic() - entry.stored_at > self.max_age:
            del self._entries[number]
            return None
        self._entries.move_to_end(number)
        return entry

    def ticket(self) -> int:
        """Taken before the query whose rows may be stored with :meth:`put`."""
        return self._generation

    def put(self, ticket: int, number: str, tenant_id: uuid.UUID | None, body: bytes) -> None:
        """Store a row read after ``ticket`` was taken, unless its number changed since."""
        if not self._active or ticket < self._floor or self.max_entries <= 0:
            return
        if self._forgotten.get(number, ticket) > ticket:
            return
        self._entries[number] = CachedNumber(tenant_id, body, time.monotonic())
        self._entries.move_to_end(number)
        if len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def forget(self, numbers: list[str]) -> None:
        """These numbers changed (a notice): drop them, and any of them being read now."""
        self._generation += 1
        if len(self._forgotten) + len(numbers) > FORGET_LOG_SIZE:
            self._floor = self._generation
            self._forgotten.clear()
        else:
            self._forgotten.update(dict.fromkeys(numbers, self._generation))
        for number in numbers:
            self._entries.pop(number, None)

    def clear(self) -> None:
        """Everything may have changed: drop all, and every row being read now."""
        self._generation += 1
        self._floor = self._generation
        self._forgotten.clear()
        self._entries.clear()

    def activate(self) -> None:
        """The listener is listening: entries may be served and stored (from empty)."""
        self.clear()
        self._active = True

    def deactivate(self) -> None:
        """Notices may be missed from now on: serve and store nothing, keep nothing."""
        self._active = False
        self.clear()
