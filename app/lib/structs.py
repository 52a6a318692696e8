"""A database row as the struct an endpoint answers with."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

S = TypeVar("S", bound=msgspec.Struct)


def from_row(struct: type[S], row: object, **values: Any) -> S:
    """``struct`` with each field read from the attribute of ``row`` of the same name, but
    for the fields given in ``values`` (a renamed column such as ``tenant_id``, or a value
    the row does not hold)."""
    fields = {name: getattr(row, name) for name in struct.__struct_fields__ if name not in values}
    return struct(**fields, **values)
