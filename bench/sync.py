"""Sync benchmark: 100,000 active numbers at the sandbox, synced by the real worker.

    .venv/bin/python bench/sync.py                      (or: make bench-sync)
    .venv/bin/python bench/sync.py --numbers 1000000    (issue 18: a million numbers)

What it does, in one run:

1. creates a scratch database (``BENCH_DATABASE``, default ``bench_sync``), migrated
   with ``alembic upgrade head``, and starts the sandbox with ``--active 100000``
   (``--numbers``) as a subprocess;
2. **the floor** against **the first sync**, three rounds of each, taken in turns (floor,
   first sync, floor, ...) so that both meet the same moments of a shared machine, and
   the best of each compared (the same statistic on both sides). The floor: fetch
   seven's list with httpx, decode it with msgspec into the client's types, build the
   COPY rows and COPY them into an unlogged scratch table without indexes
   (``bench_floor``) - the least any sync must do. The first sync: a ``sync``
   operation run by the real worker (``python -m workers --burst``, one process per
   sync) into the empty mirror, which is emptied again (``TRUNCATE``) before the next round;
3. then, after the last first sync, an unchanged re-sync and one after 1% of the
   numbers changed at seven (a third each: friendly name, basic charge, a deletion
   scheduled at period end), each by its own worker process as well;
4. for each: the run's own time (``sync_runs.finished_at - started_at``), its phases
   (from the worker's ``sync_finished`` log line), the worker's peak RSS (``VmHWM``
   from ``/proc``, see ``run_measured``), and the mirror rows written, counted twice:
   ``pg_stat_user_tables`` (inserted/updated/deleted) and rows whose ``xmin`` is newer
   than the sync (written by it, even with equal values);
5. prints the figures against the targets (issue 18): first sync <= 1.5x the floor, the
   unchanged re-sync writing 0 rows in under 1x the floor, the worker's peak memory
   under 400 MB; and each sync's time as a ratio of the floor.

The sandbox's list is fetched once before anything is measured, and again after the
changes: the sandbox encodes its list once per change, which seven's side would do in
its own time, not ours. Environment: ``BENCH_POSTGRES_URL`` (maintenance database,
default ``postgresql://postgres@127.0.0.1:5432/postgres``), ``BENCH_REDIS_URL``
(default ``redis://127.0.0.1:6379/13``), ``BENCH_DATABASE`` (default ``bench_sync``:
another name lets two runs go side by side), ``BENCH_NUMBERS`` (default 100000, or
``--numbers``), ``BENCH_REVISION`` (the schema's alembic revision, default ``head``),
``BENCH_ROUNDS`` (default 3) and ``BENCH_FIRST_ONLY=1`` (the rounds of floor and first
sync only: a million numbers inside one short hold of the machine).

A first sync's run ends at its commit; the secondary indexes it leaves to be built after
it (``app/sync/indexes.py``) are timed apart (``indexes_after``), and the first sync is
also printed with them added.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402
import msgspec  # noqa: E402
import redis.asyncio as redis  # noqa: E402

from app.lib.queue import create_queue, enqueue_operation  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.seven.types import ActiveNumbersResponse  # noqa: E402
from app.sync.rows import COPY_SUFFIX, INCOMING_COLUMNS, RowCounter  # noqa: E402
from bench.common import POSTGRES_URL, redis_url  # noqa: E402
from tests.support.db import alembic, create_database, drop_database  # noqa: E402
from tests.support.sandbox import SandboxProcess  # noqa: E402

NUMBERS = int(os.environ.get("BENCH_NUMBERS", "100000"))
REDIS_URL = redis_url(13)
DATABASE = os.environ.get("BENCH_DATABASE", "bench_sync")
# The schema's revision (default the head): an earlier one measures the sync under the
# triggers as they were, beside a run at the head.
REVISION = os.environ.get("BENCH_REVISION", "head")
# Floor and first sync, in turns; the best of each is compared.
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
# Only the rounds of floor and first sync (a million numbers inside one short hold of the
# shared machine); the re-syncs and the targets are then not measured.
FIRST_ONLY = os.environ.get("BENCH_FIRST_ONLY", "") not in ("", "0")
CHANGED_SHARE = 100  # every 100th number: 1%
TARGET_RATIO = 1.5
TARGET_UNCHANGED_RATIO = 1.0
TARGET_MEMORY_MB = 400
# The sandbox builds and encodes a million numbers in about a minute on a busy machine.
SANDBOX_STARTUP_SECONDS = 600
LIST_TIMEOUT_SECONDS = 600


@dataclass
class SyncFigures:
    name: str
    process_seconds: float
    run_seconds: float
    phases: dict[str, float]
    peak_mb: float
    counts: dict[str, int]
    drift: int
    stat_writes: dict[str, int]
    xmin_rows: int


async def create_scratch_database() -> str:
    url = await create_database(POSTGRES_URL, DATABASE)
    await alembic(url, "upgrade", REVISION)
    return url


async def drop_scratch_database() -> None:
    await drop_database(POSTGRES_URL, DATABASE)


async def floor_once(sandbox: SandboxProcess, url: str) -> dict[str, float]:
    """Fetch, decode, build rows, COPY into a table with no index: the least a sync does."""
    decoder = msgspec.json.Decoder(ActiveNumbersResponse)
    conn = await asyncpg.connect(url)
    await conn.set_type_codec(
        "jsonb",
        encoder=lambda s: b"\x01" + s.encode(),
        decoder=bytes,
        schema="pg_catalog",
        format="binary",
    )
    try:
        await conn.execute("DROP TABLE IF EXISTS bench_floor")
        copied = (*INCOMING_COLUMNS, *COPY_SUFFIX)  # the sync's COPY rows
        columns = ", ".join(copied)  # constants, not input
        scratch = f"CREATE UNLOGGED TABLE bench_floor AS SELECT {columns} FROM numbers WITH NO DATA"  # noqa: S608
        await conn.execute(scratch)
        async with httpx.AsyncClient(timeout=LIST_TIMEOUT_SECONDS) as client:
            started = time.perf_counter()
            response = await client.get(
                f"{sandbox.base_url}/numbers/active", headers={"X-Api-Key": sandbox.api_key}
            )
            fetched = time.perf_counter()
            # The whole list at once, the cyclic GC paused while msgspec builds 100,000
            # structs: the quickest way to decode it (0.2 s instead of 0.7 s).
            gc.disable()
            try:
                numbers = decoder.decode(response.content).active_numbers
            finally:
                gc.enable()
            decoded = time.perf_counter()
            rows = list(RowCounter(numbers))
            built = time.perf_counter()
            await conn.copy_records_to_table("bench_floor", records=rows, columns=copied)
            copied = time.perf_counter()
        # The sandbox's generator may draw a number twice: it lists each once.
        assert len(rows) == len(numbers) > NUMBERS * 0.99, len(rows)
    finally:
        await conn.execute("DROP TABLE IF EXISTS bench_floor")
        await conn.close()
    return {
        "total": copied - started,
        "fetch": fetched - started,
        "decode": decoded - fetched,
        "rows": built - decoded,
        "copy": copied - built,
    }


async def mirror_writes(conn: asyncpg.Connection) -> dict[str, int]:
    """Inserted/updated/deleted tuples of ``numbers``, once the worker's sessions are gone."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        others = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        if others == 0:
            break
        await asyncio.sleep(0.05)
    await conn.execute("SELECT pg_stat_clear_snapshot()")
    row = await conn.fetchrow(
        "SELECT n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables WHERE relname = 'numbers'"
    )
    return {"inserted": row["n_tup_ins"], "updated": row["n_tup_upd"], "deleted": row["n_tup_del"]}


