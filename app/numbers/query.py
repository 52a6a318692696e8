"""What a ``GET /v1/numbers`` request asks for, read the same way by the database's page
(app.numbers.service) and the cache's (app.numbers.memory_pages)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from app.lib.pagination import PageQuery
from app.lib.tags import TagFilter

# What people put between the digits of a number; stripped before matching ``number``.
_NUMBER_SEPARATORS = str.maketrans("", "", " +-./()")
MAX_Q_LENGTH = 200


@dataclass(frozen=True, slots=True)
class NumberQuery:
    """A validated ``GET /v1/numbers`` request."""

    page: PageQuery
    country: str | None = None
    features: Mapping[str, bool] = field(default_factory=dict)
    """By feature: True, the number must have it; False, must not."""
    tenant: uuid.UUID | None = None
    pool: uuid.UUID | None = None
    state: str | None = None
    q: str | None = None
    """A case-insensitive substring of the friendly name, or of the number when
    :func:`q_digits` gives its digits."""
    tags: tuple[TagFilter, ...] = ()
    """Each must hold: the number has the tag (with the value, when one is given)."""


def q_digits(q: str) -> str | None:
    """``q`` as the digits of a number (``+49 151`` -> ``49151``), when it is one."""
    digits = q.translate(_NUMBER_SEPARATORS)
    return digits if digits.isdigit() else None
