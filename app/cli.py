"""Operator commands: ``python -m app.cli COMMAND``, e.g. ``create-admin-key --name alice``.

They call the same services as the API (app.tenants.service), so a key made here is
stored, audited and revoked exactly like one made over HTTP. Audit rows name no key
(the operator acts at the console, as the bootstrap admin does over HTTP); the request
id is ``cli:<command>``. A key's plaintext is printed once, on stdout, and nowhere else.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from dotenv import dotenv_values
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import Actor
from app.db.engine import create_engine, create_session_factory
from app.lib.auth import BOOTSTRAP_ADMIN
from app.lib.errors import ServiceError
from app.settings import SettingsError, database_url_from
from app.tenants import service

T = TypeVar("T")

cli = typer.Typer(help="seven-numbers operator commands.", no_args_is_help=True)


def _run(command: str, work: Callable[[AsyncSession, Actor], Awaitable[T]]) -> T:
    """Run one service verb in its own session; a refusal is one line and exit code 1."""
    try:
        # Like the service: the environment first, a .env file for what it lacks.
        env = {**dotenv_values(".env"), **os.environ}
        database_url = database_url_from({k: v for k, v in env.items() if v is not None})
    except SettingsError as error:
        typer.echo(f"seven-numbers: {error}", err=True)
        raise typer.Exit(2) from None

    async def main() -> T:
        engine = create_engine(database_url, pool_size=1)
        try:
            async with create_session_factory(engine)() as session:
                return await work(session, Actor(BOOTSTRAP_ADMIN, request_id=f"cli:{command}"))
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except ServiceError as error:
        typer.echo(f"refused ({error.code}): {error.message}", err=True)
        raise typer.Exit(1) from None


@cli.command("create-admin-key")
def create_admin_key(
    name: Annotated[str, typer.Option(help="Whose key it is, e.g. a person's name.")] = "",
) -> None:
    """Create an admin key and print it (once: it cannot be shown again)."""
    row, plaintext = _run(
        "create-admin-key", lambda s, a: service.issue_key(s, a, "admin", None, name)
    )
    typer.echo(plaintext)
    typer.echo(f"key id {row.id} (keep the key above; only its hash is stored)", err=True)


@cli.command("create-tenant")
def create_tenant(name: Annotated[str, typer.Argument(help="The tenant's unique name.")]) -> None:
    """Create a tenant and print its id."""
    tenant = _run("create-tenant", lambda s, a: service.create_tenant(s, a, name))
    typer.echo(tenant.id)


@cli.command("issue-key")
def issue_key(
    tenant: Annotated[uuid.UUID, typer.Argument(help="The tenant's id.")],
    name: Annotated[str, typer.Option(help="What the key is for.")] = "",
) -> None:
    """Issue a key bound to a tenant and print it (once)."""
    row, plaintext = _run("issue-key", lambda s, a: service.issue_key(s, a, "tenant", tenant, name))
    typer.echo(plaintext)
    typer.echo(f"key id {row.id}", err=True)


@cli.command("revoke-key")
def revoke_key(key_id: Annotated[uuid.UUID, typer.Argument(help="The key's id.")]) -> None:
    """Revoke a key; its next request answers 401."""
    row = _run("revoke-key", lambda s, a: service.revoke_key(s, a, key_id))
    typer.echo(f"revoked {row.id} at {row.revoked_at.isoformat() if row.revoked_at else '?'}")


if __name__ == "__main__":
    cli()
