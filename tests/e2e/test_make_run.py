"""``make run`` on a fresh machine: everything starts, answers, and stops without leftovers.

Runs the real target (``python -m dev.server`` when the Makefile has none) with
``DATABASE_URL``/``REDIS_URL``/``SEVEN_API_KEY``/``ADMIN_API_KEY`` emptied, so the embedded
Postgres and Redis, the migrations and the sandbox are all exercised, and with
``SEVEN_NUMBERS_DATA_DIR`` pointing at a temporary folder (the developer's ``.data`` is not
touched). It starts twice on the same folder: the first start runs initdb, the second reuses
the data and must print the same admin key. Each run is stopped with SIGINT to the process
group, as Ctrl-C in a terminal would, and no process of its tree may survive.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from tests.support.db import ROOT
from tests.support.files import modes_above
from tests.support.polling import until_sync
from tests.support.sandbox import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(400)]

READY_TIMEOUT = 120.0
STOP_TIMEOUT = 20.0
NEEDED = [
    "app/serve.py",
    "workers/settings.py",
    "alembic.ini",
    "dev/server.py",
    "sandbox/__main__.py",
]
CLEARED = ["DATABASE_URL", "REDIS_URL", "SEVEN_API_KEY", "SEVEN_BASE_URL", "ADMIN_API_KEY"]


def _command() -> list[str]:
    makefile = ROOT / "Makefile"
    if makefile.exists() and re.search(r"^run:", makefile.read_text(), re.MULTILINE):
        venv = Path(sys.prefix)
        # -o: never rebuild the install stamp (no pip run inside the test).
        return ["make", "--no-print-directory", f"VENV={venv}", "-o", f"{venv}/.installed", "run"]
    return [sys.executable, "-m", "dev.server"]


@dataclass
class Run:
    """One ``make run`` in its own process group, its output collected by a thread."""

    proc: subprocess.Popen[str]
    port: int
    lines: list[str] = field(default_factory=list)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.output)
            if found:
                return found
            if self.proc.poll() is not None:
                pytest.fail(f"make run exited with {self.proc.returncode}:\n{self.output[-4000:]}")
            time.sleep(0.1)
        pytest.fail(f"no {pattern!r} within {timeout:.0f}s:\n{self.output[-4000:]}")


def _start(data_dir: Path) -> Run:
    port = free_port()
    env = {**os.environ, **dict.fromkeys(CLEARED, "")}
    env.update(SEVEN_NUMBERS_DATA_DIR=str(data_dir), PORT=str(port), HOST="127.0.0.1")
    proc = subprocess.Popen(
        _command(),
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        process_group=0,
    )
    run = Run(proc, port)

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            run.lines.append(line)

    threading.Thread(target=pump, daemon=True).start()
    return run


def _get(url: str, headers: dict[str, str] | None = None) -> int:
    return httpx.get(url, headers=headers, timeout=5).status_code


def _pid_from(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return None


def _tree(run: Run, data_dir: Path) -> list[psutil.Process]:
    """Every process the run owns: its descendants and the daemonized servers with theirs."""
    procs = [psutil.Process(run.proc.pid)]
    procs += procs[0].children(recursive=True)
    for pidfile in (data_dir / "postgres/pgdata/postmaster.pid", data_dir / "redis/redis.pid"):
        pid = _pid_from(pidfile)
        if pid is not None and psutil.pid_exists(pid):
            server = psutil.Process(pid)
            procs += [server, *server.children(recursive=True)]
    return procs


def _alive(proc: psutil.Process) -> bool:
    """Still running (same process, not a zombie nobody reaped)."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _mentions(folder: Path) -> list[psutil.Process]:
    """Processes naming ``folder`` or working in it (as root, postgres names its data
    /proc/self/cwd and works in it)."""
    found = []
    for proc in psutil.process_iter(["cmdline", "cwd"]):
        cwd = proc.info["cwd"]
        named = str(folder) in " ".join(proc.info["cmdline"] or [])
        if (named or (cwd and Path(cwd).is_relative_to(folder))) and _alive(proc):
            found.append(proc)
    return found


def _describe(procs: list[psutil.Process]) -> str:
    parts = []
    for proc in procs:
        try:
            parts.append(f"{proc.pid} {' '.join(proc.cmdline())[:120]}")
        except psutil.Error:
            parts.append(str(proc.pid))
    return "; ".join(parts)


