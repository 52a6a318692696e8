"""Reads benchmark: the mirror's reads against bare Litestar endpoints.

    .venv/bin/python bench/reads.py            (or: make bench-reads)

What it does, in one run:

1. creates a scratch database (``BENCH_DATABASE``, default ``bench_reads``) on the local
   PostgreSQL, migrates it with ``alembic upgrade head`` and COPYs 100,000 realistic
   mirrored numbers into it (40 % held by four tenants, 20 % in two pools), with a key of
   the first tenant;
2. serves the service exactly as the README serves production
   (``uvicorn app.serve:app --workers 2 --no-access-log``, settings from the environment,
   default log level), and a bare Litestar app that returns constant JSON documents of
   the same size as one number and as the first page of 50, served the same way (2
   workers: the machine has 2 cores);
3. loads each with ``wrk`` on loopback at concurrency 32 for a fixed time: the bare
   endpoints, ``GET /v1/numbers/{number}`` (per request a random one of up to 100,000
   spread over them all, through a Lua script), ``GET /v1/whoami``, and
   ``GET /v1/numbers?limit=50`` with no filter, with each of ``country``, ``tenant``,
   ``pool``, ``state`` and ``q`` (values that fill the page), and with the tenant key;
4. prints requests/s, p50/p99 latency, errors and the ratio to the bare endpoint of the
   same size, and drops the scratch database;
5. and, for the API (issue 18, part 3): the seconds from its start to the first 200 of
   ``/health/live`` and of ``GET /v1/numbers/{number}``, single reads while its workers
   load their caches (``BENCH_DURING_LOAD`` seconds), each worker's load time, and each
   worker's resident memory (now and peak) once loaded and at the end.

Targets: the single-number read (issue 3) and every list page (issue 18) at >= 25 % of
their bare endpoint's requests/s, p99 under 20 ms, no errors. Needs ``wrk`` (Debian:
``apt-get install wrk``). Environment: ``BENCH_POSTGRES_URL`` (maintenance database,
default ``postgresql://postgres@127.0.0.1:5432/postgres``), ``BENCH_REDIS_URL`` (default
``redis://127.0.0.1:6379/15``), ``BENCH_DATABASE``, ``BENCH_DURATION`` seconds per run
(default 10), ``BENCH_NUMBERS`` (default 100,000; 1,000,000 fill in ~90 s),
``BENCH_DURING_LOAD`` (default 10; 0: none), ``BENCH_KEEP_DATABASE=1`` (reuse a scratch
database holding as many numbers, and keep it), ``BENCH_QUICK=1`` (the single read,
``/v1/whoami`` and three list pages only), ``BENCH_PAGES`` (only these list pages, by
their filter, comma-separated: ``none,q=hotline,tenant-key``); the API's own settings
(``NUMBER_CACHE_SIZE``) from the environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import random
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
from litestar import Litestar, Response, get

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.lib.auth import hash_key  # noqa: E402
from app.numbers.mirror import SEVEN_COLUMNS  # noqa: E402
from bench.common import ADMIN_KEY, POSTGRES_URL, redis_url  # noqa: E402
from tests.support.db import create_database, drop_database  # noqa: E402

# How many numbers the mirror holds (issue 18, part 3: 1,000,000).
COUNT = int(os.environ.get("BENCH_NUMBERS", "100000"))
CONCURRENCY = 32
WORKERS = 2  # one per core of the 2-core reference machine, as the README runs it
# Overridable so that two benches can run side by side without dropping each other's.
DATABASE = os.environ.get("BENCH_DATABASE", "bench_reads")
REDIS_URL = redis_url(15)
DURATION = int(os.environ.get("BENCH_DURATION", "10"))
# Seconds of single reads started as soon as the API answers, while its workers load
# the mirror into their caches (0: none).
DURING_LOAD = int(os.environ.get("BENCH_DURING_LOAD", "10"))
# Reuse the scratch database when it already holds COUNT numbers, and keep it afterwards
# (filling 1,000,000 numbers is most of a minute; runs that vary only the API's settings
# can share it).
KEEP_DATABASE = os.environ.get("BENCH_KEEP_DATABASE") == "1"
# Only the single read, /v1/whoami, and the first list pages (no tenant-key pairs, no
# filters but country): a 1,000,000-number run within the lock's few minutes.
QUICK = os.environ.get("BENCH_QUICK") == "1"
# The list pages to measure by their filter (``none``, ``country=DE``, ``q=hotline``,
# ``tenant-key``), comma-separated; all (or BENCH_QUICK's three) when unset.
PAGES_ASKED = [name for name in os.environ.get("BENCH_PAGES", "").split(",") if name]
WARMUP = 3
# The single reads pick from this many numbers of the mirror at most: wrk's Lua holds
# the list in each thread, and with a million strings in it its garbage collector held
# wrk's threads up: the reads' p99 measured wrk (66.7 ms against 12.5 ms with 20,000,
# the same server; bench/README, 1 December, 19:00).
READ_SAMPLE = 100_000
BARE_BODY_ENV = "BENCH_BARE_BODY_FILE"
BARE_PAGE_ENV = "BENCH_BARE_PAGE_FILE"
PAGE = "/v1/numbers?limit=50"
# Holders and pools of the bench's numbers: four tenants hold 40 % of them, two pools hold
# 20 % (fixed ids, so the list pages below can filter by them).
TENANTS = [uuid.UUID(int=0x7E0 + i) for i in range(4)]
POOLS = [uuid.UUID(int=0x900 + i) for i in range(2)]
TENANT_KEY = "sn_tenant_" + secrets.token_urlsafe(32)

# Mobile ranges with the lengths libphonenumber accepts: (country, prefix, digits after it).
RANGES = [
    ("DE", "49151", 8),
    ("DE", "49160", 7),
    ("DE", "49176", 8),
    ("AT", "43664", 7),
    ("GB", "447700", 6),
    ("DK", "452", 7),
    ("FR", "336", 8),
    ("NL", "316", 8),
]
NAMES = ["", "", "Support", "Sales hotline", "2FA sender", "Berlin office", "Alerts"]


def create_bare_app() -> Litestar:
    """The baselines (uvicorn --factory): a constant JSON document and nothing else, as
    large as one number (``/bare``) and as a page of 50 (``/bare-page``)."""
    body = Path(os.environ[BARE_BODY_ENV]).read_bytes()
    page = Path(os.environ[BARE_PAGE_ENV]).read_bytes()

    @get("/bare", sync_to_thread=False)
    def bare() -> Response[bytes]:
        return Response(body, media_type="application/json")

    @get("/bare-page", sync_to_thread=False)
    def bare_page() -> Response[bytes]:
        return Response(page, media_type="application/json")

    return Litestar(route_handlers=[bare, bare_page], openapi_config=None)


# ---------------------------------------------------------------- the data


def numbers(seed: int = 3) -> Iterator[tuple[str, str]]:
    """``COUNT`` distinct (country, number) pairs, spread over the ranges."""
    rng = random.Random(seed)
    seen: set[str] = set()
    while len(seen) < COUNT:
        country, prefix, digits = rng.choice(RANGES)
        number = prefix + str(rng.randrange(10**digits)).zfill(digits)
        if number not in seen:
            seen.add(number)
            yield country, number


def _read_sample(numbers: Iterable[str]) -> list[str]:
    """At most READ_SAMPLE of ``numbers``, spread over all of them (every n-th of an
    order that is random already): the numbers the single reads pick from."""
    numbers = list(numbers)
    return numbers[:: max(1, len(numbers) // READ_SAMPLE)][:READ_SAMPLE]


def records(rng: random.Random) -> Iterator[tuple[object, ...]]:
    now = datetime.now(UTC)
    for country, number in numbers():
        monthly = rng.random() < 0.3
        basic = Decimal("29.9") if monthly else Decimal("238.8")
        created = datetime(2024, rng.randint(1, 12), rng.randint(1, 28), 12, 0, tzinfo=UTC)
        state = rng.choices(["active", "deleting", "deleted"], [90, 5, 5])[0]
        holder, pool = None, None
        if (share := rng.random()) < 0.4:
            holder = TENANTS[int(share * 10)]
        elif share < 0.6:
            pool = POOLS[int(share * 10) % 2]
        forward = {
            "sms": {"number": ["4917612345678"] if rng.random() < 0.2 else [], "enabled": False},
            "email": {"address": [], "enabled": False},
        }
        yield (
            number,
            country,
            rng.choice(NAMES),
            "monthly" if monthly else "annually",
            Decimal("19.9"),
            basic,
            Decimal("0"),
            Decimal("0.01"),
            True,
            rng.random() < 0.5,
            rng.random() < 0.7,
            json.dumps(forward),
            created.strftime("%Y-%m-%d %H:%M:%S"),
            None,
            created,
            None,
            state,
            now,
            holder,
            pool,
        )


COLUMNS = ["number", *SEVEN_COLUMNS, "state", "synced_at", "tenant_id", "pool_id"]


async def _recreate_database() -> str:
    return await create_database(POSTGRES_URL, DATABASE, migrate=True)


async def _drop_database() -> None:
    await drop_database(POSTGRES_URL, DATABASE)


async def _fill(database_url: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        # Streamed: a million rows held at once would cost the bench ~1 GB.
        rows = records(random.Random(11))
        await connection.executemany(
            "INSERT INTO tenants (id, name) VALUES ($1, $2)",
            [(tenant, f"bench tenant {i}") for i, tenant in enumerate(TENANTS)],
        )
        await connection.executemany(
            "INSERT INTO pools (id, name) VALUES ($1, $2)",
            [(pool, f"bench pool {i}") for i, pool in enumerate(POOLS)],
        )
        await connection.copy_records_to_table("numbers", records=rows, columns=COLUMNS)
        del rows
        await connection.execute("ANALYZE numbers")
    finally:
        await connection.close()


async def _issue_tenant_key(database_url: str) -> None:
    """This run's key of the first tenant (a kept database holds an earlier run's)."""
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute("DELETE FROM api_keys WHERE name = 'bench'")
        await connection.execute(
            "INSERT INTO api_keys (id, scope, tenant_id, name, prefix, key_hash)"
            " VALUES ($1, 'tenant', $2, 'bench', $3, $4)",
            uuid.uuid4(),
            TENANTS[0],
            TENANT_KEY[:16],
            hash_key(TENANT_KEY),
        )
    finally:
        await connection.close()


async def _held_count() -> int | None:
    """How many numbers the scratch database holds; None when there is none."""
    connection = await asyncpg.connect(POSTGRES_URL)
    try:
        if not await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE):
            return None
    finally:
        await connection.close()
    connection = await asyncpg.connect(_database_url())
    try:
        return int(await connection.fetchval("SELECT count(*) FROM numbers"))
    finally:
        await connection.close()


def _database_url() -> str:
    return urlunsplit(urlsplit(POSTGRES_URL)._replace(path=f"/{DATABASE}"))


def prepare() -> str:
    """A migrated scratch database holding ``COUNT`` numbers; its URL."""
    if KEEP_DATABASE and asyncio.run(_held_count()) == COUNT:
        print(f"reusing {DATABASE}: {COUNT:,} numbers")
        asyncio.run(_issue_tenant_key(_database_url()))
        return _database_url()
    url = asyncio.run(_recreate_database())
    started = time.perf_counter()
    asyncio.run(_fill(url))
    asyncio.run(_give_tenant_numbers(url))
    asyncio.run(_issue_tenant_key(url))
    print(f"mirrored {COUNT:,} numbers in {time.perf_counter() - started:.1f} s (COPY)")
    return url


# ---------------------------------------------------------------- serving


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Served:
    """A running ``uvicorn``: its base URL and process, and when it was started."""

    base: str
    process: subprocess.Popen[bytes]
    started: float  # time.monotonic() just before the process was started

    def workers(self) -> list[int]:
        """The worker processes' ids (uvicorn's children that run the app)."""
        found = []
        for pid in _children(self.process.pid):
            with contextlib.suppress(OSError):
                if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    found.append(pid)
        return sorted(found)


def _children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in children]


def memory_mb(pid: int) -> tuple[float, float]:
    """A process's resident memory now and at its peak (``VmRSS``, ``VmHWM``), in MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    kb = {k: float(v.split()[0]) for k, v in re.findall(r"^(VmRSS|VmHWM):\s+(.*)$", status, re.M)}
    return kb["VmRSS"] / 1024, kb["VmHWM"] / 1024


