"""A request's session: the handler's writes commit once when it returns, and roll back
when it ends in an error answer (app.lib.dependencies.provide_db_session)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar, get, post
from litestar.testing import AsyncTestClient
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from app.db.models import Tenant
from app.lib.dependencies import provide_all
from app.lib.error_answers import EXCEPTION_HANDLERS
from app.lib.errors import Conflict
from app.settings import Settings
from tests.support.tenancy import session_factory

NAMES = ("written-and-kept", "written-then-refused")


@post("/tenants/{name:str}", status_code=201)
async def add_tenant(db_session: AsyncSession, name: str) -> None:
    """Writes as a service does (flushing, never committing), then refuses one name."""
    db_session.add(Tenant(name=name))
    await db_session.flush()
    if name == NAMES[1]:
        raise Conflict("refused after writing", code="refused")


@get("/tenants")
async def tenant_names(db_session: AsyncSession) -> list[str]:
    return list(await db_session.scalars(select(Tenant.name)))


async def test_a_handlers_writes_commit_once_when_it_returns_and_roll_back_on_an_error(
    settings: Settings,
) -> None:
    commits: list[object] = []
    sync_points: list[None] = []

    def count(session: Session) -> None:
        commits.append(session)

    async def caught_up() -> None:
        sync_points.append(None)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        # Opened on the app's own event loop, as the service's lifespan opens Resources.
        async with session_factory(settings) as sessions:
            app.state.sessions = sessions
            app.state.caches_caught_up = caught_up
            yield

    app = Litestar(
        route_handlers=[add_tenant, tenant_names],
        lifespan=[lifespan],
        dependencies=provide_all(),
        exception_handlers=EXCEPTION_HANDLERS,
    )
    event.listen(Session, "after_commit", count)
    try:
        async with AsyncTestClient(app=app) as client:
            kept = await client.post(f"/tenants/{NAMES[0]}")
            assert (kept.status_code, len(commits)) == (201, 1), kept.text
            # It wrote: it answered after a sync point of the process's caches.
            assert len(sync_points) == 1
            refused = await client.post(f"/tenants/{NAMES[1]}")
            assert (refused.status_code, refused.json()["code"]) == (409, "refused")
            assert (len(commits), len(sync_points)) == (1, 1)
            # A read waits for nothing.
            assert (await client.get("/tenants")).status_code == 200
            assert len(sync_points) == 1
    finally:
        event.remove(Session, "after_commit", count)
    async with session_factory(settings) as sessions, sessions() as session:
        stored = await session.scalars(select(Tenant.name).where(Tenant.name.in_(NAMES)))
        assert list(stored) == [NAMES[0]]
