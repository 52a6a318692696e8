"""Every validation error in one shape and one wording, wherever it was found.

``details`` of every 422 for a bad input names it the same way:
``{"parameter": "cooldown_days", "location": "body", "expected": "a whole number from 0
to 3650"}`` (``location`` is ``path``, ``query``, ``header`` or ``body``). Our parsers
(app.lib.params) write ``parameter`` and ``expected``; :func:`locate` adds where the
parameter was. Litestar's own validation (msgspec decoding a body) reports in msgspec's
words (``Expected `int` >= 0``); :func:`litestar_problem` rewrites its first problem in
the words of our parsers, read from the body's declared type, so one mistake reads the
same in a body as in a query string (``expected one of monthly, annually``).
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
import msgspec.inspect as mi
from litestar import Request
from litestar.exceptions import ValidationException
from litestar.utils.scope.state import ScopeState

#: The key in a handler's ``opt`` of the query parameters it declares (set by
#: app.lib.strict_query; None: any).
DECLARED_QUERY = "accepted_query_parameters"
_SHOWN = 60  # characters of a bad value repeated in the message
# msgspec's names for JSON types, in the words of app.lib.params.
_JSON_TYPES = {
    "str": "a string",
    "int": "a whole number",
    "float": "a number",
    "number": "a number",
    "bool": "true or false",
    "array": "a list",
    "object": "a JSON object",
    "null": "null",
}
_TYPE_NAMED = re.compile(r"Expected `([^`]+)`")
_FIELD_NAMED = re.compile(r"field `([^`]+)`")
_INDEX = re.compile(r"\[(\d+)\]")


def locate(request: Request[Any, Any, Any], details: dict[str, Any]) -> dict[str, Any]:
    """``details`` of one of our parsers' 422s with the ``location`` of its parameter."""
    if "location" in details or "parameter" not in details:
        return details
    # ``sms_forward[2]`` or ``limits.max_numbers`` is the parameter ``sms_forward``.
    name = re.split(r"[\[.]", str(details["parameter"]), maxsplit=1)[0]
    declared = request.route_handler.opt.get(DECLARED_QUERY) or ()
    if name in request.path_params:
        location = "path"
    elif name in request.query_params or name in declared:
        location = "query"
    elif name in request.headers:  # case-insensitive, as header names are
        location = "header"
    else:
        location = "body"
    return {**details, "location": location}


def litestar_problem(
    request: Request[Any, Any, Any], exc: ValidationException
) -> tuple[str, dict[str, Any]] | None:
    """The message and details of the first problem Litestar found; None if it named none."""
    problems = [item for item in exc.extra or [] if isinstance(item, dict)]
    if not problems:
        return None
    problem = problems[0]
    source = problem.get("source") or "query"
    location = str(getattr(source, "value", source))  # a ParamType, or "body"
    key, said = str(problem.get("key") or ""), str(problem.get("message") or "")
    if location != "body":
        expected = _from_msgspec(said)
        return f"invalid {key}: expected {expected}", _details(key, location, expected)
    return _body_problem(request, key, said)


def undecodable_body(said: str) -> tuple[str, dict[str, Any]]:
    """The message and details of a body that is not JSON at all (a 400)."""
    return (
        f"the body is not valid JSON: {_from_msgspec(said)}",
        _details("body", "body", "a JSON object"),
    )


def _body_problem(
    request: Request[Any, Any, Any], key: str, said: str
) -> tuple[str, dict[str, Any]]:
    body = _declared_body(request)
    if key == "data":  # the body as a whole
        if said == "'data'" or not _raw_body(request).strip():
            return "a JSON body is required", _details("body", "body", "a JSON object")
        field = _FIELD_NAMED.search(said)
        if field and said.startswith("Object contains unknown field"):
            fields = _field_names(body)
            expected = f"one of {', '.join(fields)}" if fields else "no fields"
            return (
                f"unknown body field {field.group(1)}: this body takes {', '.join(fields)}",
                _details(field.group(1), "body", expected),
            )
        if field and said.startswith("Object missing required field"):
            name = field.group(1)
            expected = _describe(_field_type(body, name)) or "a value"
            return f"{name} is required: expected {expected}", _details(name, "body", expected)
        return (
            f"invalid body: expected a JSON object ({said})",
            _details("body", "body", "a JSON object"),
        )
    expected = _describe(_field_type(body, key)) or _from_msgspec(said)
    value = _value_at(request, key)
    shown = "" if value is _MISSING else f" {_show(value)}"
    return f"invalid {key}{shown}: expected {expected}", _details(key, "body", expected)


def _details(parameter: str, location: str, expected: str) -> dict[str, Any]:
    return {"parameter": parameter, "location": location, "expected": expected}


