"""seven's active numbers as rows for COPY: the sync's fast path to ``columns_from_active``.

The values are exactly those of :func:`app.numbers.mirror.columns_from_active` (a test
holds the two together), in the order of :data:`INCOMING_COLUMNS`; a mirror row
(:data:`MIRROR_COLUMNS`, for the first sync's COPY straight into ``numbers``) adds the
state (:func:`app.numbers.mirror.state_for`) and ``synced_at``. ``RowCounter`` ends
each row with the item's digest (:data:`COPY_SUFFIX`, ``digests.py``). It exists because
the general mapping builds a dict and parses times with ``strptime``; for 100,000
numbers that is 2.8 s, more than fetching and decoding the whole list. Here a row is a
tuple and seven's usual ``YYYY-MM-DD HH:MM:SS`` goes through ``fromisoformat``.
"""

from __future__ import annotations

from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Callable,
    Collection,
    Iterable,
    Iterator,
)
from datetime import UTC, datetime
from typing import Any

import msgspec

from app.numbers.mirror import SEVEN_COLUMNS, SEVEN_TIME_ZONE, parse_seven_time, state_for
from app.seven.active_list import ActiveList
from app.seven.types import ActiveNumber
from app.sync.digests import DIGEST_COLUMN, item_digest

#: The columns of a COPY row: the number, then seven's columns as the mirror names them.
INCOMING_COLUMNS = ("number", *SEVEN_COLUMNS)
#: A row for ``numbers`` itself: the incoming columns, the state and when the sync wrote it.
MIRROR_COLUMNS = (*INCOMING_COLUMNS, "state", "synced_at")
#: What ``RowCounter`` adds to each row: the digest of the item it was decoded from
#: (None for a number handed over decoded, such as a single read's answer).
COPY_SUFFIX = (DIGEST_COLUMN,)

_encode_json = msgspec.json.Encoder().encode


def seven_instant(raw: str | None) -> datetime | None:
    """``parse_seven_time(raw)``, about ten times faster for seven's two usual forms.

    Only ``YYYY-MM-DD HH:MM:SS`` / ``YYYY-MM-DDTHH:MM:SS`` and ``YYYY-MM-DD`` take the
    fast path (``fromisoformat`` accepts more, e.g. offsets or week dates, which
    ``parse_seven_time`` refuses); anything else is left to ``parse_seven_time``.
    """
    if not raw:
        return None
    if (len(raw) == 19 or len(raw) == 10) and raw[4] == "-" and raw[7] == "-":
        try:
            local = datetime.fromisoformat(raw)
        except ValueError:
            return parse_seven_time(raw)
        if local.tzinfo is None:
            return local.replace(tzinfo=SEVEN_TIME_ZONE).astimezone(UTC)
    return parse_seven_time(raw)


def incoming_row(active: ActiveNumber) -> tuple[Any, ...]:
    """One COPY row; the JSON column is text (the driver's jsonb codec takes text)."""
    fees = active.billing.fees
    features = active.features
    return (
        active.number,
        active.country.upper(),
        active.friendly_name,
        active.billing.payment_interval,
        fees.setup,
        fees.basic_charge,
        fees.sms_mo,
        fees.voice_mo,
        features.sms,
        features.a2p_sms,
        features.voice,
        _encode_json(active.forward_sms_mo).decode(),
        active.created,
        active.expires,
        seven_instant(active.created),
        seven_instant(active.expires),
    )


def mirror_row_maker(synced_at: datetime) -> Callable[[ActiveNumber], tuple[Any, ...]]:
    """Rows of :data:`MIRROR_COLUMNS`, all written at ``synced_at``."""

    def mirror_row(active: ActiveNumber) -> tuple[Any, ...]:
        return (*incoming_row(active), state_for(active), synced_at)

    return mirror_row


class RowCounter:
    """Yields COPY rows for a list of numbers, skipping repeats, and counts them.

    seven should list each number once; if it ever lists one twice, the first wins
    rather than the whole sync failing on the mirror's primary key. ``count`` is the
    distinct numbers seen; those in ``skip`` are counted but yield no row. Iterated,
    it reads ``numbers``; :meth:`of_batches` reads seven's list as it arrives instead.
    Each row ends with the digest of the item it came from (:data:`COPY_SUFFIX`).

    ``held`` maps the digests the mirror holds to their numbers (``digests.py``): an
    item (of an ``ActiveList`` batch) whose digest is there is counted without being
    decoded or yielding a row, and its entry is taken out, so that what is left in
    ``held`` afterwards is what the list did not match (:attr:`unmatched`).
    """

    def __init__(
        self,
        numbers: Iterable[ActiveNumber] = (),
        *,
        row: Callable[[ActiveNumber], tuple[Any, ...]] = incoming_row,
        skip: Collection[str] = (),
        held: dict[bytes, str] | None = None,
    ) -> None:
        self._numbers = numbers
        self._row = row
        self._skip = skip
        self._held: dict[bytes, str] = {} if held is None else held
        self._seen: set[str] = set()
        self.count = 0
        self.skipped = 0
        self.matched = 0

    @property
    def unmatched(self) -> Collection[str]:
        """The held numbers whose digest no first item of theirs matched."""
        return self._held.values()

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return self._rows(self._numbers)

    async def of_batches(
        self, batches: AsyncIterable[Iterable[ActiveNumber]]
    ) -> AsyncIterator[tuple[Any, ...]]:
        """The rows of numbers that arrive in batches (``SevenClient.stream_active``)."""
        async for batch in batches:
            if isinstance(batch, ActiveList):
                rows = self._rows_of_items(batch)
            else:  # numbers handed over decoded: nothing to match
                rows = self._rows(batch)
            for row in rows:
                yield row

    def _rows(self, numbers: Iterable[ActiveNumber]) -> Iterator[tuple[Any, ...]]:
        for active in numbers:
            if self._first(active.number):
                yield (*self._row(active), None)

    def _rows_of_items(self, batch: ActiveList) -> Iterator[tuple[Any, ...]]:
        held = self._held
        digests = [item_digest(item) for item in batch.items]
        numbers = [held.get(digest) for digest in digests]
        if self._all_first_and_held(numbers):
            # The usual batch of an unchanged re-sync, counted at once: the same as the
            # loop below, which would take each of them down its ``elif``.
            self._seen.update(numbers)  # type: ignore[arg-type]
            self.count += len(numbers)
            self.matched += len(numbers)
            for digest in digests:
                del held[digest]
            return
        for item, digest, number in zip(batch.items, digests, numbers, strict=True):
            if number is None:
                active = batch.decode(item)
                if self._first(active.number):
                    yield (*self._row(active), digest)
            elif number not in self._seen:
                # The mirror holds this very item: nothing to decode, copy or compare.
                del held[digest]
                self._first(number)
                self.matched += 1

    def _all_first_and_held(self, numbers: list[str | None]) -> bool:
        """Every item's digest is held, each is its number's first item, none is skipped."""
        if None in numbers or not self._seen.isdisjoint(numbers):
            return False
        distinct = set(numbers)
        return len(distinct) == len(numbers) and distinct.isdisjoint(self._skip)

    def _first(self, number: str) -> bool:
        """Count ``number`` if it is the first of its items; whether to yield its row."""
        if number in self._seen:
            return False
        self._seen.add(number)
        self.count += 1
        if number in self._skip:
            self.skipped += 1
            return False
        return True
