"""What an operation was asked to do: the ``params`` column, typed by the operation's kind.

A union tagged by ``operations.kind``: the tag is the row's own column, so ``params``
holds neither it nor anything else the row holds (the number, the tenant). The shapes
stored so far, each still read by :func:`params_of`:

* ``order``: ``payment_interval``, ``friendly_name``, ``pool``. Orders stored before the
  tenant left ``params`` also hold ``tenant``, always equal to the row's ``tenant_id``
  (both were written from one value); decoding ignores it, so such rows need no rewrite.
* ``update``: seven's PATCH body (:class:`NumberUpdate`), only the settings to change; a
  clearing of what a holder set (app.pools.handover, migration 0009) empties all four.
* ``delete``: ``delete_immediately``.
* ``sync``: ``force``, left out when false.
* ``bulk_order``: ``country``, ``features``, ``count``, ``payment_interval``, ``pool``
  (each child is an ``order`` of one number; the tenant is the row's).
* ``bulk_update``: ``changes`` (an ``update``'s params, given to each child) and the
  filter, ``pool`` and ``tenant`` (the numbers' holder).
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec

from app.db.models import Operation
from app.db.vocabulary import OperationKind
from app.seven.types import NumberUpdate, PaymentInterval


class OrderParams(msgspec.Struct, frozen=True):
    # Every stored order holds it (params were always written whole): no default.
    payment_interval: PaymentInterval
    # seven's order takes no name: the worker sets it once the number is active.
    friendly_name: str | None = None
    pool: uuid.UUID | None = None


class DeleteParams(msgspec.Struct, frozen=True):
    delete_immediately: bool = False


class SyncParams(msgspec.Struct, frozen=True, omit_defaults=True):
    force: bool = False
    """Apply the run past the removal guard (app.sync.diff.RemovalsRefused)."""


class BulkOrderParams(msgspec.Struct, frozen=True):
    country: str
    count: int
    payment_interval: PaymentInterval
    features: tuple[str, ...] = ()
    """Features every number must have (seven's search filters only on "must have")."""
    pool: uuid.UUID | None = None


class BulkUpdateParams(msgspec.Struct, frozen=True):
    changes: NumberUpdate
    pool: uuid.UUID | None = None
    tenant: uuid.UUID | None = None
    """The numbers' holder (for a tenant key, always its own tenant)."""
    tags: tuple[tuple[str, str | None], ...] = ()
    """``tag=`` filters as (key, value or None for "has the key"); all must hold."""


OperationParams = (
    OrderParams | NumberUpdate | DeleteParams | SyncParams | BulkOrderParams | BulkUpdateParams
)

_BY_KIND: dict[str, type[OperationParams]] = {
    OperationKind.ORDER: OrderParams,
    OperationKind.UPDATE: NumberUpdate,
    OperationKind.DELETE: DeleteParams,
    OperationKind.SYNC: SyncParams,
    OperationKind.BULK_ORDER: BulkOrderParams,
    OperationKind.BULK_UPDATE: BulkUpdateParams,
}


_KIND_OF = {struct: kind for kind, struct in _BY_KIND.items()}


def params_of(operation: Operation) -> OperationParams:
    """The operation's params as the struct of its kind."""
    return msgspec.convert(operation.params, _BY_KIND[operation.kind])


def kind_of(params: OperationParams) -> OperationKind:
    """The kind of operation ``params`` are for (the tag the row stores as ``kind``)."""
    return OperationKind(_KIND_OF[type(params)])


def stored(params: OperationParams) -> dict[str, Any]:
    """``params`` as the ``params`` column holds it (and ``GET /v1/operations`` shows it)."""
    builtins: dict[str, Any] = msgspec.to_builtins(params)
    return builtins