def _from_msgspec(said: str) -> str:
    """msgspec's ``Expected `bool | null`, got `str``` as ``true or false``; a constraint
    (``Expected `int` >= 0``) is kept."""
    named = _TYPE_NAMED.match(said)
    kinds = [k.strip() for k in named.group(1).split("|")] if named else []
    kinds = [kind for kind in kinds if kind != "null"]
    if named and kinds and all(kind in _JSON_TYPES for kind in kinds):
        rest = said[named.end() :]
        constraint = "" if rest.startswith(", got") else rest
        return " or ".join(_JSON_TYPES[kind] for kind in kinds) + constraint
    if said == "Invalid UUID":
        return "a UUID"
    return said[:1].lower() + said[1:]


# -- the body's declared type --------------------------------------------------------


def _declared_body(request: Request[Any, Any, Any]) -> mi.Type | None:
    parameter = request.route_handler.parsed_fn_signature.parameters.get("data")
    if parameter is None:
        return None
    try:
        return mi.type_info(parameter.annotation)
    except (TypeError, ValueError):  # not a type msgspec can describe
        return None


def _unwrap(info: mi.Type | None) -> mi.Type | None:
    """The type under metadata and ``| None``."""
    while isinstance(info, mi.Metadata):
        info = info.type
    if isinstance(info, mi.UnionType):
        options = [t for t in info.types if not isinstance(t, mi.NoneType)]
        if len(options) == 1:
            return _unwrap(options[0])
    return info


def _field_names(info: mi.Type | None) -> list[str]:
    info = _unwrap(info)
    return [f.encode_name for f in info.fields] if isinstance(info, mi.StructType) else []


def _field_type(info: mi.Type | None, key: str) -> mi.Type | None:
    """The declared type at ``key`` (``limits.max_numbers``, ``features[0]``)."""
    for part in _path(key):
        info = _unwrap(info)
        if isinstance(part, int):
            info = info.item_type if isinstance(info, mi.ListType) else None
        elif isinstance(info, mi.StructType):
            info = next((f.type for f in info.fields if f.encode_name == part), None)
        else:
            return None
    return info


def _describe(info: mi.Type | None) -> str | None:
    """What a value of this type is, in the words of app.lib.params; None if unsaid."""
    info = _unwrap(info)
    match info:
        case mi.StrType(min_length=low, max_length=high) if high is not None:
            return f"{low} to {high} characters" if low else f"at most {high} characters"
        case mi.StrType():
            return "a string"
        case mi.IntType(ge=low, le=high) if low is not None and high is not None:
            return f"a whole number from {low} to {high}"
        case mi.IntType(ge=low) if low is not None:
            return f"a whole number of at least {low}"
        case mi.IntType():
            return "a whole number"
        case mi.BoolType():
            return "true or false"
        case mi.LiteralType(values=values):
            return f"one of {', '.join(map(str, values))}"
        case mi.EnumType(cls=cls):
            return f"one of {', '.join(str(member.value) for member in cls)}"
        case mi.UUIDType():
            return "a UUID"
        case mi.DecimalType():
            return 'a decimal number written as a string, such as "4.90"'
        case mi.ListType(item_type=item, max_length=high):
            each = _describe(item)
            most = f" of at most {high}" if high is not None else ""
            return f"a list{most}" + (f", each {each}" if each else "")
        case mi.StructType():
            return f"a JSON object with the fields {', '.join(_field_names(info))}"
    return None


# -- the value that was sent ---------------------------------------------------------

_MISSING = object()


def _raw_body(request: Request[Any, Any, Any]) -> bytes:
    # Read already (app.lib.nul_guard reads every body); an exception handler cannot await.
    body = ScopeState.from_scope(request.scope).body
    return body if isinstance(body, bytes) else b""


def _value_at(request: Request[Any, Any, Any], key: str) -> Any:
    try:
        value: Any = msgspec.json.decode(_raw_body(request))
    except msgspec.DecodeError:
        return _MISSING
    for part in _path(key):
        try:
            value = value[part]
        except (KeyError, IndexError, TypeError):
            return _MISSING
    return value


def _path(key: str) -> list[str | int]:
    parts: list[str | int] = []
    for name in key.split("."):
        head, *_ = name.split("[", 1)
        if head:
            parts.append(head)
        parts.extend(int(index) for index in _INDEX.findall(name))
    return parts


def _show(value: Any) -> str:
    # Strings as our parsers repeat them ('weekly'), anything else as JSON (true, 12).
    if isinstance(value, str):
        return repr(value[:_SHOWN])
    return msgspec.json.encode(value).decode()[:_SHOWN]