async def run_worker_sync(name: str, settings: Settings, conn: asyncpg.Connection) -> SyncFigures:
    """One sync operation, carried out by a fresh burst worker; its figures."""
    before_writes = await mirror_writes(conn)
    since_xid = await conn.fetchval("SELECT txid_current()")
    operation_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO operations (id, kind, status, params) VALUES ($1, 'sync', 'queued', '{}')",
        operation_id,
    )
    queue = create_queue(settings.redis_url)
    try:
        await enqueue_operation(queue, operation_id, "sync")
    finally:
        await queue.aclose()

    with tempfile.NamedTemporaryFile(prefix="bench-sync-worker-", suffix=".log") as log:
        started = time.perf_counter()
        code, peak_kb = await run_measured(settings, log)
        elapsed = time.perf_counter() - started
        output = await asyncio.to_thread(Path(log.name).read_text, errors="replace")
    if code != 0:
        raise SystemExit(f"the worker exited with {code}:\n{output[-3000:]}")

    operation = await conn.fetchrow(
        "SELECT status, result, error_message FROM operations WHERE id = $1", operation_id
    )
    if operation["status"] != "succeeded":
        raise SystemExit(f"{name}: the sync operation {operation['status']}:\n{output[-3000:]}")
    run = await conn.fetchrow(
        "SELECT *, extract(epoch FROM finished_at - started_at) AS seconds,"
        " (SELECT count(*) FROM sync_drift d WHERE d.run_id = r.id) AS drift"
        " FROM sync_runs r WHERE operation_id = $1",
        operation_id,
    )
    written = await conn.fetchval(
        "SELECT count(*) FROM numbers WHERE xmin::text::bigint > $1", since_xid
    )
    after_writes = await mirror_writes(conn)
    return SyncFigures(
        name=name,
        process_seconds=elapsed,
        run_seconds=float(run["seconds"]),
        phases=_phases(output),
        peak_mb=peak_kb / 1024,
        counts={k: run[k] for k in ("fetched", "added", "changed", "removed", "unchanged")},
        drift=run["drift"],
        stat_writes={k: after_writes[k] - before_writes[k] for k in after_writes},
        xmin_rows=written,
    )


