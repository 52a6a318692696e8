"""``--state-dir``: the sandbox's account (offer, active numbers, ledger) outlives a restart.

Each "start" is a new app over the same folder, as ``make run`` starts a new process;
the whole of ``make run`` across a restart is in ``tests/e2e/test_make_run.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar.testing import TestClient

from sandbox.http import create_sandbox_app

KEY = "sandbox-state-key"
HEADERS = {"X-Api-Key": KEY}


def _start(folder: Path | None, seed: int = 7) -> TestClient[Any]:
    app = create_sandbox_app(
        KEY, seed=seed, active_count=5, available_per_country=3, state_dir=folder
    )
    return TestClient(app=app)


def _account(client: TestClient[Any]) -> tuple[Any, Any, Any]:
    active = client.get("/api/numbers/active", headers=HEADERS).json()
    available = client.get("/api/numbers/available", headers=HEADERS).json()
    return active, available, client.get("/_sandbox/ledger").json()


def test_the_account_is_kept_between_starts_in_its_state_dir(tmp_path: Path) -> None:
    folder = tmp_path / "sandbox"
    with _start(folder) as first:
        number = first.get("/api/numbers/available", headers=HEADERS).json()["availableNumbers"][0]
        body = {"number": number["number"], "payment_interval": "monthly"}
        assert first.post("/api/numbers/order", json=body, headers=HEADERS).json()["success"]
        renamed = {"friendly_name": "kept"}
        other = first.get("/api/numbers/active", headers=HEADERS).json()["activeNumbers"][0]
        first.patch(f"/api/numbers/active/{other['number']}", json=renamed, headers=HEADERS)
        before = _account(first)

    # Another seed would generate other numbers: what it shows can only come from the folder.
    with _start(folder, seed=8) as second:
        after = _account(second)
    assert after == before
    active = {n["number"]: n for n in after[0]["activeNumbers"]}
    assert active[other["number"]]["friendly_name"] == "kept"
    assert number["number"] in active and number["number"] in after[2]
    assert number["number"] not in {n["number"] for n in after[1]["availableNumbers"]}
    assert not list(folder.glob(".*.tmp")), "a temporary file was left beside the state"


def test_without_a_state_dir_every_start_is_generated_anew(tmp_path: Path) -> None:
    with _start(None) as first:
        number = first.get("/api/numbers/available", headers=HEADERS).json()["availableNumbers"][0]
        body = {"number": number["number"], "payment_interval": "monthly"}
        assert first.post("/api/numbers/order", json=body, headers=HEADERS).json()["success"]
    with _start(None) as second:
        assert second.get("/_sandbox/ledger").json() == {}
    assert not list(tmp_path.iterdir())
