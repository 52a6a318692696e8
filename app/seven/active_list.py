"""seven's active list as ``list_active`` returns it: split at once, each number decoded when read.

``GET /numbers/active`` answers every number of the account in one body (about 40 MB
for 100,000 numbers). Decoding all of it into structs before anything else can happen
cost about 0.3 s up front and held every number in memory at once, so the body is
only split into its items here (which checks that it is JSON of the right shape) and
each item is decoded and validated when it is read. ``SevenClient.stream_active``
yields one per batch of the list as it arrives (``active_stream.py``): the sync reads
an item's bytes (``items``) and decodes only those the mirror does not already hold.
A malformed item raises the client's ``MalformedResponse`` when it is reached.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import msgspec

from app.seven.types import ActiveNumber


class _NumberOnly(msgspec.Struct):
    number: str


_DECODE_NUMBER = msgspec.json.Decoder(_NumberOnly)


def _number_of(item: msgspec.Raw) -> str:
    """An item's number for ordering; an item without one sorts first (and fails when read)."""
    try:
        return _DECODE_NUMBER.decode(item).number
    except (msgspec.DecodeError, msgspec.ValidationError):
        return ""


class ActiveList:
    """The numbers of one ``GET /numbers/active`` answer, in seven's order."""

    def __init__(
        self, items: list[msgspec.Raw], decode: Callable[[msgspec.Raw], ActiveNumber]
    ) -> None:
        self._items = items
        self._decode = decode

    @property
    def items(self) -> list[msgspec.Raw]:
        """Each number's JSON exactly as seven sent it, in seven's order."""
        return self._items

    def decode(self, item: msgspec.Raw) -> ActiveNumber:
        """One of ``items`` as a number (``MalformedResponse`` if it is not one)."""
        return self._decode(item)

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int) -> ActiveNumber:
        return self._decode(self._items[index])

    def __iter__(self) -> Iterator[ActiveNumber]:
        return map(self._decode, self._items)

    def find(self, number: str) -> ActiveNumber | None:
        """The one number of the list, decoded, or None when seven does not list it."""
        for item in self._items:
            if _number_of(item) == number:
                return self._decode(item)
        return None
