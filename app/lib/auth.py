"""Who is calling: every /v1 request carries a key, resolved here to a Principal (by the
API's middleware, app.lib.auth_middleware; this module knows no web framework).

Key format: ``sn_admin_`` or ``sn_tenant_`` (so a leaked key is recognisable, e.g. by
secret scanners) followed by 43 URL-safe characters holding 256 bits from ``secrets``.
The database stores only the SHA-256 digest; the lookup is by digest and the stored
digest is compared again with ``hmac.compare_digest``, and the bootstrap
``ADMIN_API_KEY`` is compared the same way, so no comparison leaks the key through
timing. No key, a wrong key or a revoked key is a 401.

Revocation takes effect on the next request, in every API process: a stored key is
looked up in Postgres (one indexed read) unless the process's key cache holds it, and
the cache drops a key on PostgreSQL's notice of its change, which a revocation waits
for (:class:`KeyCache`, app.lib.key_cache). ``last_used_at`` is written at most once per
``LAST_USED_INTERVAL`` per key and process, so reads do not turn into writes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.models import ApiKey
from app.db.vocabulary import AuditActor, KeyScope
from app.lib.notice_cache import NoticedCache

# Paths that need no key: health, metrics and the schema (see the contract), and seven's
# webhook, which cannot carry our key (its signature proves the sender instead).

KEY_PREFIXES = {KeyScope.ADMIN: "sn_admin_", KeyScope.TENANT: "sn_tenant_"}
KEY_SECRET_BYTES = 32  # 256 bits
# How much of a key is kept in clear (``prefix`` column) so people can tell keys apart.
SHOWN_SECRET_CHARS = 6
LAST_USED_INTERVAL = 60.0  # seconds


@dataclass(frozen=True, slots=True)
class Principal:
    scope: KeyScope
    key_id: uuid.UUID | None
    """None for the bootstrap ADMIN_API_KEY and the CLI, which have no row."""
    tenant_id: uuid.UUID | None
    actor: AuditActor = AuditActor.KEY
    """Who the principal is, as the audit trail names it."""

    @property
    def is_admin(self) -> bool:
        return self.scope == KeyScope.ADMIN


BOOTSTRAP_ADMIN = Principal(
    scope=KeyScope.ADMIN, key_id=None, tenant_id=None, actor=AuditActor.BOOTSTRAP
)
#: The operator at the console (``python -m app.cli``): an admin, on record as ``cli``.
CLI_ADMIN = Principal(scope=KeyScope.ADMIN, key_id=None, tenant_id=None, actor=AuditActor.CLI)


class KeyCache(NoticedCache[bytes, Principal]):
    """The stored keys' principals by digest, kept in step by app.lib.key_cache."""

    kind = "api_keys"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks for a change, and in which request (what an audit row records)."""

    principal: Principal
    request_id: str | None = None


# The caller of the request being handled, for code that records changes without being
# handed one (app.audit.capture). Set per request; each request runs in its own context.
current_actor: ContextVar[Actor | None] = ContextVar("current_actor", default=None)


@dataclass(frozen=True, slots=True)
class NewKey:
    """A freshly generated key: ``plaintext`` is shown once and then forgotten."""

    plaintext: str
    prefix: str
    digest: bytes


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def generate_key(scope: KeyScope) -> NewKey:
    plaintext = KEY_PREFIXES[scope] + secrets.token_urlsafe(KEY_SECRET_BYTES)
    shown = len(KEY_PREFIXES[scope]) + SHOWN_SECRET_CHARS
    return NewKey(plaintext=plaintext, prefix=plaintext[:shown], digest=hash_key(plaintext))


def key_from_headers(headers: Any) -> str | None:
    key = headers.get("x-api-key")
    if key:
        return str(key).strip() or None
    authorization = headers.get("authorization", "")
    scheme, _, value = str(authorization).partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


class LastUsedThrottle:
    """Remembers, per process, when each key's ``last_used_at`` was last written."""

    def __init__(self, interval: float = LAST_USED_INTERVAL) -> None:
        self.interval = interval
        self._written: dict[uuid.UUID, float] = {}

    def due(self, key_id: uuid.UUID) -> bool:
        now = time.monotonic()
        last = self._written.get(key_id)
        if last is not None and now - last < self.interval:
            return False
        self._written[key_id] = now
        return True


_last_used = LastUsedThrottle()


async def principal_for_key(
    sessions: async_sessionmaker[AsyncSession],
    key: str,
    *,
    cache: KeyCache | None = None,
    throttle: LastUsedThrottle = _last_used,
) -> Principal | None:
    """The principal a stored, unrevoked key stands for, or None.

    From ``cache`` when it holds the key (a dict lookup by digest: the digest, not the
    key, is what a timing difference could tell), else one read, kept in ``cache``
    unless a change to the key was announced meanwhile.
    """
    digest = hash_key(key)
    principal = cache.get(digest) if cache is not None else None
    if principal is None:
        ticket = cache.ticket() if cache is not None else 0
        principal = await _stored_principal(sessions, digest)
        if principal is None:
            return None
        if cache is not None:
            cache.put(ticket, digest, principal)
    if principal.key_id is not None and throttle.due(principal.key_id):
        async with sessions() as session:
            await session.execute(
                update(ApiKey).where(ApiKey.id == principal.key_id).values(last_used_at=func.now())
            )
            # Its own session, not the request's: the use is recorded even when the
            # request goes on to fail.
            await session.commit()
    return principal


async def _stored_principal(
    sessions: async_sessionmaker[AsyncSession], digest: bytes
) -> Principal | None:
    async with sessions() as session:
        row = (
            await session.execute(
                select(ApiKey.id, ApiKey.scope, ApiKey.tenant_id, ApiKey.key_hash).where(
                    ApiKey.key_hash == digest, ApiKey.revoked_at.is_(None)
                )
            )
        ).first()
    if row is None or not hmac.compare_digest(row.key_hash, digest):
        return None
    return Principal(scope=KeyScope(row.scope), key_id=row.id, tenant_id=row.tenant_id)
