"""Every line a process writes after ``configure_logging`` is one JSON object."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support.db import ROOT

SCRIPT = """
import logging, structlog
from app.lib.logging import configure_logging
logging.getLogger("uvicorn.error").addHandler(logging.StreamHandler())  # as uvicorn does
configure_logging("INFO")
structlog.contextvars.bind_contextvars(request_id="r-1")
structlog.get_logger("app").info("request", status=200)
logging.getLogger("uvicorn.error").info("Started server process [%d]", 1)
try:
    1 / 0
except ZeroDivisionError:
    logging.getLogger("arq.worker").exception("job failed")
logging.getLogger("httpx").debug("below the level: not written")
"""


def test_structlog_and_library_lines_are_json_with_the_bound_context() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, check=True
    )
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [line["event"] for line in lines] == [
        "request",
        "Started server process [1]",
        "job failed",
    ]
    assert all(line["request_id"] == "r-1" and line["timestamp"] for line in lines)
    assert lines[1]["logger"] == "uvicorn.error"
    assert "ZeroDivisionError" in lines[2]["exception"]


ACCESS_LOG_OFF = """
import logging
from app.lib.logging import configure_logging
access = logging.getLogger("uvicorn.access")
access.handlers, access.propagate = [], False  # what uvicorn --no-access-log leaves
configure_logging("INFO")
access.info("GET / 200")
logging.getLogger("uvicorn.error").info("still written")
"""


def test_uvicorn_no_access_log_stays_off() -> None:
    done = subprocess.run(
        [sys.executable, "-c", ACCESS_LOG_OFF], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert [json.loads(line)["event"] for line in done.stderr.splitlines()] == ["still written"]
