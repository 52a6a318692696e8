"""Console sessions: sign in with an API key, find the caller of a request, sign out.

The cookie holds only an opaque random id; the row stores its SHA-256 digest, so a read of
the table hands out no session. Each request through a session checks the key again (as
``/v1`` does on every request), so a revoked key, or a rotated ``ADMIN_API_KEY``, ends its
sessions at once.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit.service import audited
from app.db.models import ApiKey, ConsoleSession
from app.db.vocabulary import KeyScope
from app.lib.auth import BOOTSTRAP_ADMIN, Actor, Principal, hash_key, principal_for_key

SESSION_ID_BYTES = 32
CSRF_BYTES = 32


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A live session: who it acts as and the CSRF token its forms must carry."""

    principal: Principal
    csrf_token: str


@dataclass(frozen=True, slots=True)
class Opened:
    session_id: str
    """The cookie's value: shown to the browser once, stored only as its digest."""
    signed_in: SignedIn


async def sign_in(
    sessions: async_sessionmaker[AsyncSession],
    key: str,
    admin_key: str | None,
    lifetime: timedelta,
) -> Opened | None:
    """A new session for ``key``, or None when the key is unknown or revoked."""
    if admin_key is not None and hmac.compare_digest(key.encode(), admin_key.encode()):
        principal: Principal | None = BOOTSTRAP_ADMIN
    else:
        principal = await principal_for_key(sessions, key)
    if principal is None:
        return None
    session_id = secrets.token_urlsafe(SESSION_ID_BYTES)
    csrf_token = secrets.token_urlsafe(CSRF_BYTES)
    async with sessions() as session:
        # Expired sessions go when someone signs in: nothing else reads them.
        await session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at <= func.now()))
        session.add(
            ConsoleSession(
                id_hash=hash_key(session_id),
                key_id=principal.key_id,
                key_hash=hash_key(key),
                csrf_token=csrf_token,
                expires_at=func.now() + lifetime,
            )
        )
        await session.commit()
    return Opened(session_id, SignedIn(principal, csrf_token))


async def signed_in(
    sessions: async_sessionmaker[AsyncSession], session_id: str, admin_key: str | None
) -> SignedIn | None:
    """The live session ``session_id`` names, its key still valid; else None."""
    async with sessions() as session:
        row = (
            await session.execute(
                select(ConsoleSession, ApiKey.scope, ApiKey.tenant_id, ApiKey.revoked_at)
                .outerjoin(ApiKey, ApiKey.id == ConsoleSession.key_id)
                .where(
                    ConsoleSession.id_hash == hash_key(session_id),
                    ConsoleSession.expires_at > func.now(),
                )
            )
        ).first()
    if row is None:
        return None
    stored, scope, tenant_id, revoked_at = row
    if stored.key_id is None:
        # The bootstrap key has no row: the session holds while ADMIN_API_KEY is unchanged.
        if admin_key is None or not hmac.compare_digest(stored.key_hash, hash_key(admin_key)):
            return None
        return SignedIn(BOOTSTRAP_ADMIN, stored.csrf_token)
    if revoked_at is not None:
        return None
    principal = Principal(scope=KeyScope(scope), key_id=stored.key_id, tenant_id=tenant_id)
    return SignedIn(principal, stored.csrf_token)


async def sign_out(sessions: async_sessionmaker[AsyncSession], session_id: str) -> None:
    async with sessions() as session:
        await session.execute(
            delete(ConsoleSession).where(ConsoleSession.id_hash == hash_key(session_id))
        )
        await session.commit()


async def end_all(session: AsyncSession, actor: Actor) -> int:
    """End every console session (say, after a cookie may have leaked); how many ended."""
    async with audited(session, actor, "console.end_sessions") as note:
        result = await session.execute(delete(ConsoleSession))
        ended: int = result.rowcount  # type: ignore[attr-defined]
        note.details["sessions"] = ended
    return ended
