"""A ``numbers`` row as the API's cache reads it (its columns and ``version``), without
a database: for the tests of app.numbers.cache and its columns."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

_DEFAULTS: dict[str, Any] = {
    "version": 1,
    "country": "DE",
    "state": "active",
    "tenant_id": None,
    "pool_id": None,
    "friendly_name": "",
    "feature_sms": False,
    "feature_a2p_sms": False,
    "feature_voice": False,
    "tags": {},
}


def number_row(number: str, **fields: Any) -> SimpleNamespace:
    """``number``'s row: an active German number of nobody's, unless ``fields`` say."""
    return SimpleNamespace(number=number, **(_DEFAULTS | fields))
