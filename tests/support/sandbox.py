"""``SandboxProcess``: seven's imitation (``sandbox``) as a real server process.

Every suite that talks to "seven" uses this, so all of them meet the same HTTP stack
(uvicorn, real sockets, dropped connections) that production code meets::

    sandbox = SandboxProcess.start(active=1000)        # free port, waits until it answers
    client = SevenClient(api_key=sandbox.api_key, base_url=sandbox.base_url)
    sandbox.add_fault("drop_after_commit", endpoint="order")
    ...
    assert len(sandbox.ledger()[number]) == 1          # ordered (and paid) exactly once
    sandbox.stop()

The control helpers are synchronous (httpx.Client), so they work from sync tests and
from async tests alike (each is one short local request).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from app.seven.signing import sign_headers
from tests.support.db import ROOT

DEFAULT_API_KEY = "sandbox-test-key"
# What the sandbox that checks request signatures demands.
SIGNING_SECRET = "sandbox-signing-secret"


# uvicorn's line once it listens, with the port it bound.
_LISTENING = re.compile(r"Uvicorn running on http://[^\s:]+:(\d+)")


def listening_port(log: str) -> int:
    """The port a uvicorn started with ``--port 0`` printed it listens on; 0 before it does."""
    found = _LISTENING.search(log)
    return int(found[1]) if found else 0


def free_port() -> int:
    """A port nobody listens on right now (the OS picks it, so parallel runs don't clash)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SandboxError(RuntimeError):
    """The sandbox did not start, or a control call failed."""


class SandboxProcess:
    """One ``python -m sandbox`` subprocess and its control API."""

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        signing_secret: str | None = None,
        active: int = 0,
        available: int = 25,
        seed: int = 7,
        latency_ms: int = 0,
        host: str = "127.0.0.1",
        port: int | None = None,
    ) -> None:
        self.api_key = api_key
        self.signing_secret = signing_secret
        self.host = host
        # Without a port the server binds one the OS picks and prints it: a port picked here
        # and handed over could be taken by another process before the server binds it.
        self.port = port or 0
        self._argv = [
            sys.executable,
            "-m",
            "sandbox",
            "--host",
            host,
            "--port",
            str(self.port),
            "--log-level",
            "info",
            "--api-key",
            api_key,
            "--active",
            str(active),
            "--available",
            str(available),
            "--seed",
            str(seed),
            "--latency-ms",
            str(latency_ms),
        ]
        if signing_secret:
            self._argv += ["--signing-secret", signing_secret]
        # A file, not a pipe: a chatty server must never block on a full pipe buffer.
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - lives as long as the process
            prefix="sandbox-", suffix=".log", delete=False
        )
        self._process: subprocess.Popen[bytes] | None = None
        self._http = httpx.Client(timeout=30)
        self._address(self.port)

    def _address(self, port: int) -> None:
        self.port = port
        self.root_url = f"http://{self.host}:{port}"
        #: What production calls ``https://gateway.seven.io/api``.
        self.base_url = f"{self.root_url}/api"
        self.control_url = f"{self.root_url}/_sandbox"
        self._http.base_url = httpx.URL(self.control_url)

    @classmethod
    def start(cls, *, startup_timeout: float = 60, **options: Any) -> SandboxProcess:
        """Start a sandbox (options as for ``__init__``) and wait until it answers."""
        sandbox = cls(**options)
        sandbox._spawn(startup_timeout)
        return sandbox

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ process

    def _spawn(self, timeout: float) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        self._process = subprocess.Popen(
            self._argv, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise SandboxError(f"sandbox exited with {self._process.returncode}:\n{self.log()}")
            if not self.port:
                self._address(listening_port(self.log()))
                if not self.port:
                    time.sleep(0.05)
                    continue
            try:
                if self._http.get("/state", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.stop()
        raise SandboxError(f"sandbox did not answer within {timeout} s:\n{self.log()}")

    def log(self) -> str:
        """What the server printed (uvicorn errors, e.g. about dropped responses)."""
        return Path(self._log.name).read_text(errors="replace")

    @property
    def pid(self) -> int:
        """The sandbox's process id (a benchmark reads its CPU time)."""
        assert self._process is not None
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        """Terminate the server (killing it if it lingers) and remove its log file."""
        self._http.close()
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        self._log.close()
        Path(self._log.name).unlink(missing_ok=True)

    # ------------------------------------------------------------------ control API

    def _call(self, method: str, path: str, json: Any = None, **params: Any) -> Any:
        response = self._http.request(method, path, json=json, params=params or None)
        if response.status_code >= 400:
            raise SandboxError(f"{method} {path}: {response.status_code} {response.text}")
        return response.json()

    def add_fault(
        self,
        kind: str,
        endpoint: str = "*",
        times: int | None = 1,
        number: str | None = None,
        **params: Any,
    ) -> dict[str, Any]:
        """Script a fault, e.g. ``add_fault("rate_limit", "order", retry_after=2)``.

        Kinds and their parameters (``sandbox/__init__.py`` says what each answers):
        latency(ms), rate_limit(retry_after), server_error(status=500, after_commit),
        html(status=200, after_commit), empty_object(after_commit), refuse(message),
        bare_code(code, as_string), hang(seconds, after_commit), drop_before_commit,
        drop_after_commit. ``after_commit=True`` makes the change before the fault strikes;
        with ``visible_after_ms=N`` (drop_after_commit and after_commit faults) reads of the
        number show its previous state for N ms more. ``times=None`` keeps it until cleared.
        With ``number`` (digits) it strikes only requests about that number (the path's, or
        the order's ``number`` field), and ``times`` counts only those.
        """
        fault = {"kind": kind, "endpoint": endpoint, "times": times, "number": number, **params}
        return self._call("POST", "/faults", json=fault)

    def faults(self) -> list[dict[str, Any]]:
        return self._call("GET", "/faults")

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def ledger(self) -> dict[str, list[dict[str, Any]]]:
        """Every accepted order per number (``number, payment_interval, setup, ...``)."""
        return self._call("GET", "/ledger")

    def orders_of(self, number: str) -> int:
        return len(self.ledger().get(number, []))

    def requests(self, endpoint: str | None = None) -> list[dict[str, Any]]:
        """The ``/api`` requests the sandbox saw, oldest first, optionally of one endpoint."""
        params = {"endpoint": endpoint} if endpoint else {}
        return self._call("GET", "/requests", **params)

    def request_count(self, endpoint: str, number: str) -> int:
        """Requests about ``number`` that reached ``endpoint``, however they were answered
        (faults, refusals, 900/901 included); not capped like :meth:`requests`."""
        counts: dict[str, int] = self._call("GET", "/requests/counts", endpoint=endpoint)
        return counts.get(number, 0)

    def order_requests(self, number: str) -> int:
        """How often ``number`` was ordered (tried, not bought: see :meth:`orders_of`)."""
        return self.request_count("order", number)

    def reset(self) -> None:
        """Back to the generated inventory; ledger, faults, request log and counts emptied."""
        self._call("POST", "/reset")

    def state(self) -> dict[str, Any]:
        return self._call("GET", "/state")

    def set_not_found(self, style: str) -> None:
        """``http_404`` (default) or ``error_200``: how unknown numbers are answered."""
        self._call("PUT", "/config", json={"not_found": style})

    def put_active(self, number: str, **fields: Any) -> dict[str, Any]:
        """Add or change an active number behind the service's back (nested dicts merge)."""
        return self._call("POST", "/active", json={"number": number, **fields})

    def remove_active(self, number: str) -> None:
        self._call("DELETE", f"/active/{number}")

    def send_sms(self, url: str, **body: Any) -> dict[str, Any]:
        """seven's sms_mo webhook for an inbound SMS, sent to ``url`` (sandbox/inbound.py)."""
        sent: dict[str, Any] = self._call("POST", "/sms", json={"url": url, **body})
        return sent

    # ------------------------------------------------------------------ seven's API, raw

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One authenticated (and, with a secret, signed) request to the imitation of seven."""
        headers = {"X-Api-Key": self.api_key, **kwargs.pop("headers", {})}
        with httpx.Client(base_url=self.base_url, timeout=30) as client:
            request = client.build_request(method, path, headers=headers, **kwargs)
            if self.signing_secret:
                request.headers.update(
                    sign_headers(self.signing_secret, method, str(request.url), request.content)
                )
            return client.send(request)

    def available(self, **query: Any) -> list[dict[str, Any]]:
        found = self.api("GET", "/numbers/available", params=query).json()
        return found["availableNumbers"]

    def active(self) -> list[dict[str, Any]]:
        return self.api("GET", "/numbers/active").json()["activeNumbers"]