def _stop(run: Run, tree: list[psutil.Process], data_dir: Path) -> float:
    """SIGINT the group (Ctrl-C); return seconds to exit; assert nothing is left."""
    started = time.monotonic()
    os.killpg(run.proc.pid, signal.SIGINT)
    try:
        run.proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"make run still running {STOP_TIMEOUT:.0f}s after SIGINT")
    took = time.monotonic() - started
    time.sleep(0.2)
    left = [p for p in tree if _alive(p)] + _mentions(data_dir)
    assert not left, f"left behind: {_describe(left)}\n{run.output[-3000:]}"
    return took


def _kill_all(run: Run, tree: list[psutil.Process]) -> None:
    """Last resort after a failed assertion: leave nothing running."""
    if run.proc.poll() is None:
        os.killpg(run.proc.pid, signal.SIGKILL)
        run.proc.wait()
    for proc in tree:
        if _alive(proc):
            proc.kill()


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    missing = [p for p in NEEDED if not (ROOT / p).exists()]
    if missing:
        pytest.skip(f"the service is not complete yet (missing {missing})")
    # Inside a folder of mode 700, as a project in root's home is: make run as root must
    # neither open it to the embedded postgres's user nor fail.
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(0o700)
    folder = home / "data"
    yield folder
    for proc in _mentions(folder):  # never leak servers into the next test
        proc.kill()


def _start_until_ready(data_dir: Path) -> tuple[Run, list[psutil.Process], float, str]:
    started = time.monotonic()
    run = _start(data_dir)
    key = run.wait_for(r"admin key:\s*(sn_admin_\S+)", READY_TIMEOUT).group(1)
    took = time.monotonic() - started
    base = f"http://127.0.0.1:{run.port}"
    assert _get(f"{base}/health/ready") == 200
    assert _get(f"{base}/health/live") == 200
    assert "no real numbers will be ordered" in run.output
    tree = _tree(run, data_dir)
    names = " ".join(_describe(tree).split())
    for expected in ("postgres", "redis-server", "uvicorn", "-m workers", "-m sandbox"):
        assert expected in names, f"{expected} not found among {names}"
    return run, tree, took, key


def _check_keys(port: int, key: str) -> None:
    url = f"http://127.0.0.1:{port}/v1/numbers"
    assert _get(url) == 401
    assert _get(url, {"X-Api-Key": "sn_admin_wrong_key_0000000000"}) == 401
    assert _get(url, {"X-Api-Key": key}) == 200


def _wait_for_mirrored_numbers(port: int, key: str) -> int:
    """make run asks for a first sync: the sandbox's numbers reach the mirror at once."""

    def mirrored() -> int:
        url = f"http://127.0.0.1:{port}/v1/numbers"
        return len(httpx.get(url, headers={"X-Api-Key": key}, timeout=5).json()["items"])

    return until_sync(mirrored, "the first sync to fill the mirror", 30, every=0.2)


def test_make_run_starts_everything_and_ctrl_c_stops_everything(data_dir: Path) -> None:
    timings: dict[str, float] = {}
    # Not pytest's shared temporary root: other test runs on the machine may change it.
    tmp = data_dir.parent.parent  # the test's own temporary folder
    modes = {**modes_above(data_dir, below=tmp), **modes_above(ROOT / "Makefile")}

    run, tree, timings["first start to ready (initdb)"], key = _start_until_ready(data_dir)
    try:
        assert (data_dir / "admin-key").read_text().strip() == key
        assert (data_dir / "postgres/pgdata/PG_VERSION").exists()
        _check_keys(run.port, key)
        assert _wait_for_mirrored_numbers(run.port, key) > 0
        timings["first stop"] = _stop(run, tree, data_dir)
    finally:
        _kill_all(run, tree)

    run, tree, timings["restart to ready"], again = _start_until_ready(data_dir)
    try:
        assert again == key, "the admin key must be stable between runs"
        assert "embedded postgres started" in run.output  # a fresh server on the kept data
        timings["second stop"] = _stop(run, tree, data_dir)
    finally:
        _kill_all(run, tree)

    now = {folder: folder.stat().st_mode & 0o7777 for folder in modes}
    assert now == modes, "make run changed the mode of a folder above its data or the project"
    print("\n" + "\n".join(f"{name}: {secs:.2f}s" for name, secs in timings.items()))


