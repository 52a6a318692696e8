"""One load of the whole mirror, held in number order as columns: ~100 bytes a number.

A Python object per held number costs ~1,300 bytes (bench/README, 1 December, 06:55),
1.3 GB a process at a million numbers. Here each field is one array for all the
numbers: the number as an order-keeping integer, the row version, holder, pool,
country, state and features as small codes, the name and digits joined for ``q``
(app.numbers.q_index), and the encoded body compressed on its own with a zstd
dictionary trained on the load's first bodies (bench/README, 1 December, 19:00: ~45
bytes for the bench's ~890-byte bodies, ~1.5 us to compress and ~0.4 us to decompress
one; zlib with a preset dictionary took 66 bytes and 1.3 us).

Rows are appended in number order as the load reads them and never changed: a row that
changes later is marked dead here and lives on in the cache's front
(app.numbers.cache), until the front is folded into new columns (:meth:`Columns.copy`
takes each live row over as it is) or the next build.
"""

from __future__ import annotations

import uuid
from array import array
from bisect import bisect_left
from collections.abc import Callable, Hashable, Iterator, Mapping
from typing import Any, Generic, TypeVar

import zstandard

from app.numbers.entries import FEATURES, CachedNumber, Document
from app.numbers.q_index import QText

# A number is kept as int(its digits padded with zeros to this many) * 32 + its length:
# integers in the order of the digit strings (a prefix first), each its own.
_KEY_DIGITS = 17
_KEY_LENGTH_BITS = 5

# The bodies the dictionary is trained on (~40 ms, once a build), and its size. A build
# of fewer rows keeps its bodies as they are.
DICTIONARY_SAMPLES = 1_000
_DICTIONARY_BYTES = 16_384
_LEVEL = 3

_MAX_VERSION = 0xFFFFFFFF

T = TypeVar("T", bound=Hashable)


def key_of(number: str) -> int | None:
    """The number's key, or None when it is not digits or too long to be one (such a
    number is held in the cache's front instead)."""
    if not (number.isascii() and number.isdigit()) or len(number) > _KEY_DIGITS:
        return None
    return int(number.ljust(_KEY_DIGITS, "0")) << _KEY_LENGTH_BITS | len(number)


class _Codes(Generic[T]):
    """Small integers for the few values of a field; 0 is None."""

    __slots__ = ("codes", "values")

    def __init__(self) -> None:
        self.values: list[T | None] = [None]
        self.codes: dict[T | None, int] = {None: 0}

    def code(self, value: T | None) -> int:
        code = self.codes.get(value)
        if code is None:
            code = self.codes[value] = len(self.values)
            self.values.append(value)
        return code


