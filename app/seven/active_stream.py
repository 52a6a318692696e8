"""seven's active list decoded as it arrives, a batch of numbers at a time.

``GET /numbers/active`` answers every number of the account in one body (about 375 MB
for 1,000,000 numbers). Held whole, with its items, it took a sync's worker near 1 GB;
read as it arrives, only about one batch of the body and its numbers is held at once.

msgspec decodes whole documents only, so the body is cut between items and each run of
items is decoded as one JSON array. A cut is made only where ``}``, ``,`` and ``{``
meet (with any whitespace between), which is where one item of seven's array of
objects ends and the next begins -- or, by chance, inside a string (a friendly name
``"a},{b"``) or between objects nested in an item. Either wrong cut leaves the array
unfinished (an unclosed string or object), which msgspec refuses as malformed JSON, so
the next place is tried: every batch that decodes is exactly the items it holds. A
type error (``ValidationError``) is not a wrong cut but a malformed number, and is
raised as such.

Only the documented shape ``{"activeNumbers": [...]}`` with the array first is read
this way; any other body (a bare error code, another key first, HTML) is left for the
caller to read whole (:attr:`ActiveSplitter.streaming` is False).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import msgspec

from app.seven.types import ActiveNumber

#: The body's opening up to its array; enough bytes to tell whether it is there.
_HEAD = re.compile(rb'\s*\{\s*"activeNumbers"\s*:\s*\[')
_HEAD_BYTES = 256
#: Where one item may end and the next begin.
_BETWEEN_ITEMS = re.compile(rb"\}\s*,\s*\{")
#: About 2,500 numbers of seven's: large enough that a cut costs little, small enough
#: that the batch (bytes and structs) stays a few MB.
DEFAULT_BATCH_BYTES = 1 << 20

_DECODE_BATCH = msgspec.json.Decoder(list[ActiveNumber])
_DECODE_ANY = msgspec.json.Decoder()


class ActiveSplitter:
    """Fed the body's bytes as they arrive; yields its numbers in batches, in order.

    Raises ``msgspec.DecodeError`` (``ValidationError`` included) for a malformed body
    or item; the caller words it. ``decode`` is applied to each batch's JSON array: into
    numbers by default, or into ``msgspec.Raw`` items (the client's stream), which
    checks the JSON and leaves each item's decoding to its reader.
    """

    def __init__(
        self,
        *,
        batch_bytes: int = DEFAULT_BATCH_BYTES,
        decode: Callable[[bytes], list[Any]] = _DECODE_BATCH.decode,
    ) -> None:
        self._batch_bytes = batch_bytes
        self._decode = decode
        self._buffer = bytearray()
        self._scan_from = 0  # no cut before this offset of the buffer decodes
        self.streaming: bool | None = None
        """None until the opening is read; False: not the documented shape, held whole."""

    @property
    def held(self) -> bytes:
        """What was fed and not yet decoded (the whole body when not streaming)."""
        return bytes(self._buffer)

    def feed(self, chunk: bytes) -> list[list[Any]]:
        """The batches that ``chunk`` completes (none while the batch is short)."""
        self._buffer += chunk
        batches: list[list[Any]] = []
        if self.streaming is None and not self._read_head(end=False):
            return batches
        while self.streaming and len(self._buffer) >= self._batch_bytes:
            batch = self._cut(max(self._scan_from, self._batch_bytes // 2))
            if batch is None:
                break
            batches.append(batch)
        return batches

    def close(self) -> list[Any]:
        """The numbers after the last batch, once the body has ended."""
        if self.streaming is None:
            self._read_head(end=True)
        if not self.streaming:
            return []
        body = bytes(self._buffer)
        end = len(body)
        while (end := body.rfind(b"]", 0, end)) >= 0:
            # The array's end is the last "]" after which only the object's end (and any
            # further keys) follows; a "]" in a later key's value is tried first.
            try:
                _DECODE_ANY.decode(b'{"":[]' + body[end + 1 :])
            except msgspec.DecodeError:
                continue
            try:
                return self._decode(b"[" + body[:end] + b"]")
            except msgspec.ValidationError:
                raise
            except msgspec.DecodeError:
                continue
        raise msgspec.DecodeError("the list of active numbers is incomplete")

    def _read_head(self, *, end: bool) -> bool:
        """Decide whether the body has the documented opening; False: not decided yet."""
        if len(self._buffer) < _HEAD_BYTES and not end:
            return False
        head = _HEAD.match(self._buffer)
        self.streaming = head is not None
        if head is not None:
            del self._buffer[: head.end()]
        return True

    def _cut(self, start: int) -> list[Any] | None:
        """The items before the first place from ``start`` where a cut decodes."""
        while (between := _BETWEEN_ITEMS.search(self._buffer, start)) is not None:
            end = between.start() + 1
            try:
                batch = self._decode(b"[" + self._buffer[:end] + b"]")
            except msgspec.ValidationError:
                raise
            except msgspec.DecodeError:
                start = between.start() + 1
                continue
            del self._buffer[: between.end() - 1]
            self._scan_from = 0
            return batch
        # Nothing decodes yet: the next search starts where this one gave up.
        self._scan_from = max(0, len(self._buffer) - 64)
        return None
