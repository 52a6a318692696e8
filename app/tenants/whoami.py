"""``GET /v1/whoami``: which key is calling, so a caller can check its key works."""

from __future__ import annotations

import uuid

import msgspec
from litestar import get

from app.db.vocabulary import KeyScope
from app.lib.auth import Principal


class WhoAmI(msgspec.Struct):
    scope: KeyScope
    key_id: uuid.UUID | None
    tenant_id: uuid.UUID | None


@get("/whoami", summary="The calling key's scope and tenant", tags=["keys"])
async def whoami(principal: Principal) -> WhoAmI:
    return WhoAmI(scope=principal.scope, key_id=principal.key_id, tenant_id=principal.tenant_id)
