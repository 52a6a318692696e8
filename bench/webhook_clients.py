"""Webhook POSTs side by side: one httpx client shared by every lane, or one per lane.

    .venv/bin/python bench/webhook_clients.py

A receiver in a process of its own (``bench.events.Receiver``: HTTP/1.1 keep-alive, 200 at
once) and, in this process, ``BENCH_POSTS`` POSTs of a 300-byte body made by ``LANES``
lanes side by side, each lane POSTing one after another (as a delivery run's keys do):
first every lane on one shared ``httpx.AsyncClient`` (httpx's recommended use), then each
lane on a client of its own from ``app.events.delivery.Lanes`` (what the worker does).
Prints requests/s and this process's CPU time per request, for 4 and 16 lanes.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.events.delivery import Lanes, delivery_client  # noqa: E402
from bench.events import Receiver  # noqa: E402

POSTS = int(os.environ.get("BENCH_POSTS", "6000"))
BODY = b"x" * 300


def _serve(port: multiprocessing.Queue[int]) -> None:
    async def serve() -> None:
        server = await Receiver().start()
        port.put(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    asyncio.run(serve())


async def _run(
    url: str, lanes: int, client: Callable[[], AbstractAsyncContextManager[httpx.AsyncClient]]
) -> tuple[float, float]:
    left = iter(range(POSTS))

    async def lane() -> None:
        for index in left:
            async with (
                client() as http,
                http.stream(
                    "POST", url, content=BODY, headers={"webhook-id": str(index)}
                ) as response,
            ):
                async for _ in response.aiter_raw():
                    pass

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(lane() for _ in range(lanes)))
    return POSTS / (time.perf_counter() - started), (time.process_time() - cpu) / POSTS * 1e6


async def main(url: str) -> None:
    print(f"webhook POSTs: {POSTS} per run, a receiver answering at once in its own process")
    print(f"{'lanes':>5}  {'clients':<22}{'req/s':>8}{'CPU us/req':>12}")
    for lanes in (4, 16):
        async with delivery_client(httpx.create_ssl_context()) as shared:

            @asynccontextmanager
            async def one_shared() -> AsyncIterator[httpx.AsyncClient]:
                yield shared

            rate, cpu = await _run(url, lanes, one_shared)
        print(f"{lanes:>5}  {'one, shared':<22}{rate:>8.0f}{cpu:>12.0f}")
        own = Lanes()
        try:
            rate_own, cpu_own = await _run(url, lanes, own.client)
        finally:
            await own.aclose()
        print(
            f"{lanes:>5}  {'one per lane (Lanes)':<22}{rate_own:>8.0f}{cpu_own:>12.0f}"
            f"   CPU {cpu / cpu_own:.1f}x less"
        )


if __name__ == "__main__":
    ports: multiprocessing.Queue[int] = multiprocessing.Queue()
    receiver = multiprocessing.Process(target=_serve, args=(ports,), daemon=True)
    receiver.start()
    try:
        asyncio.run(main(f"http://127.0.0.1:{ports.get(timeout=30)}/hooks"))
    finally:
        receiver.terminate()
