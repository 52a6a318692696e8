"""CPU time as Linux accounts it (``/proc``): of a process tree, and of the whole machine.

Where an end-to-end rate stops growing, these say whether a process of ours or the
machine's cores are what is used up.
"""

from __future__ import annotations

import os
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) and int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def tree_seconds(pid: int) -> float:
    """User and system CPU seconds of ``pid`` and its children so far (a child that has
    ended is left out, so read it while they run)."""
    total = 0.0
    for each in (pid, *children(pid)):
        if fields := _stat(each):
            total += (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime
    return total


def machine() -> tuple[float, float]:
    """(busy, total) CPU seconds of all cores since boot; busy excludes idle and iowait."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    total = sum(values[:8])  # user nice system idle iowait irq softirq steal
    return (total - values[3] - values[4]) / _TICKS, total / _TICKS
