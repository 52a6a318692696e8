"""Operator CLI: ``numbers lock``/``unlock`` and ``pools tenants``, through the same verbs
as the API (audited as the CLI)."""

from __future__ import annotations

from sqlalchemy import select

from app.db.models import AuditEntry
from app.settings import Settings
from tests.support import tenancy
from tests.support.api import Client, Headers
from tests.support.cli import cli_output, run_cli


async def test_numbers_lock_and_unlock(
    client: Client, admin_headers: Headers, settings: Settings, sessions: tenancy.Sessions
) -> None:
    [number] = await tenancy.seed_numbers(sessions, tenancy.german_numbers(1))

    locked = await cli_output(settings, "numbers", "lock", number, "--reason", "audit hold")
    assert locked == f"{number} locked against deletion by the operator CLI"
    refused = await client.delete(f"/v1/numbers/{number}", headers=admin_headers)
    assert (refused.status_code, refused.json()["code"]) == (409, "deletion_locked")
    assert "the operator CLI" in refused.json()["message"]
    assert "audit hold" in refused.json()["message"]

    assert await cli_output(settings, "numbers", "unlock", number) == f"{number} may be deleted"
    deleted = await client.delete(f"/v1/numbers/{number}", headers=admin_headers)
    assert deleted.status_code == 202, deleted.text

    gone = await run_cli(settings, "numbers", "lock", "4915199999999")
    assert gone.exit_code == 1 and "number_not_found" in gone.output
    async with sessions() as session:
        rows = (
            await session.execute(
                select(AuditEntry.action, AuditEntry.actor, AuditEntry.outcome)
                .where(AuditEntry.action.in_(["number.lock", "number.unlock"]))
                .order_by(AuditEntry.id)
            )
        ).all()
    assert [tuple(row) for row in rows] == [
        ("number.lock", "cli", "ok"),
        ("number.unlock", "cli", "ok"),
        ("number.lock", "cli", "number_not_found"),
    ]


async def test_pools_tenants_shows_and_sets_who_may_use_a_pool(
    client: Client, admin_headers: Headers, settings: Settings
) -> None:
    alpha, _ = await tenancy.create_tenant(client, admin_headers, "alpha")
    pool = await tenancy.create_pool(client, admin_headers)

    assert await cli_output(settings, "pools", "tenants", pool) == (
        f"pool {pool} is open to every tenant"
    )
    listed = await cli_output(settings, "pools", "tenants", pool, "--tenant", alpha)
    assert listed.splitlines() == [f"pool {pool} is open to 1 tenant(s)", f"{alpha}\talpha"]
    shown = await client.get(f"/v1/pools/{pool}/tenants", headers=admin_headers)
    assert shown.json()["tenants"] == [{"id": alpha, "name": "alpha"}]
    closed = await cli_output(settings, "pools", "tenants", pool, "--none")
    assert closed == f"pool {pool} is open to 0 tenant(s)"
    assert await cli_output(settings, "pools", "tenants", pool, "--all") == (
        f"pool {pool} is open to every tenant"
    )

    both = await run_cli(settings, "pools", "tenants", pool, "--all", "--tenant", alpha)
    assert both.exit_code == 1 and "conflicting_fields" in both.output
    unknown = await run_cli(settings, "pools", "tenants", pool, "--tenant", pool)
    assert unknown.exit_code == 1 and "unknown_tenant" in unknown.output
