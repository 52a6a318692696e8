"""A cached number: what one API process keeps of a mirror row, beside its encoded body."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Mapping
from typing import Any, NamedTuple

import msgspec

FEATURES = ("sms", "a2p_sms", "voice")
# One frozenset per combination of features, and one object per holder and pool, each
# shared by every entry that has it (a row read brings its own copies).
_FEATURE_SETS: dict[frozenset[str], frozenset[str]] = {}
_IDS: dict[uuid.UUID, uuid.UUID] = {}


def _shared(value: uuid.UUID | None) -> uuid.UUID | None:
    return None if value is None else _IDS.setdefault(value, value)


# Not tracked by the garbage collector (gc=False): an entry refers to no container that
# could lead back to it, and a million tracked entries made every full collection walk
# them all (a pause of ~3 ms per 1,000 entries held, while loading and after).
class CachedNumber(msgspec.Struct, frozen=True, gc=False):
    tenant_id: uuid.UUID | None
    """The holder, for the tenancy check each read applies (app.lib.tenancy.may_see)."""
    body: bytes
    """The ``NumberOut`` document, encoded once."""
    version: int
    """The row version it was encoded from (PostgreSQL's ``xmin``): a list page read from
    the database uses the body only when its row is of the same version."""
    # What a list page's filters test, beside the body (which is never decoded):
    country: str
    state: str
    pool_id: uuid.UUID | None
    name: str | None
    """The friendly name in lower case when it is ASCII, else None: PostgreSQL's ILIKE
    lowers other letters by its locale, which Python cannot promise to do the same."""
    features: frozenset[str]
    tags: Mapping[str, Any] | None
    """None when there are none (most numbers)."""

    @classmethod
    def of(cls, row: Any, body: bytes) -> CachedNumber:
        """The entry for a ``numbers`` row (its columns and ``version``) and its body."""
        name = row.friendly_name or ""
        features = frozenset(
            feature
            for feature, has in zip(
                FEATURES, (row.feature_sms, row.feature_a2p_sms, row.feature_voice), strict=True
            )
            if has
        )
        return cls(
            tenant_id=_shared(row.tenant_id),
            body=body,
            version=row.version,
            country=sys.intern(row.country),
            state=sys.intern(row.state),
            pool_id=_shared(row.pool_id),
            name=name.lower() if name.isascii() else None,
            features=_FEATURE_SETS.setdefault(features, features),
            tags=row.tags or None,
        )


class Document(NamedTuple):
    """What a read serves of a held row: its holder (for the tenancy check), its row
    version and its encoded body."""

    tenant_id: uuid.UUID | None
    version: int
    body: bytes
