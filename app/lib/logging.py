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


def configure_logging(level: str = "INFO") -> None:
    numeric_level = logging.getLevelNamesMapping()[level]
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=numeric_level, force=True)
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
