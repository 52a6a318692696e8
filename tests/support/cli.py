"""The operator CLI (``python -m app.cli``) run in-process against the test's servers."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from click.testing import Result
from typer.testing import CliRunner

from app.cli import cli
from app.settings import Settings


async def run_cli(
    settings: Settings, *args: str, env: Mapping[str, str | None] | None = None
) -> Result:
    """In-process, in a thread: the CLI runs its own event loop. ``env`` replaces the
    test's servers as the environment's changes (None unsets a variable)."""
    if env is None:
        env = {"DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url}
    return await asyncio.to_thread(CliRunner().invoke, cli, list(args), env=env)


async def cli_output(settings: Settings, *args: str) -> str:
    """What a successful run printed, stripped."""
    result = await run_cli(settings, *args)
    assert result.exit_code == 0, result.output
    return result.stdout.strip()
