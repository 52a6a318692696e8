"""A transaction kept open in another thread, for tests of what waits for a row lock.

The in-process test client runs a request on the test's event loop and holds it until
the answer: a transaction the test opened on that loop could not commit while a request
waits for it. This one lives on its own thread and loop, and commits on its own.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from tests.support.db import connected


@contextmanager
def held_for(
    url: str, statements: list[tuple[str, *tuple[object, ...]]], seconds: float
) -> Iterator[None]:
    """Run ``statements`` (each SQL and its arguments) in a transaction that commits
    ``seconds`` after they ran; the block runs once they have."""
    ready = threading.Event()
    failed: list[BaseException] = []

    async def hold() -> None:
        async with connected(url) as connection, connection.transaction():
            for statement, *arguments in statements:
                await connection.execute(statement, *arguments)
            ready.set()
            await asyncio.sleep(seconds)

    def run() -> None:
        try:
            asyncio.run(hold())
        except BaseException as error:
            failed.append(error)
            ready.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(timeout=10)
    if failed:
        raise failed[0]
    try:
        yield
    finally:
        thread.join(timeout=seconds + 10)
