"""``Idempotency-Key``: the same key and request return the first operation, once.

The key is stored on the operation it created (``operations.idempotency_key``, unique)
together with a SHA-256 of the canonical request (method, path, normalized body), so
``+49 151 ...`` and ``49151...`` are the same request. Keys are scoped to the calling
API key (stored as ``<caller>:<key>``): two services that happen to pick the same key
never see each other's operations. Operations are never deleted, so a key is honoured
forever, which is more than the 24 hours the contract promises.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Operation
from app.db.vocabulary import KeyScope
from app.lib.auth import Principal
from app.lib.errors import InvalidInput
from app.lib.params import invalid

HEADER = "Idempotency-Key"
# Printable ASCII without spaces: UUIDs, ULIDs and the like, nothing that needs escaping.
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
_ENCODER = msgspec.json.Encoder(order="sorted")


def scoped_key(principal: Principal, key: str | None) -> str | None:
    """The stored form of the caller's key, or None when the request carries none."""
    if key is None:
        return None
    if not _KEY.match(key):
        raise invalid(
            HEADER,
            key,
            "1 to 255 printable ASCII characters without spaces",
            code="invalid_idempotency_key",
        )
    # The bootstrap key and the CLI (admins without a stored key) share one scope.
    caller = str(principal.key_id) if principal.key_id else KeyScope.ADMIN
    return f"{caller}:{key}"


def request_hash(method: str, path: str, body: dict[str, Any]) -> str:
    canonical = _ENCODER.encode({"method": method, "path": path, "body": body})
    return hashlib.sha256(canonical).hexdigest()


async def replayed(session: AsyncSession, key: str | None, fingerprint: str) -> Operation | None:
    """The operation an earlier request with this key created; 422 if it asked otherwise."""
    if key is None:
        return None
    found = await session.scalar(select(Operation).where(Operation.idempotency_key == key))
    if found is not None and found.request_hash != fingerprint:
        raise InvalidInput(
            f"This {HEADER} was already used for a different request; use a new key for a "
            "new request.",
            code="idempotency_key_reused",
            details={"operation": str(found.id)},
        )
    return found
