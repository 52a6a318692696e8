"""seven's three ways of delivering one webhook event, decoded into one payload.

A hook is registered with ``request_method`` ``POST`` (seven's default: the fields
form-encoded in the body), ``JSON`` (a JSON body, POSTed) or ``GET`` (the fields in the
query string). Form and query nest the event's ``data`` PHP-style, ``data[id]=...``
(seven's own SuiteCRM module reads ``$_POST['data']['system']``); every value arrives
as a string there, which the payload types accept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

import msgspec

from app.webhooks.service import BadEvent, WebhookPayload

# sms_mo has eight fields; a form with hundreds is not one seven sends.
_MAX_FIELDS = 100
_NESTED_NAME = re.compile(r"([^\[]+)((?:\[[^\]]*\])+)")
_SUBSCRIPT = re.compile(r"\[([^\]]*)\]")


def decode_event(method: str, content_type: str, body: bytes, query: str) -> WebhookPayload:
    """The event of one delivery: the query string of a GET, a form-encoded POST body, or
    any other POST body as JSON (what the endpoint has always taken)."""
    try:
        if method == "GET":
            return _from_fields(query)
        if content_type == "application/x-www-form-urlencoded":
            return _from_fields(body.decode())
        return msgspec.json.decode(body, type=WebhookPayload)
    except (msgspec.DecodeError, UnicodeDecodeError, ValueError) as error:
        # msgspec.ValidationError is a DecodeError; a ValueError is a bad form or query.
        raise BadEvent(str(error)) from None


def _from_fields(encoded: str) -> WebhookPayload:
    pairs = parse_qsl(encoded, keep_blank_values=True, errors="strict", max_num_fields=_MAX_FIELDS)
    return msgspec.convert(nest_fields(pairs), WebhookPayload)


def nest_fields(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """``[("data[id]", "7")]`` -> ``{"data": {"id": "7"}}``, as PHP's ``parse_str`` nests.

    As in PHP a later field wins over an earlier one of the same name, and a name that
    is not of the ``name[key]...`` form is kept as it is.
    """
    fields: dict[str, Any] = {}
    for name, value in pairs:
        nested = _NESTED_NAME.fullmatch(name)
        keys = [nested[1], *_SUBSCRIPT.findall(nested[2])] if nested else [name]
        node = fields
        for key in keys[:-1]:
            if not isinstance(node.get(key), dict):
                node[key] = {}
            node = node[key]
        node[keys[-1]] = value
    return fields
