"""Start the whole service on one machine: ``python -m dev.server`` (what ``make run`` runs).

1. ``DATABASE_URL`` / ``REDIS_URL`` are used when set (environment or ``.env``); otherwise
   embedded Postgres and Redis start with their data under ``.data/`` (or
   ``$SEVEN_NUMBERS_DATA_DIR``), kept between runs.
2. The migrations run (``alembic upgrade head``).
3. Without ``SEVEN_API_KEY`` the sandbox imitating seven starts and the service talks to it
   (sandbox mode: no real numbers are ordered). Its account (offer, active numbers,
   ledger) and key are kept in ``.data/sandbox/``, so a restart finds the numbers the
   kept mirror knows.
4. Without ``ADMIN_API_KEY`` one is generated once and kept in ``.data/admin-key``.
5. The API (uvicorn) and the worker (arq) start as children, each in its own process group.
   The children's output (and the migrations') goes to ``.data/logs/<name>.log``, so the
   terminal shows only this script's lines.
6. Once ``/health/ready`` answers 200 the URLs, the admin key, the CLI command and the
   logs are printed, and the variables the children got are written to ``.data/env``
   (mode 0600), where the operator CLI finds them (``app.lib.dev_instance``).

Ctrl-C or SIGTERM stops everything it started (children first, then the embedded servers)
and removes ``.data/env``. If a child dies on its own, the end of its log is shown, the
rest is stopped and the exit status is 1.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from app.lib import dev_instance
from app.settings import SettingsError, environment, read_setting

if TYPE_CHECKING:  # dev.embedded needs the embedded extra; imported when used
    from dev.embedded import EmbeddedService

REPO_ROOT = Path(__file__).resolve().parent.parent
ADMIN_KEY_PREFIX = "sn_admin_"
SANDBOX_KEY_PREFIX = "sandbox_"
LOG_TAIL_LINES = 20
READY_TIMEOUT = float(os.environ.get("SEVEN_NUMBERS_READY_TIMEOUT", "90"))
STOP_GRACE = 10.0
SANDBOX_ACTIVE_NUMBERS = 20
SIGNING_SECRET_PREFIX = "sandbox_signing_"  # noqa: S105 - a prefix; the secret is random
#: make run's receivers of event webhooks are on this machine: plain http to loopback.
DEV_WEBHOOK_ALLOWED_HOSTS = "127.0.0.1,localhost"
PREFIX = "devserver:"


class Shutdown(Exception):
    """Raised from the signal handler: a person asked us to stop."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class StartupError(Exception):
    """Something could not start; ``str()`` is the one line to show."""


