"""Who is calling: every /v1 request carries a key, resolved here to a Principal.

Keys are compared by their SHA-256 digest (the database stores nothing else), and
the bootstrap ``ADMIN_API_KEY`` with ``hmac.compare_digest``, so neither lookup
leaks the key through timing. No key or a wrong key is a 401.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from sqlalchemy import select

from app.db.models import ApiKey

Scope = Literal["admin", "tenant"]

# Paths that need no key: health, metrics and the schema (see the contract).
PUBLIC_PATHS = ("^/health", "^/metrics", "^/schema")


@dataclass(frozen=True, slots=True)
class Principal:
    scope: Scope
    key_id: uuid.UUID | None
    """None for the bootstrap ADMIN_API_KEY, which has no row."""
    tenant_id: uuid.UUID | None

    @property
    def is_admin(self) -> bool:
        return self.scope == "admin"


BOOTSTRAP_ADMIN = Principal(scope="admin", key_id=None, tenant_id=None)


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def key_from_headers(headers: Any) -> str | None:
    key = headers.get("x-api-key")
    if key:
        return str(key).strip() or None
    authorization = headers.get("authorization", "")
    scheme, _, value = str(authorization).partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


class ApiKeyAuthentication(AbstractAuthenticationMiddleware):
    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        key = key_from_headers(connection.headers)
        if key is None:
            raise NotAuthorizedException("An API key is required: send it as X-Api-Key.")
        state = connection.app.state
        admin_key: str | None = state.settings.admin_api_key
        if admin_key is not None and hmac.compare_digest(key.encode(), admin_key.encode()):
            return AuthenticationResult(user=BOOTSTRAP_ADMIN, auth=None)
        principal = await _principal_for(state.sessions, key)
        if principal is None:
            raise NotAuthorizedException("The API key is not valid or has been revoked.")
        return AuthenticationResult(user=principal, auth=principal.key_id)


async def _principal_for(sessions: Any, key: str) -> Principal | None:
    async with sessions() as session:
        row = (
            await session.execute(
                select(ApiKey.id, ApiKey.scope, ApiKey.tenant_id).where(
                    ApiKey.key_hash == hash_key(key), ApiKey.revoked_at.is_(None)
                )
            )
        ).first()
    if row is None:
        return None
    return Principal(scope=row.scope, key_id=row.id, tenant_id=row.tenant_id)