def test_a_child_dying_stops_everything_with_a_clear_line(data_dir: Path) -> None:
    run, tree, _, _ = _start_until_ready(data_dir)
    try:
        worker = next(p for p in tree if p.cmdline()[-2:] == ["-m", "workers"])
        worker.kill()
        try:
            code = run.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail("make run kept running after its worker died")
        assert code != 0
        assert re.search(r"worker \(arq\) exited unexpectedly", run.output), run.output[-3000:]
        # The end of its log (its lines are not in the terminal) says what it was doing.
        assert f"the end of {data_dir / 'logs/worker.log'}:" in run.output
        # (its last lines: a busy worker's start-up lines may be further up)
        assert '"timestamp"' in run.output.split("exited unexpectedly", 1)[1]
        time.sleep(0.2)
        left = [p for p in tree if _alive(p)] + _mentions(data_dir)
        assert not left, f"left behind: {_describe(left)}"
    finally:
        _kill_all(run, tree)


def _admin(port: int, key: str) -> httpx.Client:
    return httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"X-Api-Key": key}, timeout=10)


def _finished(api: httpx.Client, operation: str, what: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        body: dict[str, Any] = api.get(f"/v1/operations/{operation}").json()
        return body if body["status"] in ("succeeded", "failed") else None

    body = until_sync(done, what, 60, every=0.3)
    assert body["status"] == "succeeded", body
    return body


def _sync_run(api: httpx.Client) -> dict[str, Any]:
    """POST /v1/sync as admin, until one makes a run of its own (one asked for while make
    run's first sync runs ends at once without one); that run."""

    def ran() -> dict[str, Any] | None:
        accepted = api.post("/v1/sync")
        assert accepted.status_code == 202, accepted.text
        operation = accepted.json()["id"]
        _finished(api, operation, "a sync")
        runs = api.get("/v1/sync/runs").json()["items"]
        return next((r for r in runs if r["operation"] == operation), None)

    return until_sync(ran, "a sync with a run of its own", 90, every=0.5)


def test_the_sandbox_keeps_its_account_and_the_cli_finds_the_instance(data_dir: Path) -> None:
    """The sandbox's account (numbers ordered too) survives a restart of make run, so the
    next sync finds the kept mirror unchanged; while it runs, .data/env tells the CLI
    where everything is and the banner names the CLI, the console and the logs."""
    run, tree, _, key = _start_until_ready(data_dir)
    env_file = data_dir / "env"
    try:
        assert env_file.stat().st_mode & 0o777 == 0o600
        written = dict(line.split("=", 1) for line in env_file.read_text().splitlines()[1:])
        assert written["SEVEN_NUMBERS_URL"] == f"http://127.0.0.1:{run.port}"
        assert written["ADMIN_API_KEY"] == key
        assert {"DATABASE_URL", "REDIS_URL", "SEVEN_BASE_URL", "SEVEN_API_KEY"} <= set(written)
        assert ".venv/bin/python -m app.cli costs" in run.output or (
            f"{sys.executable} -m app.cli costs" in run.output
        )
        assert "api.log" in run.output and (data_dir / "logs/api.log").stat().st_size > 0
        assert f"console:   http://127.0.0.1:{run.port}/console" in run.output
        assert "Uvicorn running" not in run.output  # the children's lines are in their logs

        # The CLI as a person runs it from the repository, nothing exported.
        environ = {k: v for k, v in os.environ.items() if k not in CLEARED}
        cli = subprocess.run(
            [sys.executable, "-m", "app.cli", "costs"],
            cwd=ROOT,
            env={**environ, "SEVEN_NUMBERS_DATA_DIR": str(data_dir)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert cli.returncode == 0, cli.stderr
        assert "total" in cli.stdout

        with _admin(run.port, key) as api:
            offer = api.get("/v1/available-numbers", params={"country": "DE"}).json()
            number = offer["items"][0]["number"] if "items" in offer else offer[0]["number"]
            order = api.post("/v1/orders", json={"number": number, "payment_interval": "monthly"})
            assert order.status_code == 202, order.text
            _finished(api, order.json()["id"], "the order")
            _sync_run(api)
            before = {r["id"] for r in api.get("/v1/sync/runs").json()["items"]}
        _stop(run, tree, data_dir)
        assert not env_file.exists(), "the env file must go with the servers it names"
    finally:
        _kill_all(run, tree)

    run, tree, _, again = _start_until_ready(data_dir)
    try:
        with _admin(run.port, again) as api:
            ours = _sync_run(api)
            # Every run since the restart (make run's first sync too) found nothing to do.
            runs = [r for r in api.get("/v1/sync/runs").json()["items"] if r["id"] not in before]
            assert ours["id"] in {r["id"] for r in runs}
            for past in runs:
                counts = past["counts"]
                moved = (counts["added"], counts["changed"], counts["removed"])
                assert moved == (0, 0, 0), past
            assert api.get(f"/v1/numbers/{number}").json()["state"] == "active"
        _stop(run, tree, data_dir)
    finally:
        _kill_all(run, tree)
