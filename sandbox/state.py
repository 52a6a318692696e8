"""The sandbox's account: available numbers, active numbers, the order ledger and faults.

Everything here is plain synchronous Python on dicts. The sandbox runs in one asyncio
event loop and no method awaits, so each operation is atomic without locks.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import msgspec

from app.seven.types import (
    ActiveNumber,
    AvailableNumber,
    Billing,
    EmailForward,
    Features,
    Fees,
    ForwardSmsMo,
    PaymentInterval,
    SlackForward,
    SmsForward,
)
from sandbox.inventory import (
    Inventory,
    active_fees,
    country_of,
    format_seven_time,
    now_berlin,
    parse_seven_time,
    period_end,
)

Endpoint = Literal["order", "available", "active_list", "active_get", "update", "delete"]
ENDPOINTS: tuple[str, ...] = (
    "order",
    "available",
    "active_list",
    "active_get",
    "update",
    "delete",
)
FaultKind = Literal[
    "latency",
    "rate_limit",
    "server_error",
    "hang",
    "drop_after_commit",
    "drop_before_commit",
    "bare_code",
    "html",
    "empty_object",
    "refuse",
]
# Kinds that can strike after the change was made: they delay or replace the real answer.
AFTER_COMMIT_KINDS = ("hang", "server_error", "html", "empty_object")
NotFoundStyle = Literal["http_404", "error_200", "bare_code"]

ENCODER = msgspec.json.Encoder(decimal_format="number")


class Fault(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One scripted misbehaviour, consumed by the next matching request(s).

    ``times`` is how many matching requests it still hits (None = until cleared). With
    ``number`` it matches only requests about that number (see ``RequestRecord.number``),
    so concurrent test cases, each on its own number, do not take each other's faults.
    """

    kind: FaultKind
    endpoint: Literal[Endpoint, "*"] = "*"
    times: int | None = 1
    number: str | None = None
    id: int = 0
    ms: int = 1000  # latency: milliseconds added
    retry_after: int | None = None  # rate_limit: Retry-After seconds, None = no header
    status: int | None = None  # server_error, html: HTTP status (see answer_status)
    seconds: float = 300.0  # hang: how long to sleep
    after_commit: bool = False  # AFTER_COMMIT_KINDS: make the change first, then strike
    code: int = 900  # bare_code: the code in the body
    as_string: bool = False  # bare_code: body is the JSON string "900" instead of 900
    message: str = "The request was refused."  # refuse: the error text
    # After-commit faults: reads of the number show its previous state this much longer.
    visible_after_ms: int = 0

    def __post_init__(self) -> None:
        # Raised while decoding, these become the control API's 400 answer.
        if self.times is not None and self.times < 1:
            raise ValueError("times must be at least 1, or null for forever")
        if self.number is not None:
            if not self.number.isdigit():
                raise ValueError("number must be digits, country code first, as seven writes it")
            if self.endpoint in ("available", "active_list"):
                raise ValueError(f"{self.endpoint} requests are about no number")
        if self.after_commit and self.kind not in AFTER_COMMIT_KINDS:
            raise ValueError(f"after_commit is for {', '.join(AFTER_COMMIT_KINDS)}")
        if self.visible_after_ms < 0:
            raise ValueError("visible_after_ms must not be negative")
        if self.visible_after_ms and not self.strikes_after_commit():
            raise ValueError("visible_after_ms is for drop_after_commit and after_commit faults")

    def strikes_after_commit(self) -> bool:
        return self.kind == "drop_after_commit" or self.after_commit

    def answer_status(self) -> int:
        """The HTTP status of a server_error (default 500) or html (default 200) answer."""
        if self.status is not None:
            return self.status
        return 200 if self.kind == "html" else 500

    def matches(self, endpoint: str, number: str | None) -> bool:
        return self.endpoint in (endpoint, "*") and self.number in (None, number)


class LedgerEntry(msgspec.Struct):
    """One accepted order: what seven would have charged."""

    number: str
    payment_interval: PaymentInterval
    setup: Any  # Decimal; Any keeps msgspec from insisting on a concrete type here
    basic_charge: Any
    ordered_at: str