def _phases(worker_output: str) -> dict[str, float]:
    """The run's phases (``sync_finished``) and, as ``indexes_after``, the builds the first
    sync left until after its commit (``deferred_indexes_built``, app/sync/indexes.py)."""
    phases: dict[str, float] = {}
    for line in worker_output.splitlines():
        if '"sync_finished"' in line:
            record = json.loads(line)
            phases.update(
                (k.removesuffix("_seconds"), v) for k, v in record.items() if k.endswith("_seconds")
            )
        elif '"deferred_indexes_built"' in line:
            phases["indexes_after"] = json.loads(line)["seconds"]
    return phases


def with_index_builds(sync: SyncFigures) -> float:
    """The run's time plus the index builds it left until after its commit."""
    return sync.run_seconds + sync.phases.get("indexes_after", 0.0)


def change_one_percent(sandbox: SandboxProcess) -> int:
    """Change every 100th number at seven, through the sandbox's control API; each change
    differs from what the number had (a name, a higher basic charge, a new expiry)."""
    with httpx.Client(timeout=LIST_TIMEOUT_SECONDS) as client:
        listed = client.get(
            f"{sandbox.base_url}/numbers/active", headers={"X-Api-Key": sandbox.api_key}
        )
    numbers = msgspec.json.decode(listed.content)["activeNumbers"][::CHANGED_SHARE]
    with httpx.Client(base_url=sandbox.control_url, timeout=30) as control:
        for index, number in enumerate(numbers):
            change: dict[str, Any]
            if index % 3 == 0:
                change = {"friendly_name": f"Renamed {index}"}
            elif index % 3 == 1:
                fee = Decimal(str(number["billing"]["fees"]["basic_charge"])) + 1
                change = {"billing": {"fees": {"basic_charge": float(fee)}}}
            else:
                expires = "2031-01-31 00:00:00" if number["expires"] is None else None
                change = {"expires": expires}
            control.post("/active", json={"number": number["number"], **change}).raise_for_status()
    return len(numbers)


def warm(sandbox: SandboxProcess) -> None:
    """Let the sandbox encode its list now, so no measurement pays for seven's side."""
    with httpx.Client(timeout=LIST_TIMEOUT_SECONDS) as client:
        client.get(
            f"{sandbox.base_url}/numbers/active", headers={"X-Api-Key": sandbox.api_key}
        ).raise_for_status()


async def flush_redis() -> None:
    client = redis.from_url(REDIS_URL)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


async def empty_mirror(conn: asyncpg.Connection) -> None:
    """Back to an empty mirror with no run on record, so the next sync is a first sync."""
    await conn.execute("TRUNCATE numbers, sync_runs, operations CASCADE")
    await conn.execute("VACUUM ANALYZE numbers")


