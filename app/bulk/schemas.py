"""The bodies of ``POST /v1/orders/bulk``; ``PATCH /v1/numbers`` takes a single number's
change body (app.operations.schemas.NumberChange)."""

from __future__ import annotations

import uuid
from typing import Annotated

import msgspec

from app.seven.types import PaymentInterval

#: The most numbers one bulk order asks for.
MAX_BULK_COUNT = 100


class BulkOrderCreate(msgspec.Struct, forbid_unknown_fields=True):
    """``POST /v1/orders/bulk``: ``count`` distinct numbers of ``country`` from seven's
    offer, each ordered as ``POST /v1/orders`` orders one, billed by ``payment_interval``
    (required: ``monthly``, or ``annually``, a year up front)."""

    country: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=8,
            description="ISO 3166-1 alpha-2, as GET /v1/available-numbers takes it",
            examples=["DE"],
        ),
    ]
    count: Annotated[
        int,
        msgspec.Meta(
            ge=1,
            le=MAX_BULK_COUNT,
            description="How many numbers to order",
            examples=[20],
        ),
    ]
    # Required, as on a single order; no Meta (it would rewrite the shared component).
    payment_interval: PaymentInterval
    features: Annotated[
        list[Annotated[str, msgspec.Meta(max_length=16)]],
        msgspec.Meta(
            max_length=3,
            description="Features every number must have: sms, a2p_sms, voice",
            examples=[["sms"]],
        ),
    ] = msgspec.field(default_factory=list)
    pool: uuid.UUID | None = None
    tenant: uuid.UUID | None = None
