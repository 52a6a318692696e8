"""The migrations build the schema the models describe, and take it down again."""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterator

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import CheckConstraint
from sqlalchemy.ext.asyncio import create_async_engine

from app.db import models  # noqa: F401  (registers the tables)
from app.db.base import Base
from tests.support.db import Servers, alembic, connected, create_database, drop_database


async def _tables(url: str) -> set[str]:
    async with connected(url) as connection:
        rows = await connection.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {row["tablename"] for row in rows}


async def _differences(url: str) -> list[object]:
    engine = create_async_engine(url.replace("postgresql://", "postgresql+asyncpg://", 1))
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata
                )
            )
    finally:
        await engine.dispose()


def _literals(sql: str) -> set[str]:
    return set(re.findall(r"'([^']*)'", sql))


async def _check_differences(url: str) -> dict[str, tuple[set[str], set[str]] | None]:
    """Check constraints whose quoted values differ between the models and the database
    (``compare_metadata`` leaves check constraints out); None: missing in the database."""
    async with connected(url) as connection:
        rows = await connection.fetch(
            "SELECT conname, pg_get_constraintdef(oid) AS definition FROM pg_constraint"
            " WHERE contype = 'c' AND connamespace = 'public'::regnamespace"
        )
    migrated = {row["conname"]: _literals(row["definition"]) for row in rows}
    differences: dict[str, tuple[set[str], set[str]] | None] = {}
    for table in Base.metadata.tables.values():
        for constraint in table.constraints:
            if not isinstance(constraint, CheckConstraint):
                continue
            name, modelled = str(constraint.name), _literals(str(constraint.sqltext))
            if name not in migrated:
                differences[name] = None
            elif migrated[name] != modelled:
                differences[name] = (modelled, migrated[name])
    return differences


@pytest.fixture
async def url(servers: Servers) -> AsyncIterator[str]:
    """An empty database of the test's own (no migration run yet), dropped after."""
    name = f"sn_test_migrations_{os.getpid()}"
    yield await create_database(servers.postgres_url, name)
    await drop_database(servers.postgres_url, name)


async def test_upgrade_downgrade_and_agreement_with_the_models(url: str) -> None:

    await alembic(url, "upgrade", "head")
    assert set(Base.metadata.tables) <= await _tables(url)
    assert await _differences(url) == []
    assert await _check_differences(url) == {}

    await alembic(url, "downgrade", "base")
    assert await _tables(url) == {"alembic_version"}

    await alembic(url, "upgrade", "head")
    assert await _differences(url) == []


async def test_downgrading_below_missing_makes_missing_numbers_active_again(
    url: str,
) -> None:
    await alembic(url, "upgrade", "head")
    async with connected(url) as connection:
        await connection.execute(
            "INSERT INTO numbers (number, country, payment_interval, state, missing_since)"
            " VALUES ('4915112345001', 'DE', 'monthly', 'missing', now())"
        )
        run = await connection.fetchval(
            "INSERT INTO sync_runs (id, status) VALUES (gen_random_uuid(), 'succeeded')"
            " RETURNING id"
        )
        await connection.execute(
            "INSERT INTO sync_drift (run_id, number, kind) VALUES ($1, '4915112345001', 'missing'),"
            " ($1, '4915112345001', 'changed')",
            run,
        )

    await alembic(url, "downgrade", "0007_operation_write_facts")

    async with connected(url) as connection:
        assert await connection.fetchval("SELECT state FROM numbers") == "active"
        assert [r["kind"] for r in await connection.fetch("SELECT kind FROM sync_drift")] == [
            "changed"
        ]
    await alembic(url, "upgrade", "head")
    assert await _check_differences(url) == {}


