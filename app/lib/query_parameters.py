"""How each query parameter is documented in the OpenAPI schema (``COUNTRY``,
``count_parameter()``, ...), and the page component names: what only the API needs, kept
apart from the parsers in app.lib.params so the worker imports no web framework."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from litestar.openapi.spec import Example, OpenAPIFormat, OpenAPIType, Schema
from litestar.params import KwargDefinition, QueryParameter

from app.lib.params import FEATURES, MAX_NUMBER_DIGITS, Feature
from app.lib.tags import KEY_PATTERN, MAX_VALUE_LENGTH


def page_schema(name: str) -> KwargDefinition:
    """``Annotated[Page[X], page_schema("XPage")]`` is documented as the component ``XPage``
    (Litestar would name it after the module path of ``X``)."""
    return KwargDefinition(schema_component_key=name, schema_extra={"title": name})


# -- what the OpenAPI schema says of each ------------------------------------------


def _documented(
    description: str, example: object = None, name: str | None = None, **schema: Any
) -> KwargDefinition:
    """A query parameter the handler takes as text, documented as its parser reads it.

    ``schema_extra`` only describes: Litestar enforces the constraint arguments of
    ``QueryParameter`` itself, which would answer ``validation_error`` instead of ours.
    """
    examples = None if example is None else [Example(value=example)]
    # The handler's ``str | None`` would be documented as "string or null".
    return QueryParameter(
        name=name,
        description=description,
        examples=examples,
        schema_extra={"one_of": None, **schema},
    )


COUNTRY = _documented(
    "ISO 3166-1 alpha-2 code of a country with telephone numbers, in any case",
    "DE",
    type=OpenAPIType.STRING,
    pattern="^[A-Za-z]{2}$",
)
FEATURE = _documented(
    "Repeatable (or comma-separated): every one must be present (`feature=sms` is "
    "`features_sms=true`)",
    type=OpenAPIType.ARRAY,
    items=Schema(type=OpenAPIType.STRING, enum=list(FEATURES)),
)
NUMBER = _documented("A number in any written form", "+4915170264838", type=OpenAPIType.STRING)
NUMBER_PREFIX = _documented(
    "The number starts with these digits, country code first; a leading `+` or `00` is"
    " dropped and spaces are ignored (`+49 151` is `49151`)",
    "+49151",
    type=OpenAPIType.STRING,
    pattern=rf"^(\+|00)?[1-9][0-9]{{0,{MAX_NUMBER_DIGITS - 1}}}$",
)
NUMBER_CONTAINS = _documented(
    f"The number contains these digits (1 to {MAX_NUMBER_DIGITS}) anywhere",
    "1234",
    type=OpenAPIType.STRING,
    pattern=rf"^[0-9]{{1,{MAX_NUMBER_DIGITS}}}$",
)


def feature_flag_parameter(name: Feature) -> KwargDefinition:
    """seven's ``features_<name>``, as its search takes it (and ``GET /v1/numbers``)."""
    return flag_parameter(f"true: must have {name}; false: must not (`feature={name}` is true)")


def uuid_parameter(description: str) -> KwargDefinition:
    return _documented(description, type=OpenAPIType.STRING, format=OpenAPIFormat.UUID)


def choice_parameter(
    description: str, choices: Sequence[str], *, name: str | None = None, default: str | None = None
) -> KwargDefinition:
    """``name``: the query parameter's, where the handler's argument cannot have it."""
    return _documented(
        description, name=name, type=OpenAPIType.STRING, enum=list(choices), default=default
    )


def choice_or_pattern_parameter(
    description: str, choices: Sequence[str], pattern: str, *, default: str | None = None
) -> KwargDefinition:
    """One of ``choices``, or a value matching ``pattern`` (``group_by=tag:<key>``)."""
    return _documented(
        description,
        one_of=[
            Schema(type=OpenAPIType.STRING, enum=list(choices)),
            Schema(type=OpenAPIType.STRING, pattern=pattern),
        ],
        default=default,
    )


def flag_parameter(description: str, default: bool | None = None) -> KwargDefinition:
    return _documented(description, type=OpenAPIType.BOOLEAN, default=default)


def count_parameter(default: int, maximum: int) -> KwargDefinition:
    return _documented(
        f"1 to {maximum}, default {default}",
        type=OpenAPIType.INTEGER,
        minimum=1,
        maximum=maximum,
        default=default,
    )


def cursor_parameter(description: str) -> KwargDefinition:
    return _documented(description, type=OpenAPIType.STRING)


def pattern_list_parameter(description: str, example: str, pattern: str) -> KwargDefinition:
    """A repeatable parameter whose every value matches ``pattern``."""
    return _documented(
        description,
        [example],
        type=OpenAPIType.ARRAY,
        items=Schema(type=OpenAPIType.STRING, pattern=pattern),
    )


def text_parameter(description: str, max_length: int) -> KwargDefinition:
    return _documented(description, type=OpenAPIType.STRING, max_length=max_length)


def month_parameter(description: str) -> KwargDefinition:
    """A calendar month, ``YYYY-MM``."""
    return _documented(
        description, "2026-03", type=OpenAPIType.STRING, pattern=r"^\d{4}-(0[1-9]|1[0-2])$"
    )


TAG_FILTER = pattern_list_parameter(
    "Repeatable; all must hold. `key:value`: the number's tag `key` is `value`; `key`: the"
    " number has the tag `key`. The number's own tags only (not its holder's)",
    "cost_center:crm",
    rf"^{KEY_PATTERN}(:.{{1,{MAX_VALUE_LENGTH}}})?$",
)