class Columns:
    """Rows appended in number order; each kept at a position, alive until marked dead."""

    def __init__(self, stored_at: float) -> None:
        self.stored_at = stored_at
        """When the load that read these rows began (monotonic)."""
        self.keys = array("Q")
        self.versions = array("I")
        self._holders: _Codes[uuid.UUID] = _Codes()
        self.holders = array("I")
        self._pools: _Codes[uuid.UUID] = _Codes()
        self.pools = array("I")
        self._countries: _Codes[str] = _Codes()
        self.countries = array("H")
        self._states: _Codes[str] = _Codes()
        self.states = array("B")
        self.features = array("B")  # a bit per app.numbers.entries.FEATURES
        self._feature_sets = [
            frozenset(f for bit, f in enumerate(FEATURES) if mask >> bit & 1)
            for mask in range(1 << len(FEATURES))
        ]
        self.tags: dict[int, Mapping[str, Any]] = {}  # only the few numbers with tags
        self.q = QText()
        self._bodies = bytearray()
        self._body_starts = array("I", [0])
        # The first bodies as they are, until the dictionary is trained on them.
        self._raw: list[bytes] | None = []
        self._compress: Callable[[bytes], bytes] | None = None
        self._decompress: Callable[[bytes], bytes] | None = None
        self.dead = bytearray()
        self.alive = 0
        # Each indexed field's value -> its positions, ascending (None is not indexed).
        self.indexes: dict[tuple[str, Any], array[int]] = {}

    @classmethod
    def continuing(cls, old: Columns, stored_at: float) -> Columns:
        """Empty columns to fold ``old``'s live rows and newer ones into: the same codes
        and the same dictionary, so that :meth:`copy` takes each row as it is."""
        new = cls(stored_at)
        new._holders, new._pools = old._holders, old._pools
        new._countries, new._states = old._countries, old._states
        if old._raw is None:
            new._raw, new._compress, new._decompress = None, old._compress, old._decompress
        return new

    def __len__(self) -> int:
        return len(self.keys)

    def copy(self, old: Columns, position: int) -> None:
        """Append ``old``'s row at ``position`` (after the last key here), as it is: its
        codes, name and digits, and its body still compressed when the dictionary is
        the same (:meth:`continuing`)."""
        at = len(self.keys)
        for field, codes, old_column, column in (
            ("tenant_id", self._holders, old.holders, self.holders),
            ("pool_id", self._pools, old.pools, self.pools),
            ("country", self._countries, old.countries, self.countries),
            ("state", self._states, old.states, self.states),
        ):
            code = old_column[position]
            self._coded(at, field, code, codes.values[code], column)
        self.keys.append(old.keys[position])
        self.versions.append(old.versions[position])
        self.features.append(old.features[position])
        if (tags := old.tags.get(position)) is not None:
            self.tags[at] = tags
        self.q.copy(old.q, position)
        if self._raw is None and self._decompress is old._decompress:
            starts = old._body_starts
            self._bodies += old._bodies[starts[position] : starts[position + 1]]
            self._body_starts.append(len(self._bodies))
        else:
            self._keep_body(old.body(position))
        self.dead.append(0)
        self.alive += 1

    def append(self, key: int, number: str, entry: CachedNumber) -> bool:
        """Keep ``entry`` (with its encoded body) at the next position; False when it
        cannot be (its key is not after the last one, or its version is too wide)."""
        if (self.keys and key <= self.keys[-1]) or entry.version > _MAX_VERSION:
            return False
        position = len(self.keys)
        for field, codes, column in (
            ("tenant_id", self._holders, self.holders),
            ("pool_id", self._pools, self.pools),
            ("country", self._countries, self.countries),
            ("state", self._states, self.states),
        ):
            value = getattr(entry, field)
            self._coded(position, field, codes.code(value), value, column)
        self.keys.append(key)
        self.versions.append(entry.version)
        self.features.append(sum(1 << bit for bit, f in enumerate(FEATURES) if f in entry.features))
        if entry.tags:
            self.tags[position] = entry.tags
        self.q.append(number, entry.name)
        self._keep_body(entry.body)
        self.dead.append(0)
        self.alive += 1
        return True

    def _coded(self, position: int, field: str, code: int, value: Any, column: array[int]) -> None:
        """The row at ``position`` has ``value`` (``code``) in ``field``'s column, and is
        in that value's order unless it is None."""
        column.append(code)
        if code:
            positions = self.indexes.get((field, value))
            if positions is None:
                positions = self.indexes[(field, value)] = array("I")
            positions.append(position)

    def find(self, key: int) -> int | None:
        """The position of the live row of ``key``, if held."""
        position = self.locate(key)
        return None if position is None or self.dead[position] else position

    def locate(self, key: int) -> int | None:
        """The position of the row of ``key``, live or dead, if one was appended."""
        position = bisect_left(self.keys, key)
        return position if position < len(self.keys) and self.keys[position] == key else None

    def kill(self, key: int) -> None:
        """The row of ``key`` is outdated (a notice named it, or a newer read is held)."""
        position = self.locate(key)
        if position is not None and not self.dead[position]:
            self.dead[position] = 1
            self.alive -= 1

    def revive(self, position: int) -> None:
        """The dead row at ``position`` is current after all (a read of the same row
        version is held)."""
        if self.dead[position]:
            self.dead[position] = 0
            self.alive += 1

    def after(self, key: int | None) -> int:
        """The first position whose key is after ``key`` (0 for None)."""
        return 0 if key is None else bisect_left(self.keys, key + 1)

    def number(self, position: int) -> str:
        return self.q.digits.part(position)

    def entry(self, position: int) -> CachedNumber:
        """The row at ``position``, body and all."""
        return self.filterable(position, self.body(position))

    def document(self, position: int) -> Document:
        """What a read serves of the row at ``position``."""
        holder = self._holders.values[self.holders[position]]
        return Document(holder, self.versions[position], self.body(position))

    def filterable(self, position: int, body: bytes = b"") -> CachedNumber:
        """The row at ``position`` as a list's filters test it (``body`` is not read)."""
        return CachedNumber(
            tenant_id=self._holders.values[self.holders[position]],
            body=body,
            version=self.versions[position],
            country=self._countries.values[self.countries[position]],  # type: ignore[arg-type]
            state=self._states.values[self.states[position]],  # type: ignore[arg-type]
            pool_id=self._pools.values[self.pools[position]],
            name=self.q.name(position),
            features=self._feature_sets[self.features[position]],
            tags=self.tags.get(position),
        )

    def body(self, position: int) -> bytes:
        if self._raw is not None:
            return self._raw[position]
        starts = self._body_starts
        compressed = self._bodies[starts[position] : starts[position + 1]]
        return self._decompress(compressed)  # type: ignore[misc, arg-type]

    def positions(self, start: int, index: tuple[str, Any] | None) -> Iterator[int]:
        """The live positions from ``start`` on, in order: all, or one value's."""
        dead = self.dead
        if index is None:
            return (p for p in range(start, len(self.keys)) if not dead[p])
        positions = self.indexes.get(index)
        if positions is None:
            return iter(())
        # By index into the order, not a slice of it: a value's order may hold most of a
        # million positions, and a page reads a few dozen.
        at = bisect_left(positions, start)
        return (p for p in map(positions.__getitem__, range(at, len(positions))) if not dead[p])

    def index_size(self, index: tuple[str, Any]) -> int:
        """How many positions, live or dead, the value's order holds."""
        positions = self.indexes.get(index)
        return 0 if positions is None else len(positions)

    def nbytes(self) -> int:
        """The bytes held in the columns (not counting the few shared values)."""
        arrays = [
            self.keys,
            self.versions,
            self.holders,
            self.pools,
            self.countries,
            self.states,
            self.features,
            self._body_starts,
            self.q.names.starts,
            self.q.digits.starts,
            self.q.undecided,
            *self.indexes.values(),
        ]
        texts = [self._bodies, self.dead, self.q.names.text, self.q.digits.text]
        raw = sum(map(len, self._raw or ()))
        return sum(a.itemsize * len(a) for a in arrays) + sum(map(len, texts)) + raw

    def _keep_body(self, body: bytes) -> None:
        if self._raw is not None:
            self._raw.append(body)
            if len(self._raw) == DICTIONARY_SAMPLES:
                self._train(self._raw)
            return
        self._bodies += self._compress(body)  # type: ignore[misc]
        self._body_starts.append(len(self._bodies))

    def _train(self, samples: list[bytes]) -> None:
        """Compress from now on with a dictionary of what the bodies so far share (the
        keys, and most values), the bodies so far too."""
        try:
            dictionary = zstandard.train_dictionary(_DICTIONARY_BYTES, samples)  # type: ignore[arg-type]
        except zstandard.ZstdError:  # nothing to learn from them: compress without
            dictionary = None
        compressor = zstandard.ZstdCompressor(
            level=_LEVEL, dict_data=dictionary, write_checksum=False, write_dict_id=False
        )
        self._compress = compressor.compress
        self._decompress = zstandard.ZstdDecompressor(dict_data=dictionary).decompress
        self._raw = None
        for body in samples:
            self._keep_body(body)
