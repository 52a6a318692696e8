"""Tags: the labels (key -> value) numbers and tenants carry, and the one rule for them.

A key is 1 to 64 of ``a-z 0-9 _ . -`` (no ``:``, so ``key:value`` in a query splits at
the first colon and a value may hold colons); a value is 1 to 200 characters; at most 50
tags. Every refusal is 422 ``invalid_tags`` (in a body) or ``invalid_tag`` (the list's
filter), in the one error shape.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated

import msgspec

from app.lib.params import invalid

MAX_TAGS = 50
MAX_KEY_LENGTH = 64
MAX_VALUE_LENGTH = 200
KEY_PATTERN = rf"[a-z0-9_.-]{{1,{MAX_KEY_LENGTH}}}"
_KEY = re.compile(KEY_PATTERN, re.ASCII)
EXPECTED_TAGS = (
    f"a JSON object of at most {MAX_TAGS} tags, each key 1 to {MAX_KEY_LENGTH} of a-z 0-9 _ . -"
    f" and each value a string of 1 to {MAX_VALUE_LENGTH} characters"
)
EXPECTED_TAG_FILTER = (
    f"key:value or key, the key 1 to {MAX_KEY_LENGTH} of a-z 0-9 _ . - and the value 1 to"
    f" {MAX_VALUE_LENGTH} characters"
)

#: Tags as a body carries them; :func:`checked_tags` applies the rule.
Tags = Annotated[
    dict[str, str],
    msgspec.Meta(
        description=(
            f"Key -> value. Keys: 1 to {MAX_KEY_LENGTH} of a-z 0-9 _ . -; values: 1 to"
            f" {MAX_VALUE_LENGTH} characters; at most {MAX_TAGS} tags"
        ),
        examples=[{"cost_center": "crm", "owner": "billing-team"}],
    ),
]


def is_key(key: str) -> bool:
    return _KEY.fullmatch(key) is not None


def checked_tags(tags: Mapping[str, str], parameter: str = "tags") -> dict[str, str]:
    """``tags`` when every key and value keeps the rule; else 422 ``invalid_tags``."""
    if len(tags) > MAX_TAGS:
        raise invalid(parameter, f"{len(tags)} tags", EXPECTED_TAGS, reason="too many tags")
    for key, value in tags.items():
        if not is_key(key):
            raise invalid(parameter, key, EXPECTED_TAGS, reason="not a key")
        if not 1 <= len(value) <= MAX_VALUE_LENGTH:
            raise invalid(parameter, value, EXPECTED_TAGS, reason=f"the value of {key}")
    return dict(tags)


@dataclass(frozen=True, slots=True)
class TagFilter:
    """One ``tag=`` of a list: the key, and the value it must have (None: any value)."""

    key: str
    value: str | None = None


def parse_tag_filters(raw: Iterable[str] | None, parameter: str = "tag") -> tuple[TagFilter, ...]:
    """Repeatable ``tag=key:value`` (the tag has that value) or ``tag=key`` (it has the
    key); all must hold."""
    filters = []
    for item in raw or ():
        key, colon, value = item.partition(":")
        if not is_key(key) or (colon and not 1 <= len(value) <= MAX_VALUE_LENGTH):
            raise invalid(parameter, item, EXPECTED_TAG_FILTER)
        filters.append(TagFilter(key, value if colon else None))
    return tuple(filters)
