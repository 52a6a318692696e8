"""The API as tests reach it: in-process through ``Client`` (the ``client`` fixture), or
served by a real uvicorn process, as production serves it (a socket, signals)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.settings import Settings
from tests.support.db import ROOT
from tests.support.polling import until_sync
from tests.support.sandbox import listening_port

Client = AsyncTestClient[Litestar]
Headers = dict[str, str]


class ApiProcess:
    """``uvicorn app.serve:app`` with the test's settings; stderr (the logs) to ``log_path``."""

    def __init__(self, settings: Settings, *, log_path: Path | None = None) -> None:
        self.settings = settings
        # The port is read from this log: uvicorn binds one the OS picks (a port picked here
        # and handed over could be taken by another process before uvicorn binds it).
        self._own_log = log_path is None
        self.log_path = log_path or Path(tempfile.mkdtemp(prefix="api-")) / "api.log"
        self.port = 0
        self.url = ""
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, ready_within: float = 30.0) -> ApiProcess:
        env = {**os.environ, **self.settings.to_env()}
        args = [
            *(sys.executable, "-m", "uvicorn", "app.serve:app"),
            *("--host", "127.0.0.1", "--port", "0"),
            *("--timeout-graceful-shutdown", "20", "--no-access-log"),
        ]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                args,
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process = self.process

        def answering() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"uvicorn exited with {process.returncode}")
            if not self.port:
                self.port = listening_port(self.log_path.read_text(errors="replace"))
                if not self.port:
                    return False
                self.url = f"http://127.0.0.1:{self.port}"
            try:
                return httpx.get(f"{self.url}/health/live", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        until_sync(answering, "uvicorn to answer", ready_within, every=0.05)
        return self

    def terminate(self) -> None:
        """SIGTERM, as an orchestrator stops a container."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float = 30.0) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self._own_log:
            shutil.rmtree(self.log_path.parent, ignore_errors=True)

    def __enter__(self) -> ApiProcess:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
