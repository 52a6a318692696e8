"""The sandbox's account kept on disk, so that ``make run`` finds it again after a restart.

Without it every start generated a new inventory: numbers ordered in an earlier run were
gone from seven's list and the generated ones had a new ``created``, so the first sync
against the kept mirror "removed" and "changed" them. With ``--state-dir DIR`` the sandbox
keeps in ``DIR/state.json`` what seven itself would keep: the numbers on offer, the active
numbers and the order ledger. Faults, the request log, pending (``visible_after_ms``)
writes and the control API's config are test fixtures and start empty on every run.

The file is written after every change (the account is small in development: a write takes
milliseconds), atomically: a temporary file in the same folder, flushed to disk, then
renamed over the old one, so a Ctrl-C or a crash leaves either the old or the new account,
never half of one. ``POST /_sandbox/reset`` goes back to the account as it was loaded,
its ledger emptied.
"""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

from app.seven.types import ActiveNumber, AvailableNumber
from sandbox.state import ENCODER, LedgerEntry, SandboxState

STATE_FILE = "state.json"
VERSION = 1


class Snapshot(msgspec.Struct, kw_only=True):
    """What ``state.json`` holds; ``available`` names the catalog's numbers still on sale."""

    version: int = VERSION
    catalog: list[AvailableNumber]
    available: list[str]
    active: list[ActiveNumber]
    ledger: dict[str, list[LedgerEntry]]


_DECODER = msgspec.json.Decoder(Snapshot)


class StateFile:
    """``folder/state.json``: :meth:`open` loads or generates the account, then keeps it saved."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / STATE_FILE

    def open(self, seed: int, active_count: int, available_per_country: int) -> SandboxState:
        """The kept account, or a generated one (saved at once) when there is none yet."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.path.is_file():
            state = _restore(_DECODER.decode(self.path.read_bytes()), seed, available_per_country)
        else:
            state = SandboxState(
                seed=seed, active_count=active_count, available_per_country=available_per_country
            )
            self.save(state)
        state.on_change = self.save
        return state

    def save(self, state: SandboxState) -> None:
        snapshot = Snapshot(
            catalog=list(state.catalog.values()),
            available=list(state.available),
            active=list(state.active.values()),
            ledger=state.ledger,
        )
        temporary = self.path.with_name(f".{STATE_FILE}.{os.getpid()}.tmp")
        with temporary.open("wb") as fh:
            fh.write(ENCODER.encode(snapshot))
            fh.flush()
            os.fsync(fh.fileno())
        temporary.replace(self.path)


def _restore(snapshot: Snapshot, seed: int, available_per_country: int) -> SandboxState:
    if snapshot.version != VERSION:
        raise ValueError(f"unknown sandbox state version {snapshot.version}")
    state = SandboxState(
        seed=seed,
        active_count=len(snapshot.active),
        available_per_country=available_per_country,
        generate=False,
    )
    state.restore(
        {n.number: n for n in snapshot.catalog},
        snapshot.available,
        {n.number: n for n in snapshot.active},
        snapshot.ledger,
    )
    return state