@contextlib.contextmanager
def serve(app: str, env: dict[str, str], log: Path, *extra: str) -> Iterator[Served]:
    """``uvicorn APP --workers 2 --no-access-log`` on a free port, answering."""
    port = _free_port()
    argv = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--workers", str(WORKERS), "--no-access-log", *extra]
    started = time.monotonic()
    with log.open("ab") as sink:
        process = subprocess.Popen(
            argv, cwd=ROOT, env={**os.environ, **env}, stdout=sink, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(process, base, log)
        yield Served(base, process, started)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _wait_until_up(process: subprocess.Popen[bytes], base: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"server exited with {process.returncode}:\n{log.read_text()[-2000:]}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{base}/health/live", timeout=1).status_code < 500:
                return
        time.sleep(0.02)
    sys.exit(f"server did not answer within 60 s:\n{log.read_text()[-2000:]}")


def time_to_answer(served: Served, path: str, key: str | None = None) -> float:
    """Seconds from the server's start to its first 200 at ``path`` (polled every 20 ms)."""
    headers = {} if key is None else {"X-Api-Key": key}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(served.base + path, headers=headers, timeout=2).status_code == 200:
                return time.monotonic() - served.started
        time.sleep(0.02)
    sys.exit(f"{path} did not answer 200 within 60 s")


def _wait_for_log(log: Path, event: str, count: int, within: float = 900) -> list[dict]:
    """The first ``count`` JSON log lines of ``event`` in ``log``, waiting for them."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = [
            line
            for line in map(_json_or_none, log.read_text().splitlines())
            if line is not None and line.get("event") == event
        ]
        if len(found) >= count:
            return found[:count]
        time.sleep(0.2)
    sys.exit(f"no {count} {event} lines within {within} s:\n{log.read_text()[-2000:]}")


def _trouble(log: Path) -> list[dict]:
    """The lines of ``log`` at warning level and above, and each cache emptied: a worker
    whose cache was emptied reads the mirror again, and figures taken meanwhile measure
    that reload, not the cache."""
    lines = map(_json_or_none, log.read_text().splitlines())
    serious = {"warning", "error", "critical"}
    return [
        line
        for line in lines
        if line and (line.get("level") in serious or line.get("event") == "cache_emptied")
    ]


def _json_or_none(line: str) -> dict | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


# ---------------------------------------------------------------- load


@dataclass(frozen=True)
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str | None) -> float:
    """wrk's ``812.00us`` / ``1.23ms`` / ``2.01s`` in milliseconds (NaN when absent)."""
    found = re.fullmatch(r"([\d.]+)(us|ms|s)", text or "")
    return float(found.group(1)) * _UNITS[found.group(2)] if found else math.nan


def _number(pattern: str, text: str) -> float:
    found = re.search(pattern, text)
    return float(found.group(1)) if found else 0.0


def wrk(name: str, url: str, script: Path, duration: int) -> Result:
    argv = ["wrk", "-t2", f"-c{CONCURRENCY}", f"-d{duration}s", "--latency", "-s", str(script)]
    out = subprocess.run([*argv, url], check=True, capture_output=True, text=True).stdout
    percentiles = dict(re.findall(r"^\s+(\d+)%\s+(\S+)\s*$", out, re.MULTILINE))
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    # wrk counts a request still unanswered after 2 s as a timeout: an error here too.
    errors = sum(map(int, socket_errors.groups())) if socket_errors else 0
    errors += int(_number(r"Non-2xx or 3xx responses: (\d+)", out))
    return Result(
        name=name,
        rps=_number(r"Requests/sec:\s+([\d.]+)", out),
        p50_ms=_ms(percentiles.get("50")),
        p99_ms=_ms(percentiles.get("99")),
        requests=int(_number(r"(\d+) requests in", out)),
        errors=errors,
    )


def lua_script(
    directory: Path, path: str, numbers_file: Path | None = None, key: str = ADMIN_KEY
) -> Path:
    """A wrk script: the key (the admin's unless given) on every request, and a random
    number if asked."""
    lines = [f'wrk.headers["X-Api-Key"] = "{key}"']
    if numbers_file is None:
        lines.append(f'wrk.path = "{path}"')
    else:
        lines += [
            "local numbers = {}",
            f'for line in io.lines("{numbers_file}") do numbers[#numbers + 1] = line end',
            "math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))",
            "request = function()",
            f'  return wrk.format("GET", "{path}" .. numbers[math.random(#numbers)])',
            "end",
        ]
    script = directory / f"{abs(hash((path, numbers_file, key)))}.lua"
    script.write_text("\n".join(lines) + "\n")
    return script


def measure(name: str, url: str, script: Path) -> Result:
    wrk(name, url, script, WARMUP)  # warm caches, pools and compiled statements first
    return wrk(name, url, script, DURATION)


# ---------------------------------------------------------------- main


def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("bench/reads.py needs wrk: apt-get install -y wrk (Debian/Ubuntu)")
    database_url = prepare()
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        # The reads never call seven; the client only needs a well-formed setting.
        "SEVEN_API_KEY": "bench-unused",
        "SEVEN_BASE_URL": "http://127.0.0.1:9/api",
        "ADMIN_API_KEY": ADMIN_KEY,
    }
    try:
        with tempfile.TemporaryDirectory(prefix="bench-reads-") as tmp:
            groups, sizes, process = run_loads(Path(tmp), env)
    finally:
        if not KEEP_DATABASE:
            asyncio.run(_drop_database())
    report(groups, sizes)
    report_process(process)


