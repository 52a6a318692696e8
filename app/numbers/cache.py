"""The mirror's numbers as this API process last read them, already encoded.

Postgres stays the truth: an entry is only ever a committed row read from the mirror
(loaded in bulk by the listener, or by a read that missed), and it is dropped as soon
as PostgreSQL announces a change to that number (migration 0006's triggers, heard by
:mod:`app.numbers.listener`). The rules that keep it exact (served only while LISTEN is
in place, never storing a row read across a notice) are :class:`NoticedCache`'s.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from app.lib.notice_cache import FORGET_LOG_SIZE, NoticedCache

__all__ = ["FORGET_LOG_SIZE", "CachedNumber", "NumberCache"]


@dataclass(frozen=True, slots=True)
class CachedNumber:
    tenant_id: uuid.UUID | None
    """The holder, for the tenancy check each read applies (app.lib.tenancy.may_see)."""
    body: bytes
    """The ``NumberOut`` document, encoded once."""
    version: int
    """The row version it was encoded from (PostgreSQL's ``xmin``): a list page, which
    reads the versions of its rows, uses the body only when they are the same."""


class NumberCache(NoticedCache[str, CachedNumber]):
    """Mirror rows by number (digits)."""

    def put_number(
        self, ticket: int, number: str, tenant_id: uuid.UUID | None, body: bytes, version: int
    ) -> None:
        self.put(ticket, number, CachedNumber(tenant_id, body, version))