class RequestRecord(msgspec.Struct):
    """One ``/api`` request as it arrived, and how it was answered.

    ``number`` is the number the request is about (the path's, or an order's ``number``
    field), None for the lists. ``outcome``: ``ok``, ``refused`` (an order seven declined),
    ``not_found``, ``invalid`` (HTTP 422), ``900``/``901``, or ``fault:<kind>``.
    """

    method: str
    endpoint: str
    path: str
    query: str
    content_type: str
    body: str
    number: str | None = None
    outcome: str = "ok"
    # The request reached seven's handling (whatever it answered, and whether or not a
    # fault then lost the answer); False when it was answered before (900, a fault).
    processed: bool = False


class OrderRefused(Exception):
    """An order seven answers with ``{"success": false, "error": ...}``."""


class UpdateRejected(Exception):
    """A PATCH body seven would reject (HTTP 422)."""


@dataclass
class SandboxState:
    seed: int
    active_count: int
    available_per_country: int
    not_found: NotFoundStyle = "http_404"
    available: dict[str, AvailableNumber] = field(default_factory=dict)
    active: dict[str, ActiveNumber] = field(default_factory=dict)
    catalog: dict[str, AvailableNumber] = field(default_factory=dict)
    expiring: dict[str, datetime] = field(default_factory=dict)
    # Writes seven is still carrying out: number -> (what reads show meanwhile, the
    # time.monotonic() instant they start showing ``active``); see settle_write.
    held: dict[str, tuple[ActiveNumber | None, float]] = field(default_factory=dict)
    ledger: dict[str, list[LedgerEntry]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    requests: deque[RequestRecord] = field(default_factory=lambda: deque(maxlen=2000))
    # endpoint -> number -> requests seen; unbounded, unlike the log, so a long run can
    # still prove how often a number was ordered.
    request_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    seen_nonces: dict[str, int] = field(default_factory=dict)
    _fault_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _active_json: bytes | None = None
    _initial: tuple[dict[str, AvailableNumber], dict[str, ActiveNumber]] | None = None
    # False: start empty, for sandbox.persist to fill in what a state file kept.
    generate: bool = True
    # Called after every change to the account (sandbox.persist saves it to disk).
    on_change: Callable[[SandboxState], None] | None = None

    def __post_init__(self) -> None:
        if not self.generate:
            self._initial = ({}, {})
            self.reset()
            return
        inventory = Inventory(self.seed)
        available = {n.number: n for n in inventory.available(self.available_per_country)}
        active = {n.number: n for n in inventory.active(self.active_count, now_berlin())}
        # Keep the generated state: reset copies dicts of frozen structs instead of
        # regenerating, so a reset with 100,000 active numbers is instant.
        self._initial = (available, active)
        self.reset()

    # ------------------------------------------------------------------ lifecycle

    def reset(self) -> None:
        assert self._initial is not None
        available, active = self._initial
        self.available = dict(available)
        self.catalog = dict(available)
        self.active = dict(active)
        self.expiring = {
            n.number: parse_seven_time(n.expires) for n in active.values() if n.expires
        }
        self.held = {}
        self.ledger = {}
        self.faults = []
        self.requests.clear()
        self.request_counts = {}
        self.seen_nonces = {}
        self.not_found = "http_404"
        self._changed()

    def restore(
        self,
        catalog: dict[str, AvailableNumber],
        available: list[str],
        active: dict[str, ActiveNumber],
        ledger: dict[str, list[LedgerEntry]],
    ) -> None:
        """Take over an account kept on disk (sandbox.persist): ``available`` names the
        catalog's numbers still on sale. A reset comes back here, its ledger emptied."""
        self.catalog = catalog
        self.available = {number: catalog[number] for number in available}
        self.active = active
        self.expiring = {
            n.number: parse_seven_time(n.expires) for n in active.values() if n.expires
        }
        self.ledger = ledger
        self._initial = (dict(self.available), dict(active))
        self._changed()

    def _changed(self) -> None:
        self._active_json = None
        if self.on_change is not None:
            self.on_change(self)

    def expire_due(self) -> None:
        """Remove numbers whose deletion at period end has come (checked lazily)."""
        if not self.expiring:
            return
        now = now_berlin()
        for number, when in list(self.expiring.items()):
            if when <= now:
                self._remove(number)

    def _remove(self, number: str) -> ActiveNumber | None:
        self.expiring.pop(number, None)
        removed = self.active.pop(number, None)
        if removed is not None:
            self._changed()
            # A released number goes back on sale, as it would at a carrier, eventually.
            if number in self.catalog:
                self.available[number] = self.catalog[number]
        return removed

    # ------------------------------------------------------------------ the six endpoints

    def list_available(
        self, country: str | None, sms: bool, a2p_sms: bool, voice: bool
    ) -> list[AvailableNumber]:
        wanted = country.upper() if country else None
        return [
            n
            for n in self.available.values()
            if (wanted is None or n.country == wanted)
            and (n.features.sms or not sms)
            and (n.features.a2p_sms or not a2p_sms)
            and (n.features.voice or not voice)
        ]

    def order(self, number: str, interval: str) -> None:
        if not number:
            raise OrderRefused("The number field is required.")
        try:
            payment_interval = PaymentInterval(interval)
        except ValueError:
            raise OrderRefused("The selected payment interval is invalid.") from None
        if number in self.active:
            raise OrderRefused("Number is already assigned to your account.")
        offer = self.available.get(number)
        if offer is None:
            raise OrderRefused("Number is not available.")
        now = format_seven_time(now_berlin())
        fees = active_fees(offer.fees, payment_interval)
        del self.available[number]
        self.active[number] = ActiveNumber(
            country=offer.country,
            number=number,
            friendly_name="",
            billing=Billing(fees=fees, payment_interval=payment_interval),
            features=offer.features,
            forward_sms_mo=ForwardSmsMo(),
            expires=None,
            created=now,
        )
        self.ledger.setdefault(number, []).append(
            LedgerEntry(number, interval, fees.setup, fees.basic_charge, now)  # type: ignore[arg-type]
        )
        self._changed()

    def active_json(self) -> bytes:
        """``{"activeNumbers": [...]}`` as reads see it, encoded once per change (100k
        numbers ~ 40 MB)."""
        self._release_held()
        if self._active_json is None:
            listing = self.active
            if self.held:
                listing = dict(self.active)
                for number, (shown, _) in self.held.items():
                    if shown is None:
                        listing.pop(number, None)
                    else:
                        listing[number] = shown
            self._active_json = ENCODER.encode({"activeNumbers": list(listing.values())})
        return self._active_json

    def visible(self, number: str) -> ActiveNumber | None:
        """The number as ``GET /numbers/active/{number}`` shows it."""
        self._release_held()
        if number in self.held:
            return self.held[number][0]
        return self.active.get(number)

    def settle_write(self, number: str, before: ActiveNumber | None, visible_after_ms: int) -> None:
        """After a write to ``number`` that found it as ``before``: if it changed the number,
        reads show ``before`` for ``visible_after_ms`` more (seven is still carrying the write
        out), or the change at once.

        seven works through one number's writes in order: one finished at once finishes the
        earlier ones too, and one delayed while an earlier one is still held keeps the
        older state showing until the later instant.
        """
        if self.active.get(number) is before:  # refused, or nothing to do
            return
        self._release_held()
        if visible_after_ms > 0:
            shown, until = self.held.get(number, (before, 0.0))
            self.held[number] = (shown, max(until, time.monotonic() + visible_after_ms / 1000))
        else:
            self.held.pop(number, None)
        self._changed()

    def _release_held(self) -> None:
        if not self.held:
            return
        now = time.monotonic()
        done = [number for number, (_, until) in self.held.items() if until <= now]
        for number in done:
            del self.held[number]
        if done:
            self._changed()

    def update(self, number: str, changes: dict[str, Any]) -> ActiveNumber:
        current = self.active[number]
        forward = current.forward_sms_mo
        new_name = current.friendly_name
        if changes.get("friendly_name") is not None:
            new_name = _text(changes["friendly_name"], "friendly_name")
        if changes.get("sms_forward") is not None:
            targets = [_digits(v) for v in _as_list(changes["sms_forward"])]
            forward = msgspec.structs.replace(
                forward, sms=SmsForward(number=targets, enabled=bool(targets))
            )
        if changes.get("email_forward") is not None:
            addresses = [_email(v) for v in _as_list(changes["email_forward"])]
            forward = msgspec.structs.replace(
                forward, email=EmailForward(address=addresses, enabled=bool(addresses))
            )
        if changes.get("slack_forward") is not None:
            uris = _as_list(changes["slack_forward"])
            uri = _text(uris[0], "slack_forward") if uris else None
            forward = msgspec.structs.replace(
                forward, slack=SlackForward(uri=uri, enabled=bool(uri))
            )
        updated = msgspec.structs.replace(current, friendly_name=new_name, forward_sms_mo=forward)
        self.active[number] = updated
        self._changed()
        return updated

    def delete(self, number: str, immediately: bool) -> None:
        current = self.active[number]
        if immediately:
            self._remove(number)
            return
        if current.expires is None:
            interval = current.billing.payment_interval
            end = period_end(current.created, interval, now_berlin())
            self.active[number] = msgspec.structs.replace(current, expires=format_seven_time(end))
            self.expiring[number] = end
            self._changed()

    # ------------------------------------------------------------------ control API

    def log_request(self, record: RequestRecord) -> None:
        self.requests.append(record)
        if record.number is not None:
            counts = self.request_counts.setdefault(record.endpoint, {})
            counts[record.number] = counts.get(record.number, 0) + 1

    def add_fault(self, fault: Fault) -> Fault:
        fault.id = next(self._fault_ids)
        self.faults.append(fault)
        return fault

    def take_fault(self, endpoint: str, number: str | None) -> Fault | None:
        """The first fault for this request, counting one use of it."""
        for index, fault in enumerate(self.faults):
            if fault.matches(endpoint, number):
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        del self.faults[index]
                return fault
        return None

    def put_active(self, fields: dict[str, Any]) -> ActiveNumber:
        """Create or change an active number as if someone used seven's web interface."""
        number = str(fields.get("number", ""))
        current = self.active.get(number)
        if current is None:
            current = self._new_outside_number(number)
        merged = _deep_merge(msgspec.to_builtins(current), fields)
        updated = msgspec.convert(merged, ActiveNumber)
        self.available.pop(number, None)
        self.active[number] = updated
        if updated.expires:
            self.expiring[number] = parse_seven_time(updated.expires)
        else:
            self.expiring.pop(number, None)
        self._changed()
        return updated

    def _new_outside_number(self, number: str) -> ActiveNumber:
        offer = self.catalog.get(number)
        country = offer.country if offer else country_of(number)
        if country is None:
            raise UpdateRejected(f"{number!r} is not a valid number (digits, country code first)")
        fees = (
            active_fees(offer.fees, PaymentInterval.ANNUALLY)
            if offer
            else Fees(setup=0, basic_charge=0, sms_mo=0, voice_mo=0)  # type: ignore[arg-type]
        )
        return ActiveNumber(
            country=country,
            number=number,
            friendly_name="",
            billing=Billing(fees=fees, payment_interval=PaymentInterval.ANNUALLY),
            features=offer.features if offer else Features(sms=True, a2p_sms=True, voice=True),
            forward_sms_mo=ForwardSmsMo(),
            expires=None,
            created=format_seven_time(now_berlin()),
        )

    def remove_active(self, number: str) -> bool:
        return self._remove(number) is not None

    def summary(self) -> dict[str, Any]:
        return {
            "active": len(self.active),
            "available": len(self.available),
            "orders": sum(len(v) for v in self.ledger.values()),
            "faults": self.faults,
            "not_found": self.not_found,
            "requests": len(self.requests),
        }


def _deep_merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``{"billing": {"payment_interval": "monthly"}}`` changes only that one field."""
    merged = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _as_list(value: Any) -> list[Any]:
    """Form bodies carry one value as a string; an empty string means an empty array."""
    if isinstance(value, list):
        return [v for v in value if v != ""]
    return [] if value in ("", None) else [value]


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise UpdateRejected(f"The {name} must be a string.")
    return value


def _digits(value: Any) -> str:
    text = str(value)
    if not text.isdigit() or not 6 <= len(text) <= 16:
        raise UpdateRejected(f"The sms_forward entry {text!r} is not a valid phone number.")
    return text


def _email(value: Any) -> str:
    text = str(value)
    local, _, domain = text.partition("@")
    if not local or "." not in domain:
        raise UpdateRejected(f"The email_forward entry {text!r} is not a valid e-mail address.")
    return text