# The list pages measured: each filter with a value that fills the page, and a tenant key.
LIST_PAGES = [
    ("", ADMIN_KEY),
    ("&country=DE", ADMIN_KEY),
    (f"&tenant={TENANTS[1]}", ADMIN_KEY),
    (f"&pool={POOLS[0]}", ADMIN_KEY),
    ("&state=deleting", ADMIN_KEY),
    ("&q=hotline", ADMIN_KEY),
    ("", TENANT_KEY),
]


def list_pages() -> list[tuple[str, str]]:
    """The list pages this run measures (``BENCH_PAGES``, ``BENCH_QUICK``)."""
    if PAGES_ASKED:
        return [page for page in LIST_PAGES if _page_name(*page) in PAGES_ASKED]
    return LIST_PAGES[:2] + LIST_PAGES[-1:] if QUICK else LIST_PAGES


def _page_name(query: str, key: str) -> str:
    return "tenant-key" if key == TENANT_KEY else query.lstrip("&") or "none"


@dataclass
class Process:
    """What the served API's start-up and memory came to (issue 18, part 3)."""

    first_answer: dict[str, float]  # seconds from start to the first 200, by request
    loads: list[dict]  # each worker's number_cache_loaded log line
    during_load: Result | None  # single reads while the workers loaded their caches
    memory: dict[str, dict[int, tuple[float, float]]]  # when -> pid -> (RSS, peak) MB
    trouble: list[dict]  # the API's log lines at warning and above, in order