def print_rounds(floors: list[dict[str, float]], firsts: list[SyncFigures]) -> None:
    """Each round's pair, so the spread behind the best-of figures is visible."""
    print("\nrounds (floor s, first sync s, ratio; with the index builds after its commit):")
    for number, (floor, first) in enumerate(zip(floors, firsts, strict=True), start=1):
        ratio = first.run_seconds / floor["total"]
        whole = with_index_builds(first)
        print(
            f"  {number}: {floor['total']:.2f}  {first.run_seconds:.2f}  {ratio:.2f}x;"
            f"  {whole:.2f}  {whole / floor['total']:.2f}x"
        )


def print_first_only(floors: list[dict[str, float]], firsts: list[SyncFigures]) -> None:
    """What ``BENCH_FIRST_ONLY`` measures: the best floor, each first sync's phases."""
    floor = min(floors, key=lambda f: f["total"])
    print(f"\nfirst syncs only: {NUMBERS:,} numbers; best floor {floor['total']:.2f} s")
    for first in firsts:
        phases = " ".join(f"{k} {v:.2f}" for k, v in first.phases.items())
        print(f"  run {first.run_seconds:.2f} s, peak {first.peak_mb:.0f} MB: {phases}")
    best = min(f.run_seconds for f in firsts)
    whole = min(with_index_builds(f) for f in firsts)
    print(
        f"best first sync {best:.2f} s = {best / floor['total']:.2f}x the floor;"
        f" with the index builds after its commit {whole:.2f} s = {whole / floor['total']:.2f}x"
    )


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def report(
    floor: dict[str, float],
    syncs: list[SyncFigures],
    firsts: list[SyncFigures],
    idle_worker_mb: float,
    changed_at_seven: int,
) -> bool:
    print(f"\nsync benchmark: {NUMBERS:,} active numbers, {os.cpu_count()} CPUs\n")
    print(
        f"floor (best of {ROUNDS}): {floor['total']:.2f} s = fetch {floor['fetch']:.2f}"
        f" + decode {floor['decode']:.2f} + rows {floor['rows']:.2f} + COPY {floor['copy']:.2f}"
    )
    print(f"idle burst worker peak RSS: {idle_worker_mb:.0f} MB\n")
    header = (
        f"{'sync':<14}{'run s':>7}{'worker s':>9}{'peak MB':>9}  "
        f"{'fetched':>8}{'added':>8}{'changed':>8}{'removed':>8}{'unchgd':>8}{'drift':>7}"
        f"  {'ins/upd/del (pg_stat)':>22}{'xmin rows':>10}  phases (s)"
    )
    print(header)
    print("-" * len(header))
    for s in syncs:
        c = s.counts
        writes = (
            f"{s.stat_writes['inserted']}/{s.stat_writes['updated']}/{s.stat_writes['deleted']}"
        )
        phases = " ".join(f"{k} {v:.2f}" for k, v in s.phases.items())
        print(
            f"{s.name:<14}{s.run_seconds:>7.2f}{s.process_seconds:>9.2f}{s.peak_mb:>9.0f}  "
            f"{c['fetched']:>8}{c['added']:>8}{c['changed']:>8}{c['removed']:>8}"
            f"{c['unchanged']:>8}{s.drift:>7}  {writes:>22}{s.xmin_rows:>10}  {phases}"
        )
    first, unchanged, changed = syncs
    print(
        "\nratios to the floor: "
        + ", ".join(f"{s.name} {s.run_seconds / floor['total']:.2f}x" for s in syncs)
    )
    ratio = first.run_seconds / floor["total"]
    unchanged_ratio = unchanged.run_seconds / floor["total"]
    peak = max(s.peak_mb for s in syncs)
    unchanged_writes = sum(unchanged.stat_writes.values()) + unchanged.xmin_rows
    checks = [
        (
            f"first sync / floor, best of {ROUNDS} each = {ratio:.2f}x"
            f" (target <= {TARGET_RATIO:g}x)",
            ratio <= TARGET_RATIO,
        ),
        (f"unchanged re-sync wrote {unchanged_writes} rows (target 0)", unchanged_writes == 0),
        (
            f"unchanged re-sync / floor = {unchanged_ratio:.2f}x"
            f" (target < {TARGET_UNCHANGED_RATIO:g}x)",
            unchanged_ratio < TARGET_UNCHANGED_RATIO,
        ),
        (
            f"1% changed: {changed.counts['changed']} changed, "
            f"{sum(changed.stat_writes.values())} rows written",
            changed.counts["changed"] == changed_at_seven,
        ),
        (
            f"worker peak RSS {peak:.0f} MB (target < {TARGET_MEMORY_MB} MB)",
            peak < TARGET_MEMORY_MB,
        ),
    ]
    whole = min(with_index_builds(s) for s in firsts)
    print(
        f"\nfirst sync with the index builds it leaves until after its commit"
        f" (best of {ROUNDS}): {whole:.2f} s = {whole / floor['total']:.2f}x the floor"
    )
    print()
    for text, ok in checks:
        print(f"  [{verdict(ok)}] {text}")
    return all(ok for _, ok in checks)


