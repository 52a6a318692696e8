"""The API as production runs it, in processes of its own: the README's command
(``uvicorn app.serve:app ... --workers 2 --no-access-log``) on a free local port, with the
benchmark's settings in its environment.

A benchmark that submits through it measures what the service's API lets through, not
what an API sharing the benchmark's own process and event loop does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from app.settings import Settings
from bench import cpu
from tests.support.sandbox import free_port

ROOT = Path(__file__).resolve().parents[1]
#: The README's production API command ("Running it in production"), on a local port.
WORKERS = 2


class ApiProcess:
    def __init__(self, settings: Settings, workers: int = WORKERS) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, **settings.to_env()}
        command = [
            *[sys.executable, "-m", "uvicorn", "app.serve:app", "--host", "127.0.0.1"],
            *["--port", str(self.port), "--workers", str(workers), "--no-access-log"],
            *["--timeout-graceful-shutdown", "20"],
        ]
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 60.0) -> ApiProcess:
        """Until /health/live answers often enough that every worker process has started."""
        deadline, answered = time.monotonic() + timeout, 0
        while answered < 20:
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"the API did not start (exit code {self.process.poll()})")
            try:
                answered += httpx.get(f"{self.url}/health/live", timeout=2).status_code == 200
            except httpx.TransportError:
                time.sleep(0.1)
        return self

    def cpu_seconds(self) -> float:
        """User and system CPU of the API's processes (uvicorn and its workers) so far."""
        return cpu.tree_seconds(self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