def run_loads(work: Path, env: dict[str, str]) -> tuple[list[list[Result]], list[int], Process]:
    """Both servers up at once, loaded one after the other (an idle server costs nothing).

    Two groups, each led by its bare endpoint: the single read (and ``/v1/whoami``)
    against a document as large as one number, the list pages against one as large as
    the first page of 50. Before them, the API's start-up: how soon it answers, single
    reads while its workers load their caches, and each worker's memory.
    """
    numbers_file = work / "numbers.txt"
    numbers_file.write_text("\n".join(_read_sample(number for _, number in numbers())) + "\n")
    sample = next(numbers())[1]
    reads = lua_script(work, "/v1/numbers/", numbers_file)
    with serve("app.serve:app", env, work / "api.log") as api:
        base = api.base
        first_answer = {
            "GET /health/live": time_to_answer(api, "/health/live"),
            "GET /v1/numbers/{number}": time_to_answer(api, f"/v1/numbers/{sample}", ADMIN_KEY),
        }
        during = None
        if DURING_LOAD:
            during = wrk("GET /v1/numbers/{number} during the load", base, reads, DURING_LOAD)
        # Each worker loads the mirror into its cache after start-up (seconds of CPU):
        # nothing else is measured until both are done, or the load would slow the bare run.
        loads = _wait_for_log(work / "api.log", "number_cache_loaded", WORKERS)
        memory = {"loaded": {pid: memory_mb(pid) for pid in api.workers()}}
        document = _fetch(f"{base}/v1/numbers/{sample}", work / "bare.json")
        page = _fetch(f"{base}{PAGE}", work / "bare-page.json")
        bare_env = {
            BARE_BODY_ENV: str(work / "bare.json"),
            BARE_PAGE_ENV: str(work / "bare-page.json"),
        }
        bare_app = ("reads:create_bare_app", "--factory", "--app-dir", str(ROOT / "bench"))
        with serve(bare_app[0], bare_env, work / "bare.log", *bare_app[1:]) as bare:
            single = [
                measure("bare Litestar (same JSON)", bare.base, lua_script(work, "/bare")),
                measure("GET /v1/numbers/{number}", base, reads),
                # No database at all: what the service's middleware stack alone allows.
                measure("GET /v1/whoami (no DB)", base, lua_script(work, "/v1/whoami")),
            ]
            if not QUICK:
                single += tenant_key_loads(work, base)
            pages = [
                measure("bare Litestar (same page)", bare.base, lua_script(work, "/bare-page"))
            ]
            for query, key in list_pages():
                name = PAGE + (query or "") + (" (tenant key)" if key == TENANT_KEY else "")
                pages.append(measure(name, base, lua_script(work, PAGE + query, key=key)))
        memory["end"] = {pid: memory_mb(pid) for pid in api.workers()}
    process = Process(first_answer, loads, during, memory, _trouble(work / "api.log"))
    return [single, pages], [len(document), len(page)], process