async def main() -> int:
    url = await create_scratch_database()
    await flush_redis()
    sandbox = SandboxProcess.start(active=NUMBERS, startup_timeout=SANDBOX_STARTUP_SECONDS)
    try:
        warm(sandbox)
        settings = Settings(
            database_url=url.replace("postgresql://", "postgresql+asyncpg://", 1),
            redis_url=REDIS_URL,
            seven_api_key=sandbox.api_key,
            seven_base_url=sandbox.base_url,
            # The worker requires one (read from its environment); nothing here uses it.
            admin_api_key="sn_admin_" + secrets.token_urlsafe(32),
            # Once a day at midnight: no cron sync may sneak into a measurement.
            sync_interval_seconds=86400,
            log_level="INFO",
        )
        conn = await asyncpg.connect(url)
        try:
            idle = await idle_worker_peak(settings)
            floors, firsts = [], []
            for round_ in range(ROUNDS):
                if round_:
                    await empty_mirror(conn)
                floors.append(await floor_once(sandbox, url))
                firsts.append(await run_worker_sync("first (empty)", settings, conn))
            print_rounds(floors, firsts)
            if FIRST_ONLY:
                print_first_only(floors, firsts)
                return 0
            floor = min(floors, key=lambda f: f["total"])
            syncs = [min(firsts, key=lambda f: f.run_seconds)]
            syncs.append(await run_worker_sync("unchanged", settings, conn))
            changed = change_one_percent(sandbox)
            warm(sandbox)
            syncs.append(await run_worker_sync("1% changed", settings, conn))
        finally:
            await conn.close()
    finally:
        sandbox.stop()
        await drop_scratch_database()
        await flush_redis()
    return 0 if report(floor, syncs, firsts, idle, changed) else 1


async def idle_worker_peak(settings: Settings) -> float:
    """Peak RSS of a burst worker that finds nothing to do: what the sync adds is the rest."""
    _, peak_kb = await run_measured(settings, subprocess.DEVNULL)
    return peak_kb / 1024


async def run_measured(settings: Settings, output: Any) -> tuple[int, int]:
    """Run one burst worker; its exit code and peak RSS in kB.

    The peak is the kernel's ``VmHWM`` of the worker's own address space, read until it
    exits. ``ru_maxrss`` from ``wait4`` would not do: a forked child inherits its parent's
    high-water mark, and this process holds 100,000 decoded numbers from the floor.
    """
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "workers",
        "--burst",
        cwd=ROOT,
        env={**os.environ, **settings.to_env()},
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    peak_kb = 0
    while process.returncode is None:
        peak_kb = max(peak_kb, high_water_kb(process.pid))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), 0.02)
    return process.returncode, peak_kb


def high_water_kb(pid: int) -> int:
    """``VmHWM`` of a running process (0 once it is gone): a short read from /proc."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numbers", type=int, default=NUMBERS, help="active numbers at seven")
    NUMBERS = parser.parse_args().numbers
    started = time.perf_counter()
    code = asyncio.run(main())
    print(f"\nwhole benchmark: {time.perf_counter() - started:.0f} s")
    sys.exit(code)