@dataclass
class Child:
    """A child process started in its own process group, its output in ``log``."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def exited(self) -> int | None:
        return self.proc.poll()

    def log_tail(self) -> str:
        lines = self.log.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
        return "\n".join(f"  | {line}" for line in lines)


def say(message: str) -> None:
    print(f"{PREFIX} {message}", flush=True)


# --------------------------------------------------------------------------------------------
# configuration


def data_dir(environ: Mapping[str, str]) -> Path:
    """Where embedded data and the admin key live: ``$SEVEN_NUMBERS_DATA_DIR`` or ``./.data``."""
    path = dev_instance.data_dir(environ)
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()


def admin_key(environ: Mapping[str, str], folder: Path) -> str:
    """``ADMIN_API_KEY`` when set (checked as the service checks it, so a refused key stops
    here with its one line), else the key kept in ``folder/admin-key`` (made once)."""
    try:
        given: str | None = read_setting("ADMIN_API_KEY", environ, env_file=None)
    except SettingsError as exc:
        raise StartupError(str(exc)) from None
    if given is not None:
        return given
    return kept_key(folder / "admin-key", ADMIN_KEY_PREFIX)


def kept_key(path: Path, prefix: str) -> str:
    """The key in ``path``, or a new random one written there (mode 0600) first."""
    if path.is_file() and path.read_text().strip():
        return path.read_text().strip()
    key = prefix + secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_port(environ: Mapping[str, str]) -> tuple[str, int]:
    host = environ.get("HOST", "").strip() or "127.0.0.1"
    raw = environ.get("PORT", "").strip() or "8000"
    try:
        port = int(raw)
    except ValueError:
        raise StartupError(f"PORT is not usable: expected a port number, got {raw!r}") from None
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            raise StartupError(
                f"{host}:{port} is already in use: stop what runs there or set PORT=..."
            ) from None
    return host, port


# --------------------------------------------------------------------------------------------
# processes


def spawn(
    name: str, argv: list[str], env: Mapping[str, str], children: list[Child], log: Path
) -> Child:
    """Start ``argv`` from the repository root in a new process group, its output (both
    streams) written to ``log`` (emptied first); record it."""
    with GATE.deferred(), log.open("wb") as output:
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and fixed modules
            argv,
            cwd=REPO_ROOT,
            env={**env, "PYTHONUNBUFFERED": "1"},
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            process_group=0,
        )
        child = Child(name, proc, log)
        children.append(child)
    return child


def logs_dir(folder: Path) -> Path:
    path = folder / "logs"
    path.mkdir(exist_ok=True)
    return path


def stop_children(children: list[Child], grace: float = STOP_GRACE) -> None:
    """SIGTERM every child's process group, wait, then SIGKILL what is left."""
    for child in reversed(children):
        _signal_group(child, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for child in reversed(children):
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    for child in children:
        _signal_group(child, signal.SIGKILL)  # stragglers in the group, or a stuck child
        child.proc.wait()


def _signal_group(child: Child, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.proc.pid, signum)


def run_migrations(env: Mapping[str, str], logs: Path) -> None:
    log = logs / "migrations.log"
    say(f"running migrations (alembic upgrade head; output in {log})")
    with log.open("wb") as output:
        result = subprocess.run(
            [sys.executable, "-m", "alembic", "upgrade", "head"],
            cwd=REPO_ROOT,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            process_group=0,
            check=False,
        )
    if result.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:])
        raise StartupError(f"migrations failed (alembic exited with {result.returncode}):\n{tail}")