# ---------------------------------------------------------------- tenant keys (issue 18)

TENANT_ID = "7e7a0000-0000-4000-8000-000000000018"
TENANT_SHARE = 10  # every 10th number is the tenant's


async def _give_tenant_numbers(database_url: str) -> None:
    """A tenant holding every ``TENANT_SHARE``th number, as services hold theirs."""
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(
            "INSERT INTO tenants (id, name) VALUES ($1, 'bench tenant')", TENANT_ID
        )
        held = [number for _, number in numbers()][::TENANT_SHARE]
        await connection.execute(
            "UPDATE numbers SET tenant_id = $1 WHERE number = ANY($2)", TENANT_ID, held
        )
    finally:
        await connection.close()


def tenant_key_loads(work: Path, base: str) -> list[Result]:
    """The tenant's numbers and ``/v1/whoami``, each with the admin key and the tenant's."""
    issued = httpx.post(
        f"{base}/v1/tenants/{TENANT_ID}/keys",
        json={"name": "bench"},
        headers={"X-Api-Key": ADMIN_KEY},
    )
    issued.raise_for_status()
    tenant_key = issued.json()["key"]
    held_file = work / "tenant_numbers.txt"
    held = [number for _, number in numbers()][::TENANT_SHARE]
    held_file.write_text("\n".join(_read_sample(held)) + "\n")
    keys = {"admin": ADMIN_KEY, "tenant": tenant_key}
    routes = {
        "GET /v1/numbers/{tenant's}": ("/v1/numbers/", held_file),
        "GET /v1/whoami": ("/v1/whoami", None),
    }
    results = []
    for route, (path, numbers_file) in routes.items():
        # Admin, tenant, tenant, admin: the neighbours' load drifts during a run, and the
        # order cancels a steady drift out of the ratio.
        runs: dict[str, list[Result]] = {"admin": [], "tenant": []}
        for who in ["admin", "tenant", "tenant", "admin"]:
            script = lua_script(work, path, numbers_file, keys[who])
            runs[who].append(measure(f"{route} {who}", base, script))
        results += [_combined(runs["admin"]), _combined(runs["tenant"])]
    return results


