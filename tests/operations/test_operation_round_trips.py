"""What an order's run costs the database: each statement that stands alone commits on its
own, and only the end (the mirror row, the outcome and its events) is a transaction.

Counted as round trips, the messages asyncpg writes to PostgreSQL's socket (one write per
statement once it is prepared; BEGIN and COMMIT are simple queries of their own): with a
transaction around each lone statement and an event per statement, an order's run made 23
(six BEGIN, six COMMIT, two statements of events).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from app.db.engine import create_engine
from app.operations.executor import OperationRunner
from app.operations.policy import RetryPolicy
from app.pools.finish import settle_pool_operation
from app.settings import Settings
from app.seven.client import SevenClient
from tests.support.api import Client
from tests.support.operations import available_numbers, order
from tests.support.sandbox import SandboxProcess

# The lock, the read, the recovery point, seven's acceptance, then BEGIN, the mirror row,
# the pools' handover, the number read back, the outcome, its two events (one statement),
# COMMIT, then the unlock.
ORDER_ROUND_TRIPS = 12


async def test_an_order_run_sends_one_transaction_and_a_statement_per_step(
    client: Client,
    admin_headers: dict[str, str],
    settings: Settings,
    fresh_sandbox: SandboxProcess,
) -> None:
    first, second = available_numbers(fresh_sandbox, 2)
    engine = create_engine(settings.database_url)
    sent: list[bytes] = []
    wrapped: set[int] = set()

    @event.listens_for(engine.sync_engine, "checkout")
    def count_writes(dbapi_connection: Any, *_: Any) -> None:
        transport = dbapi_connection._connection._transport  # asyncpg's, under the adapter
        if id(transport) not in wrapped:
            wrapped.add(id(transport))
            write = transport.write
            transport.write = lambda data: (sent.append(bytes(data)), write(data))[1]

    try:
        async with SevenClient(fresh_sandbox.api_key, base_url=fresh_sandbox.base_url) as seven:
            runner = OperationRunner(
                engine, seven, RetryPolicy.from_settings(settings), [settle_pool_operation]
            )
            # The first order prepares the run's statements on the pool's connection.
            for number in (first, second):
                operation_id = uuid.UUID((await order(client, admin_headers, number))["id"])
                sent.clear()
                assert await runner.run(operation_id) == "succeeded"
                trips = list(sent)  # closing the pool writes more
    finally:
        await engine.dispose()

    simple = [data[5:].split(b"\0")[0].decode() for data in trips if data[:1] == b"Q"]
    assert [query.split()[0] for query in simple] == ["BEGIN", "COMMIT;"], simple
    assert len(trips) == ORDER_ROUND_TRIPS, "\n".join(repr(data[:40]) for data in trips)
    assert fresh_sandbox.orders_of(first) == fresh_sandbox.orders_of(second) == 1


async def test_an_order_request_inserts_its_operation_whole(
    client: Client, admin_headers: dict[str, str], fresh_sandbox: SandboxProcess
) -> None:
    """The operation is inserted with its idempotency key and request hash (and, for a
    budgeted tenant, its month charge): setting them after the insert cost an UPDATE."""
    first, second = available_numbers(fresh_sandbox, 2)
    await order(client, admin_headers, first)  # the request's statements prepared
    statements: list[str] = []

    def record(_connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(" ".join(statement.split()[:3]))

    event.listen(Engine, "before_cursor_execute", record)
    try:
        headers = {**admin_headers, "Idempotency-Key": f"whole-{uuid.uuid4()}"}
        submitted = await order(client, headers, second)
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    writes = [s for s in statements if s.split()[0] in ("INSERT", "UPDATE")]
    assert writes.count("INSERT INTO operations") == 1, statements
    assert not [s for s in writes if s.startswith("UPDATE operations")], statements
    # The replay finds it: the key was written with the row.
    again = await client.post(
        "/v1/orders", json={"number": second, "payment_interval": "annually"}, headers=headers
    )
    assert again.json()["id"] == submitted["id"], again.text
