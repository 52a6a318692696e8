"""Structured JSON logs (structlog), one configuration for every process."""

from __future__ import annotations

import logging
import sys
from typing import Any

import msgspec
import structlog

# msgspec renders a log line several times faster than the stdlib json module, and the
# bytes go straight to stderr's buffer (BytesLogger): the API writes one line per
# request, so this is on every request's path. Values msgspec does not know (an
# exception object, a Path) are written as their str().
_encoder = msgspec.json.Encoder(enc_hook=str)


def _render(event: Any, **_: Any) -> bytes:
    return _encoder.encode(event)


#: Libraries that install their own handlers (uvicorn before it loads the app); their
#: lines go through ours instead.
_LIBRARY_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def _stdlib_handler() -> logging.Handler:
    """Lines from the standard library's logging (httpx, uvicorn, arq) as JSON too, with
    the request or job context bound when they were written."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.contextvars.merge_contextvars,
                structlog.stdlib.add_logger_name,
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,  # a failed job's traceback as text
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    return handler


def _switched_off(library: logging.Logger) -> bool:
    """uvicorn's ``--no-access-log`` leaves ``uvicorn.access`` with no handler and not
    propagating; routed to ours it would write a second line per request (uvicorn checks
    ``hasHandlers()``, which the root's handler satisfies), a cost on every request."""
    return library.name == "uvicorn.access" and not library.handlers and not library.propagate


def configure_logging(level: str = "INFO") -> None:
    numeric_level = logging.getLevelNamesMapping()[level]
    logging.basicConfig(handlers=[_stdlib_handler()], level=numeric_level, force=True)
    for name in _LIBRARY_LOGGERS:
        library = logging.getLogger(name)
        if _switched_off(library):
            continue
        library.handlers.clear()
        library.propagate = True
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(serializer=_render),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.BytesLoggerFactory(sys.stderr.buffer),
        cache_logger_on_first_use=True,
    )