def _combined(runs: list[Result]) -> Result:
    """Runs of one load as one: mean rate and median, the worst p99, all errors."""
    return Result(
        name=runs[0].name,
        rps=sum(r.rps for r in runs) / len(runs),
        p50_ms=sum(r.p50_ms for r in runs) / len(runs),
        p99_ms=max(r.p99_ms for r in runs),
        requests=sum(r.requests for r in runs),
        errors=sum(r.errors for r in runs),
    )


def report_tenant_keys(results: list[Result]) -> None:
    """Each tenant-key run against the admin-key run before it (target >= 0.90)."""
    by_name = {r.name: r for r in results}
    print("\ntenant key / admin key, same route (target >= 0.90, no errors):")
    for route in ["GET /v1/numbers/{tenant's}", "GET /v1/whoami"]:
        admin, tenant = by_name[f"{route} admin"], by_name[f"{route} tenant"]
        ratio = tenant.rps / admin.rps
        ok = ratio >= 0.90 and tenant.errors == 0
        print(f"  {route:28} {ratio:6.2f}  {'met' if ok else 'NOT met'}")


def _fetch(url: str, into: Path) -> bytes:
    """The admin's answer at ``url``, kept in ``into`` (a bare endpoint's body)."""
    answer = httpx.get(url, headers={"X-Api-Key": ADMIN_KEY})
    answer.raise_for_status()
    into.write_bytes(answer.content)
    return answer.content