async def test_upgrading_to_handover_clears_what_released_holders_left_and_rests_pools_a_week(
    url: str,
) -> None:
    await alembic(url, "upgrade", "0008_numbers_missing")
    left, clean, held, busy, deleted = (f"49151123450{i:02d}" for i in range(5))
    forwarding = '{"sms": {"number": ["4917612345678"], "enabled": true}}'
    async with connected(url) as connection:
        tenant = await connection.fetchval(
            "INSERT INTO tenants (id, name) VALUES (gen_random_uuid(), 'alpha') RETURNING id"
        )
        await connection.execute(
            "INSERT INTO pools (id, name, cooldown_days) VALUES"
            " (gen_random_uuid(), 'zero', 0), (gen_random_uuid(), 'three', 3)"
        )
        await connection.execute(
            "INSERT INTO numbers (number, country, payment_interval, state, forward_sms_mo,"
            " friendly_name, tenant_id) VALUES"
            " ($1, 'DE', 'monthly', 'active', $6::jsonb, '', NULL),"
            " ($2, 'DE', 'monthly', 'active', '{}'::jsonb, '', NULL),"
            " ($3, 'DE', 'monthly', 'active', $6::jsonb, '', $7),"
            " ($4, 'DE', 'monthly', 'active', '{}'::jsonb, 'alpha 2FA', NULL),"
            " ($5, 'DE', 'monthly', 'deleted', '{}'::jsonb, '', NULL)",
            left,
            clean,
            held,
            busy,
            deleted,
            forwarding,
            tenant,
        )
        for number in (left, clean, busy, deleted):
            await connection.execute(
                "INSERT INTO allocations (id, number, tenant_id, allocated_at, released_at,"
                " available_at) VALUES (gen_random_uuid(), $1, $2, now() - interval '9 days',"
                " now() - interval '8 days', now() - interval '8 days')",
                number,
                tenant,
            )
        await connection.execute(
            "INSERT INTO allocations (id, number, tenant_id) VALUES (gen_random_uuid(), $1, $2)",
            held,
            tenant,
        )
        pending = await connection.fetchval(
            "INSERT INTO operations (id, kind, number) VALUES (gen_random_uuid(), 'update', $1)"
            " RETURNING id",
            busy,
        )
        await connection.execute(
            "UPDATE numbers SET pending_operation_id = $1 WHERE number = $2", pending, busy
        )

    await alembic(url, "upgrade", "head")

    async with connected(url) as connection:
        pools = await connection.fetch("SELECT name, cooldown_days FROM pools ORDER BY name")
        assert [(p["name"], p["cooldown_days"]) for p in pools] == [("three", 3), ("zero", 7)]
        rows = {
            row["number"]: row
            for row in await connection.fetch(
                "SELECT number, handover, handover_operation_id, pending_operation_id FROM numbers"
            )
        }
        assert {number: row["handover"] for number, row in rows.items()} == {
            left: "clearing",
            clean: None,
            held: None,
            busy: "uncleared",
            deleted: "uncleared",
        }
        queued = await connection.fetch("SELECT * FROM operations WHERE id <> $1", pending)
        assert len(queued) == 1
        clearing = queued[0]
        assert (clearing["kind"], clearing["status"], clearing["number"]) == (
            "update",
            "queued",
            left,
        )
        assert json.loads(clearing["params"]) == {
            "friendly_name": "",
            "sms_forward": [],
            "email_forward": [],
            "slack_forward": [],
        }
        assert clearing["tenant_id"] == tenant
        assert rows[left]["pending_operation_id"] == rows[left]["handover_operation_id"]
        assert rows[left]["pending_operation_id"] == clearing["id"]
    await alembic(url, "downgrade", "0008_numbers_missing")
    await alembic(url, "upgrade", "head")
    assert await _check_differences(url) == {}


async def test_upgrading_names_the_actor_of_every_earlier_audit_row(url: str) -> None:
    await alembic(url, "upgrade", "0009_handover_clearing")
    async with connected(url) as connection:
        await connection.execute(
            "INSERT INTO audit_log (api_key_id, scope, action, request_id, outcome) VALUES"
            " (gen_random_uuid(), 'admin', 'by key', 'r1', 'ok'),"
            " (NULL, 'admin', 'by bootstrap', 'r2', 'ok'),"
            " (NULL, 'admin', 'by cli', 'cli:create-tenant', 'ok')"
        )

    await alembic(url, "upgrade", "head")

    async with connected(url) as connection:
        rows = await connection.fetch("SELECT action, actor FROM audit_log ORDER BY id")
        assert [tuple(row) for row in rows] == [
            ("by key", "key"),
            ("by bootstrap", "bootstrap"),
            ("by cli", "cli"),
        ]
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await connection.execute("UPDATE audit_log SET actor = 'cli'")


async def test_upgrading_to_entitlements_leaves_every_pool_open_to_all_tenants(url: str) -> None:
    await alembic(url, "upgrade", "0011_events")
    async with connected(url) as connection:
        await connection.execute(
            "INSERT INTO pools (id, name) VALUES (gen_random_uuid(), 'a'), (gen_random_uuid(), 'b')"
        )

    await alembic(url, "upgrade", "head")

    async with connected(url) as connection:
        pools = await connection.fetch("SELECT name, all_tenants FROM pools ORDER BY name")
        assert [tuple(pool) for pool in pools] == [("a", True), ("b", True)]
        assert await connection.fetchval("SELECT count(*) FROM pool_tenants") == 0
        assert await connection.fetchval("SELECT count(*) FROM numbers") == 0
        # A lock without who set it is refused: the read could not name them.
        await connection.execute(
            "INSERT INTO numbers (number, country, payment_interval, state) VALUES"
            " ('4915112345001', 'DE', 'monthly', 'active')"
        )
        with pytest.raises(asyncpg.CheckViolationError):
            await connection.execute("UPDATE numbers SET deletion_locked_at = now()")
    await alembic(url, "downgrade", "0011_events")
    await alembic(url, "upgrade", "head")
    assert await _check_differences(url) == {}
