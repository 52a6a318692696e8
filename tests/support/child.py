"""Code run in a child interpreter of the project, for what one process loads or refuses."""

from __future__ import annotations

import subprocess
import sys

from tests.support.db import ROOT


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    """``code`` run by ``python -c`` from the project's root, with only the environment a
    settings import needs: REDIS_URL, read by the worker's settings module when imported
    (nothing connects), and no redis-server on PATH."""
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"REDIS_URL": "redis://127.0.0.1:6379/0", "PATH": "/nonexistent"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
