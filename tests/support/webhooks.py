"""seven's webhook events as it sends them."""

from __future__ import annotations

import json
import time
from typing import Any


def event(
    event_id: str, system: str = "+49 151 000 003 10", sent: int | None = None
) -> dict[str, Any]:
    """An ``sms_mo`` event as seven documents it (every data value a string); sent now
    unless ``sent`` says otherwise."""
    return {
        "webhook_event": "sms_mo",
        "webhook_timestamp": "2026-03-12 23:30:01",
        "data": {
            "id": event_id,
            "sender": "4917612345678",
            "system": system,
            "text": "hello & goodbye",
            "time": str(int(time.time()) if sent is None else sent),
            "message_type": "SMS",
        },
    }


def sms_mo(event_id: str, system: str = "+49 151 000 003 10", sent: int | None = None) -> bytes:
    """The event as a JSON body (``request_method`` JSON)."""
    return json.dumps(event(event_id, system, sent)).encode()
