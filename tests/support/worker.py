"""The real arq worker as a child process a test can start, stop, kill and wait for."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from app.settings import Settings
from tests.support.db import ROOT


class WorkerProcess:
    """``python -m workers`` (with the arq settings at ``worker``) with the
    test's settings in its environment."""

    def __init__(
        self,
        settings: Settings,
        *,
        burst: bool = False,
        log_path: Path | None = None,
        worker: str = "workers.settings.WorkerSettings",
    ):
        self.settings = settings
        self.worker = worker
        self.burst = burst
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        env = {**os.environ, **self.settings.to_env()}
        args = [sys.executable, "-m", "workers", self.worker]
        if self.burst:
            args.append("--burst")
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        return self

    def wait(self, timeout: float = 60.0) -> int:
        """Wait for a burst worker to drain the queue and exit."""
        assert self.process is not None
        return self.process.wait(timeout)

    def signal(self, signum: signal.Signals) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signum)

    def kill(self) -> None:
        """SIGKILL: the worker dies mid-job, as on a crash or an OOM kill."""
        if self.process is not None and self.process.poll() is None:
            self.signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self, timeout: float = 20.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def __enter__(self) -> WorkerProcess:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def run_burst(settings: Settings, timeout: float = 60.0) -> None:
    """Run one burst worker until the queue is empty."""
    started = time.monotonic()
    code = WorkerProcess(settings, burst=True).start().wait(timeout)
    assert code == 0, f"burst worker exited with {code} after {time.monotonic() - started:.1f}s"
