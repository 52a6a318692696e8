"""Tenant key against admin key as API CPU per request, which busy neighbours move less
than throughput.

    .venv/bin/python bench/key_cpu.py

Builds the same scratch database as ``bench/reads.py`` (100,000 numbers, a tenant holding
every 10th), serves ``app.serve:app`` in one uvicorn process (no workers, so its own CPU
times are the service's) and loads it with ``wrk -t1 -c16``: for the tenant's numbers
(``GET /v1/numbers/{number}``) and ``GET /v1/whoami``, runs with the admin key and the
tenant's key interleaved (A T T A A T), each 2 s of warm-up then ``RUN_SECONDS``. Prints
the process's ``utime + stime`` per request of each run and the median tenant/admin
(issue 18's target: a tenant key within 10 % of the admin key, so <= 1.1 here).
Environment as for ``bench/reads.py`` (``BENCH_DATABASE``, ``BENCH_REDIS_URL``, ...).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import reads  # noqa: E402
from bench.common import ADMIN_KEY  # noqa: E402

RUN_SECONDS = 6
ORDER = ["admin", "tenant", "tenant", "admin", "admin", "tenant"]


def cpu_per_request(process: psutil.Process, base: str, script: Path) -> float:
    """Microseconds of the server's CPU per request over one wrk run."""
    wrk = ["wrk", "-t1", "-c16", "-s", str(script)]
    subprocess.run([*wrk, "-d2s", base], check=True, capture_output=True)
    before = process.cpu_times()
    out = subprocess.run(
        [*wrk, f"-d{RUN_SECONDS}s", base], check=True, capture_output=True, text=True
    ).stdout
    after = process.cpu_times()
    spent = (after.user - before.user) + (after.system - before.system)
    return spent / reads._number(r"(\d+) requests in", out) * 1e6


def main() -> None:
    database_url = reads.prepare()
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": reads.REDIS_URL,
        "SEVEN_API_KEY": "bench-unused",
        "SEVEN_BASE_URL": "http://127.0.0.1:9/api",
        "ADMIN_API_KEY": ADMIN_KEY,
    }
    try:
        with tempfile.TemporaryDirectory(prefix="bench-key-cpu-") as tmp:
            measure(Path(tmp), env)
    finally:
        asyncio.run(reads._drop_database())


def measure(work: Path, env: dict[str, str]) -> None:
    log = work / "api.log"
    port = reads._free_port()
    argv = [sys.executable, "-m", "uvicorn", "app.serve:app", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--no-access-log"]
    with log.open("ab") as sink:
        server = subprocess.Popen(
            argv, cwd=ROOT, env={**os.environ, **env}, stdout=sink, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        reads._wait_until_up(server, base, log)
        reads._wait_for_log(log, "number_cache_loaded", 1)
        issued = httpx.post(
            f"{base}/v1/tenants/{reads.TENANT_ID}/keys",
            json={"name": "bench"},
            headers={"X-Api-Key": ADMIN_KEY},
        )
        issued.raise_for_status()
        keys = {"admin": ADMIN_KEY, "tenant": issued.json()["key"]}
        held = work / "tenant_numbers.txt"
        held.write_text(
            "\n".join([number for _, number in reads.numbers()][:: reads.TENANT_SHARE]) + "\n"
        )
        process = psutil.Process(server.pid)
        print(f"API CPU per request (us), wrk -t1 -c16, {RUN_SECONDS} s a run, order {ORDER}")
        for route, path, numbers_file in [
            ("GET /v1/numbers/{tenant's}", "/v1/numbers/", held),
            ("GET /v1/whoami", "/v1/whoami", None),
        ]:
            spent: dict[str, list[float]] = {"admin": [], "tenant": []}
            for who in ORDER:
                script = reads.lua_script(work, path, numbers_file, keys[who])
                spent[who].append(cpu_per_request(process, base, script))
            ratio = statistics.median(spent["tenant"]) / statistics.median(spent["admin"])
            print(
                f"  {route:28} admin {[round(x) for x in spent['admin']]} "
                f"tenant {[round(x) for x in spent['tenant']]}  median tenant/admin {ratio:.2f}"
            )
    finally:
        server.terminate()
        server.wait(15)


if __name__ == "__main__":
    main()
