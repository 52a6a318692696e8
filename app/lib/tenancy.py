"""Tenant isolation in one place: every query over numbers passes through here.

An admin key sees every number; a tenant key only the numbers allocated to its
tenant. Anything else must look absent (404, never 403), so callers put this
condition into the query itself instead of checking a row after loading it.
Operations, allocations and costs use the same function, so the rule cannot drift.
The one exception is a row already in memory (app.numbers.cache, shared by every
caller of the process): :func:`may_see` states the same rule in Python, beside it.
"""

from __future__ import annotations

import uuid
from typing import TypeVar

from sqlalchemy import ColumnElement, Select, false, true

from app.db.models import Number
from app.lib.auth import Principal

_S = TypeVar("_S", bound=Select)


def visible_numbers(principal: Principal) -> ColumnElement[bool]:
    """The condition a ``numbers`` row must meet to be visible to ``principal``."""
    if principal.is_admin:
        return true()
    if principal.tenant_id is None:
        # Cannot happen (a check constraint binds tenant keys to a tenant); fail closed.
        return false()
    return Number.tenant_id == principal.tenant_id


def may_see(principal: Principal, tenant_id: uuid.UUID | None) -> bool:
    """:func:`visible_numbers` for a row held in memory whose holder is ``tenant_id``."""
    if principal.is_admin:
        return True
    # A tenant key without a tenant cannot happen (see above); it sees nothing.
    return principal.tenant_id is not None and tenant_id == principal.tenant_id


def scope_numbers(stmt: _S, principal: Principal) -> _S:
    """``stmt`` (a select over ``numbers``) narrowed to what ``principal`` may see.

    An admin's statement comes back as it was, so a statement built once at import
    stays the same object (no per-request rebuilding on the hot read path).
    """
    if principal.is_admin:
        return stmt
    return stmt.where(visible_numbers(principal))
