"""Sync runs as callers see them (``GET /v1/sync/runs``, ``GET /v1/sync/runs/{id}``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import msgspec

from app.db.vocabulary import DriftKind, RunStatus
from app.lib.money import money

#: The drift fields that are money: stored as the mirror's ``numeric(12, 4)`` text
#: (``"4.9000"``), shown in the one money format (``"4.90"``).
DRIFT_MONEY_FIELDS = frozenset(
    f"billing.fees.{fee}" for fee in ("setup", "basic_charge", "sms_mo", "voice_mo")
)


class SyncStart(msgspec.Struct, forbid_unknown_fields=True):
    """The optional body of ``POST /v1/sync``."""

    force: Annotated[
        bool,
        msgspec.Meta(
            description=(
                "Apply the run even if seven no longer lists more than "
                "SYNC_MAX_REMOVED_SHARE of the mirror's live numbers (without it such a "
                "run is refused with `sync_guard_tripped` and writes nothing). For when "
                "the numbers really are gone."
            ),
            examples=[True],
        ),
    ] = False


class SyncCounts(msgspec.Struct):
    fetched: int
    """Numbers in seven's list."""
    added: int
    """New to the mirror, or back at seven after the mirror had them deleted or failed."""
    changed: int
    removed: int
    """Marked ``deleted``: gone from seven (the sync never deletes at seven), as our
    operations explain, or confirmed by a read of the number or a second sync."""
    unchanged: int
    skipped: int
    """Listed by seven but left alone: an operation on them was in flight."""


class DriftOut(msgspec.Struct):
    """A difference none of our operations explains. Fields are named as a read of the
    number names them, nested ones as dotted paths (``billing.fees.basic_charge``,
    ``features.sms``, ``friendly_name``, ``forward_sms_mo``, ``expires``, ...), plus the
    mirror's ``state``. ``changed`` items hold only the fields that differ; ``added`` has
    no ``before``, ``missing`` and ``removed`` no ``after``. ``missing``: seven's list left
    the number out; it keeps its holder until a read of it at seven or a later sync
    confirms it gone (then a ``removed`` item, on the run that confirms it) or seven shows
    it again (a ``changed`` item, ``state`` from ``missing``). Fees are money strings;
    ``created``/``expires`` are seven's own strings, as the sync compares them."""

    number: str
    kind: DriftKind
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class SyncRunOut(msgspec.Struct):
    id: uuid.UUID
    started_at: datetime
    finished_at: datetime | None
    status: RunStatus
    counts: SyncCounts
    drift: list[DriftOut]
    drift_total: int
    """All drift items of the run; ``drift`` may hold fewer (see ``next_drift_cursor``)."""
    baseline: bool
    """The first succeeded run: it has nothing to drift from, so it records no drift."""
    operation: uuid.UUID | None
    error: str | None
    next_drift_cursor: str | None = None


def drift_values(values: dict[str, Any] | None) -> dict[str, Any] | None:
    """A drift item's ``before`` or ``after`` as the API shows it: fees as money strings."""
    if values is None:
        return None
    return {
        field: money(Decimal(value))
        if field in DRIFT_MONEY_FIELDS and isinstance(value, str)
        else value
        for field, value in values.items()
    }