def wait_for_port(port: int, child: Child, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _check_alive([child])
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise StartupError(f"the {child.name} did not listen on port {port} within {timeout:.0f}s")


def wait_ready(url: str, children: list[Child], timeout: float) -> None:
    """Poll ``url`` until it answers 200; fail early if a child dies."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        _check_alive(children)
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - http://host
                if response.status == 200:
                    return
                last = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            last = str(getattr(exc, "reason", exc))
        time.sleep(0.2)
    raise StartupError(f"{url} did not answer 200 within {timeout:.0f}s (last: {last})")


def _check_alive(children: list[Child]) -> None:
    for child in children:
        code = child.exited()
        if code is not None:
            raise StartupError(
                f"the {child.name} exited unexpectedly with status {code}; "
                f"the end of {child.log}:\n{child.log_tail()}"
            )


def supervise(children: list[Child]) -> None:
    """Return never; raise StartupError when a child exits (Shutdown comes from signals)."""
    while True:
        _check_alive(children)
        time.sleep(0.2)


class SignalGate:
    """SIGINT/SIGTERM raise :class:`Shutdown` once, except inside :meth:`deferred`, where
    they are held until the block ends (so a half-started server is always recorded)."""

    def __init__(self) -> None:
        self._pending: int | None = None
        self._deferring = 0
        self._fired = False

    def install(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._handler)

    def _handler(self, signum: int, _frame: FrameType | None) -> None:
        if self._fired or self._pending is not None:
            return  # already stopping
        if self._deferring:
            self._pending = signum
            return
        self._fired = True
        raise Shutdown(signum)

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        self._deferring += 1
        try:
            yield
        finally:
            self._deferring -= 1
        if not self._deferring and self._pending is not None and not self._fired:
            self._fired = True
            raise Shutdown(self._pending)

    @staticmethod
    def ignore() -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_IGN)


# --------------------------------------------------------------------------------------------
# the whole thing

GATE = SignalGate()


def start_backing_services(
    env: dict[str, str], folder: Path, services: list[EmbeddedService]
) -> None:
    """Fill ``DATABASE_URL``/``REDIS_URL`` from embedded servers when they are not set."""
    from dev.embedded import start_postgres, start_redis

    if not env.get("DATABASE_URL", "").strip():
        started = time.monotonic()
        with GATE.deferred():
            pg = start_postgres(folder / "postgres")
            services.append(pg)
        env["DATABASE_URL"] = pg.url
        how = "reused" if pg.reused else "started"
        say(f"embedded postgres {how} in {time.monotonic() - started:.1f}s: {pg.url}")
    if not env.get("REDIS_URL", "").strip():
        with GATE.deferred():
            rd = start_redis(folder / "redis")
            services.append(rd)
        env["REDIS_URL"] = rd.url
        say(f"embedded redis {'reused' if rd.reused else 'started'}: {rd.url}")


def start_sandbox(
    env: dict[str, str], folder: Path, children: list[Child]
) -> tuple[Child, int] | None:
    """Without ``SEVEN_API_KEY``: start the sandbox and point the service at it; the
    sandbox and the port it is to listen on (the caller waits for it, starting the rest
    meanwhile). Its key and account are kept in ``folder/sandbox``: the mirror kept in
    the embedded database was synced from that account and must find it again."""
    if env.get("SEVEN_API_KEY", "").strip():
        return None
    port = _free_port()
    state = folder / "sandbox"
    state.mkdir(mode=0o700, exist_ok=True)
    key = kept_key(state / "api-key", SANDBOX_KEY_PREFIX)
    # The sandbox signs its inbound-SMS webhooks (and checks our requests) with the secret
    # the API verifies them with; without one the API refuses them (503) and
    # `app.cli sandbox send-sms` could not show an SMS reaching its tenant.
    secret = env.get("SEVEN_SIGNING_SECRET", "").strip() or kept_key(
        state / "signing-secret", SIGNING_SECRET_PREFIX
    )
    # A few numbers already on the sandbox's account, so a person sees a mirror at once.
    argv = [
        sys.executable, "-m", "sandbox", "--port", str(port), "--api-key", key,
        "--active", str(SANDBOX_ACTIVE_NUMBERS), "--state-dir", str(state),
        "--signing-secret", secret,
    ]  # fmt: skip
    sandbox = spawn("sandbox", argv, env, children, logs_dir(folder) / "sandbox.log")
    env["SEVEN_API_KEY"] = key
    env["SEVEN_SIGNING_SECRET"] = secret
    env["SEVEN_BASE_URL"] = f"http://127.0.0.1:{port}/api"
    return sandbox, port


def start_app(env: dict[str, str], host: str, port: int, children: list[Child], logs: Path) -> None:
    # The app logs one JSON line per request itself; uvicorn's access log would repeat it.
    api = [
        sys.executable, "-m", "uvicorn", "app.serve:app",
        "--host", host, "--port", str(port), "--no-access-log",
    ]  # fmt: skip
    spawn("API (uvicorn)", api, env, children, logs / "api.log")
    worker = [sys.executable, "-m", "workers"]
    spawn("worker (arq)", worker, env, children, logs / "worker.log")


def _shown(path: Path) -> str:
    """``path`` relative to the repository root when it is inside it (commands there)."""
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def cli_command() -> str:
    """The operator CLI as a person runs it from the repository root: this interpreter (the
    venv's, which has the CLI's packages; a bare ``python`` may not)."""
    return f"{_shown(Path(sys.executable))} -m app.cli"


def print_banner(
    base: str, sandbox: str | None, key: str, folder: Path, children: list[Child], started: float
) -> None:
    lines = [
        f"seven-numbers is ready after {time.monotonic() - started:.1f}s (Ctrl-C stops everything)",
        f"  API:       {base}",
        f"  docs:      {base}/schema",
        f"  console:   {base}/console  (sign in with the admin key below)",
    ]
    if sandbox:
        lines.append(f"  sandbox:   {sandbox}  (no real numbers will be ordered)")
    lines.append(f"  admin key: {key}")
    lines.append(f"  try:       curl -H 'X-Api-Key: {key}' {base}/v1/numbers")
    if sandbox:
        lines.append(
            f"  inbound:   {cli_command()} sandbox send-sms --to <a number> --text hello"
            "   (its holder gets message.received)"
        )
    lines.append(f"  CLI:       {cli_command()} costs   (--help for the rest)")
    lines.append(f"  settings:  {_shown(folder / dev_instance.ENV_FILE_NAME)}  (read by the CLI)")
    for child in children:
        lines.append(f"  log:       {_shown(child.log)}  ({child.name})")
    say("\n".join(lines))


def start_everything(
    env: dict[str, str], children: list[Child], services: list[EmbeddedService], written: list[Path]
) -> None:
    started = time.monotonic()
    host, port = http_port(env)
    folder = data_dir(env)
    env["ADMIN_API_KEY"] = admin_key(env, folder)
    # Event webhook endpoints on this machine (a receiver a person runs) are refused
    # without it; a value a person set is kept.
    if not env.get("WEBHOOK_ALLOWED_HOSTS", "").strip():
        env["WEBHOOK_ALLOWED_HOSTS"] = DEV_WEBHOOK_ALLOWED_HOSTS
    logs = logs_dir(folder)
    # The sandbox starts (imports, loads its account) while the databases and migrations do.
    sandbox = start_sandbox(env, folder, children)
    start_backing_services(env, folder, services)
    run_migrations(env, logs)
    seven = env["SEVEN_BASE_URL"] if sandbox else None
    if sandbox:
        wait_for_port(sandbox[1], sandbox[0], timeout=30)
        say(f"SANDBOX MODE: SEVEN_API_KEY is not set, so no real numbers will be ordered ({seven})")
    start_app(env, host, port, children, logs)
    base = f"http://{host}:{port}"
    wait_ready(f"{base}/health/ready", children, READY_TIMEOUT)
    request_first_sync(base, env["ADMIN_API_KEY"])
    env_file = folder / dev_instance.ENV_FILE_NAME
    with GATE.deferred():  # recorded as soon as it exists, so that stopping removes it
        dev_instance.write_env(env_file, {**env, "SEVEN_NUMBERS_URL": base})
        written.append(env_file)
    print_banner(base, seven, env["ADMIN_API_KEY"], folder, children, started)


def request_first_sync(base: str, key: str) -> None:
    """Fill the mirror now rather than at the next scheduled sync."""
    request = urllib.request.Request(f"{base}/v1/sync", method="POST", headers={"X-Api-Key": key})  # noqa: S310 - http://host
    try:
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - http://host
            say("first sync requested: the mirror fills in a moment")
    except OSError as exc:
        say(f"could not request a first sync ({exc}); the scheduled one will run")


def stop_all(children: list[Child], services: list[EmbeddedService], written: list[Path]) -> None:
    """The env file (its addresses are about to go), the children (they hold connections),
    then the embedded servers."""
    for path in written:
        path.unlink(missing_ok=True)
    stop_children(children)
    for service in reversed(services):
        try:
            service.stop()
        except Exception as exc:  # keep stopping the others
            say(f"could not stop embedded {service.name}: {exc}")
    say("stopped")


def run(environ: Mapping[str, str] | None = None) -> int:
    """Start everything, wait for a signal or a dead child, stop everything. Exit status."""
    # The repository's .env, where the children (started there) look for it too.
    env = dict(environment(env_file=REPO_ROOT / ".env") if environ is None else environ)
    children: list[Child] = []
    services: list[EmbeddedService] = []
    written: list[Path] = []
    status = 0
    GATE.install()
    try:
        start_everything(env, children, services, written)
        supervise(children)
    except Shutdown as exc:
        say(f"{exc} received, stopping")
    except StartupError as exc:
        say(f"error: {exc}; stopping everything")
        status = 1
    except Exception as exc:
        say(f"error: {type(exc).__name__}: {exc}; stopping everything")
        status = 1
    finally:
        GATE.ignore()
        stop_all(children, services, written)
    return status


def main() -> None:
    sys.exit(run())


if __name__ == "__main__":
    main()