def report(groups: list[list[Result]], sizes: list[int]) -> None:
    print(
        f"\nwrk, {CONCURRENCY} connections, 2 threads, {DURATION} s each (after {WARMUP} s "
        f"warm-up); uvicorn --workers {WORKERS} --no-access-log; {os.cpu_count()} CPUs; "
        f"documents {sizes[0]} bytes (one number) and {sizes[1]} bytes (a page of 50); "
        f"{COUNT:,} numbers mirrored"
    )
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"load average at the end (1, 5, 15 min): {load}")
    for results in groups:
        baseline = results[0].rps
        print(
            f"\n{'endpoint':58} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'err':>5} {'vs bare':>8}"
        )
        for r in results:
            print(
                f"{r.name:58} {r.rps:7.0f} {r.p50_ms:7.2f} {r.p99_ms:7.2f} {r.errors:5d} "
                f"{r.rps / baseline:8.1%}"
            )
    single, pages = groups
    print()
    _target("single read", single[0], single[1:2])
    _target("list pages", pages[0], pages[1:])
    if not QUICK:
        report_tenant_keys(single)


def report_process(process: Process) -> None:
    """Issue 18, part 3: each API process under 300 MB, answering within 2 s of start."""
    size = os.environ.get("NUMBER_CACHE_SIZE", "the default")
    print(f"\nthe API process ({COUNT:,} numbers mirrored, NUMBER_CACHE_SIZE {size}):")
    for request, seconds in process.first_answer.items():
        print(f"  first 200 to {request:28} {seconds:6.2f} s after start (target < 2 s)")
    for line in process.loads:
        print(f"  a worker's cache loaded {line['numbers']:,} numbers in {line['seconds']} s")
    if (r := process.during_load) is not None:
        print(
            f"  single reads during the load: {r.rps:.0f} req/s, p50 {r.p50_ms:.2f} ms, "
            f"p99 {r.p99_ms:.2f} ms, {r.errors} errors"
        )
    for when, workers in process.memory.items():
        for pid, (rss, peak) in workers.items():
            verdict = "met" if peak < 300 else "NOT met"
            print(
                f"  worker {pid} {when:>6}: RSS {rss:6.0f} MB, peak {peak:6.0f} MB "
                f"(target < 300 MB: {verdict})"
            )
    print(f"  the API logged {len(process.trouble)} warnings and caches emptied")
    for line in process.trouble:
        said = {k: v for k, v in line.items() if k not in {"event", "level", "timestamp"}}
        print(f"    {line.get('timestamp')} {line['level']} {line['event']} {said}")


def _target(what: str, bare: Result, results: list[Result]) -> None:
    """Issue 3's and issue 18's targets: >= 25 % of bare, p99 under 20 ms, no errors."""
    missed = [r.name for r in results if r.rps < 0.25 * bare.rps or not r.p99_ms < 20 or r.errors]
    verdict = "met" if not missed else "NOT met by " + ", ".join(missed)
    print(f"target ({what} >= 25% of bare, p99 < 20 ms, no errors): {verdict}")


if __name__ == "__main__":
    main()
