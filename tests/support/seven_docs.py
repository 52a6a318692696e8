"""seven's documented answers, copied from docs/seven-api.md (seven's own page).

The sandbox and seven's JS SDK are checked against them key by key and JSON type by JSON
type (``shape``), so a client written against the sandbox parses seven's real answers.
"""

from __future__ import annotations

from typing import Any

DOC_AVAILABLE = {
    "country": "DK",
    "number": "4523854818",
    "number_parsed": "+45 23 85 48 18",
    "fees": {
        "monthly": {"basic_charge": 29.9, "setup": 19.9},
        "annually": {"basic_charge": 238.8, "setup": 9.9},
        "sms_mo": 0,
        "voice_mo": 0.01,
    },
    "features": {"sms": True, "a2p_sms": True, "voice": True},
}
DOC_ACTIVE = {
    "country": "DE",
    "number": "4915170264838",
    "friendly_name": "",
    "billing": {
        "fees": {"setup": 19.9, "basic_charge": 238.8, "sms_mo": 0, "voice_mo": 0},
        "payment_interval": "annually",
    },
    "features": {"sms": True, "a2p_sms": False, "voice": True},
    "forward_sms_mo": {
        "sms": {"number": ["4917612345678"], "enabled": True},
        "email": {"address": ["j.doe@acme.inc", "john@doe.com"], "enabled": True},
    },
    "expires": None,
    "created": "2024-01-31 17:06:27",
}
DOC_ORDER = {"success": True, "error": None}
DOC_DELETE = {"success": True}


def shape(value: Any) -> Any:
    """The JSON type skeleton of a value: keys kept, leaves replaced by their JSON type."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if isinstance(value, bool):  # before int: bool is an int in Python, not in JSON
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", type(None): "null"}[type(value)]
