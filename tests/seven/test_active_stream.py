"""ActiveSplitter: seven's active list cut into batches as it arrives, against msgspec's
decode of the whole body; and SevenClient.stream_active over scripted answers."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest

from app.seven import MalformedResponse, OutcomeUnknown, SevenAuthError, SevenClient
from app.seven.active_stream import ActiveSplitter
from app.seven.types import ActiveNumber, ActiveNumbersResponse
from tests.support.seven_docs import DOC_ACTIVE

# Names that look like the place between two items, or close the array, or escape.
TRICKY_NAMES = ["}, {", '"},{"', "a}\n,\t{b", "]}", '\\"},{\\"', "[{", "\\", "ü}€,{"]


def _items(count: int) -> list[dict[str, Any]]:
    return [
        {
            **DOC_ACTIVE,
            "number": str(4915170000000 + i),
            "friendly_name": TRICKY_NAMES[i % len(TRICKY_NAMES)],
        }
        for i in range(count)
    ]


def _whole(body: bytes) -> list[ActiveNumber]:
    return msgspec.json.decode(body, type=ActiveNumbersResponse).active_numbers


def _split(chunks: list[bytes], batch_bytes: int) -> tuple[list[list[ActiveNumber]], bool]:
    splitter = ActiveSplitter(batch_bytes=batch_bytes)
    batches = [batch for chunk in chunks for batch in splitter.feed(chunk)]
    batches.append(splitter.close())
    return batches, bool(splitter.streaming)


BODIES = {
    "compact": json.dumps({"activeNumbers": _items(6)}, separators=(",", ":")),
    "spaced": json.dumps({"activeNumbers": _items(6)}),
    "indented": json.dumps({"activeNumbers": _items(4)}, indent=2),
    "a key after the list": json.dumps({"activeNumbers": _items(4), "x": [{"a": "]"}]}),
    "empty": '{"activeNumbers": []}',
}


@pytest.mark.parametrize("name", list(BODIES))
def test_a_body_split_at_every_chunk_boundary_decodes_as_a_whole(name: str) -> None:
    body = BODIES[name].encode()
    expected = _whole(body)
    for cut in range(len(body) + 1):
        # A batch of 1 byte cuts at every place that decodes; 400 bytes, every few items.
        for batch_bytes in (1, 400):
            batches, streaming = _split([body[:cut], body[cut:]], batch_bytes)
            assert streaming
            assert [n for batch in batches for n in batch] == expected, (cut, batch_bytes)


def test_a_body_fed_byte_by_byte_comes_in_many_batches() -> None:
    body = BODIES["spaced"].encode()
    batches, _ = _split([body[i : i + 1] for i in range(len(body))], batch_bytes=1)
    assert [n for batch in batches for n in batch] == _whole(body)
    assert sum(1 for batch in batches if batch) == 6


def test_a_body_of_another_shape_is_held_whole() -> None:
    for body in (b"900", b'{"x": 1, "activeNumbers": []}', b"<html>", b""):
        batches, streaming = _split([body], batch_bytes=1)
        assert not streaming
        assert batches == [[]]


def test_a_malformed_item_is_a_validation_error() -> None:
    items = _items(6)
    items[3]["billing"] = "monthly"
    body = json.dumps({"activeNumbers": items}).encode()
    with pytest.raises(msgspec.ValidationError):
        _split([body], batch_bytes=1)


@pytest.mark.parametrize("end", [-1, -2, -30])
def test_a_truncated_body_fails(end: int) -> None:
    body = BODIES["spaced"].encode()[:end]
    with pytest.raises(msgspec.DecodeError):
        _split([body], batch_bytes=1)


def test_trailing_bytes_after_the_object_fail() -> None:
    body = BODIES["spaced"].encode() + b"]"
    with pytest.raises(msgspec.DecodeError):
        _split([body], batch_bytes=1)


# -- the client ---------------------------------------------------------------------

KEY = "sk-live-DO-NOT-LEAK-4f1c2e"


def _client(body: bytes, status: int = 200) -> SevenClient:
    transport = httpx.MockTransport(lambda request: httpx.Response(status, content=body))
    http = httpx.AsyncClient(transport=transport)
    return SevenClient(KEY, base_url="https://seven.test/api", http_client=http)


async def _streamed(client: SevenClient) -> list[ActiveNumber]:
    async with contextlib.aclosing(client.stream_active()) as batches:
        return [number async for batch in batches for number in batch]


async def test_stream_active_reads_what_list_active_reads() -> None:
    body = json.dumps({"activeNumbers": _items(3000)}).encode()  # about 1 MB: 2 batches
    async with _client(body) as client:
        streamed = await _streamed(client)
        listed = list(await client.list_active())
    assert streamed == listed
    assert len(streamed) == 3000


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (b"900", 200, SevenAuthError),
        (b'{"error": "no"}', 401, SevenAuthError),
        (b"<html>proxy</html>", 200, MalformedResponse),
        (json.dumps({"activeNumbers": _items(3)}).encode()[:-5], 200, MalformedResponse),
    ],
)
async def test_stream_active_raises_what_list_active_raises(
    body: bytes, status: int, error: type[Exception]
) -> None:
    async with _client(body, status) as client:
        with pytest.raises(error) as streamed:
            await _streamed(client)
        with pytest.raises(error) as listed:
            await client.list_active()
    assert KEY not in str(streamed.value)
    assert streamed.value.code == listed.value.code  # type: ignore[attr-defined]


async def test_a_malformed_number_fails_when_its_batch_is_reached() -> None:
    items = _items(3000)
    items[-1]["billing"] = "monthly"
    body = json.dumps({"activeNumbers": items}).encode()
    read: list[ActiveNumber] = []
    async with _client(body) as client:
        with pytest.raises(MalformedResponse, match="billing"):
            async with contextlib.aclosing(client.stream_active()) as batches:
                async for batch in batches:
                    read.extend(batch)
    assert 0 < len(read) < 3000  # the batches before it were read first


async def _slow_body() -> AsyncIterator[bytes]:
    yield b'{"activeNumbers": ['
    await asyncio.sleep(5)
    yield b"]}"


async def test_the_total_timeout_covers_the_body() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=_slow_body()))
    http = httpx.AsyncClient(transport=transport)
    client = SevenClient(
        KEY, base_url="https://seven.test/api", http_client=http, total_timeout=0.2
    )
    async with client:
        with pytest.raises(OutcomeUnknown):
            await _streamed(client)


async def test_the_time_the_caller_takes_between_batches_is_not_counted() -> None:
    body = json.dumps({"activeNumbers": _items(3000)}).encode()  # 2 batches at least
    http = httpx.AsyncClient(
        transport=httpx.MockTransport(lambda r: httpx.Response(200, content=body))
    )
    client = SevenClient(
        KEY, base_url="https://seven.test/api", http_client=http, total_timeout=0.2
    )
    read = 0
    async with client, contextlib.aclosing(client.stream_active()) as batches:
        async for batch in batches:
            read += len(batch)
            await asyncio.sleep(0.15)  # the sync's COPY of the batch, say
    assert read == 3000


async def test_find_active_decodes_only_the_number_and_stops_reading_once_found() -> None:
    items = _items(6000)  # about 2 MB: several batches
    items[10]["billing"] = "monthly"  # malformed, but not the number asked for
    whole = json.dumps({"activeNumbers": items}).encode()
    cut = whole[: len(whole) // 2]  # the body breaks off half way: past the first batches
    async with _client(cut) as client:
        found = await client.find_active("+" + items[20]["number"])
        assert found is not None
        assert found.number == items[20]["number"]
        # Whatever lies past the number is never read: only a search beyond it fails.
        with pytest.raises(MalformedResponse):
            await client.find_active(items[-1]["number"])
    async with _client(whole) as client:
        assert await client.find_active("4915179999999") is None
        with pytest.raises(MalformedResponse, match="billing"):
            await client.find_active(items[10]["number"])
