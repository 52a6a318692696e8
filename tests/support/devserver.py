"""``make run``'s service (``python -m dev.server``) as a test's subprocess.

It starts as a person's ``make run`` does (embedded PostgreSQL and Redis, the migrations,
the sandbox), but on its own data folder and a free port, so it never meets the
developer's ``.data`` or another test's. The output goes to a file (no pipe to drain);
stopping is Ctrl-C to the process group, which stops the embedded servers too.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.db import ROOT
from tests.support.sandbox import free_port

# Settings a developer's shell may hold: emptied so the dev server starts everything itself.
CLEARED = ["DATABASE_URL", "REDIS_URL", "SEVEN_API_KEY", "SEVEN_BASE_URL", "ADMIN_API_KEY"]
READY_TIMEOUT = 120.0
STOP_TIMEOUT = 30.0


@dataclass
class DevServer:
    proc: subprocess.Popen[bytes]
    data_dir: Path
    log: Path
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    @property
    def database_url(self) -> str:
        """The embedded PostgreSQL's URL, as the dev server printed it."""
        found = re.search(r"embedded postgres \w+ in [\d.]+s: (\S+)", self.output)
        assert found, self.output[-3000:]
        return found[1]

    @classmethod
    def start(cls, folder: Path) -> DevServer:
        """Start it with ``folder/data`` as its data folder; return once it is ready."""
        data_dir, log, port = folder / "data", folder / "devserver.log", free_port()
        env = {**os.environ, **dict.fromkeys(CLEARED, "")}
        env.update(SEVEN_NUMBERS_DATA_DIR=str(data_dir), HOST="127.0.0.1", PORT=str(port))
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "dev.server"],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                process_group=0,
            )
        server = cls(proc, data_dir, log, port)
        server._wait_ready()
        return server

    def _wait_ready(self) -> None:
        """The banner, printed once /health/ready answers 200, ends with the admin key."""
        deadline = time.monotonic() + READY_TIMEOUT
        while "admin key:" not in self.output:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"make run did not become ready:\n{self.output[-4000:]}")
            time.sleep(0.2)

    def stop(self) -> None:
        """Ctrl-C; SIGKILL to the group only if it does not stop in time."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                self._kill_embedded()

    def _kill_embedded(self) -> None:
        """The embedded servers run outside the group: never leave them to the next test."""
        for pidfile in ("postgres/pgdata/postmaster.pid", "redis/redis.pid"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                os.kill(int((self.data_dir / pidfile).read_text().split()[0]), signal.SIGKILL)
