"""Fixtures for tests against the sandbox that imitates seven.

The session-wide ``sandbox`` fixture (one ``SandboxProcess``) lives in ``tests/conftest.py``
so every suite shares one server; here every test that uses it starts from the generated
inventory with no faults, an empty ledger and an empty request log.
"""

from __future__ import annotations

import pytest

from tests.support.sandbox import SandboxProcess


@pytest.fixture(autouse=True)
def _fresh_sandbox_state(request: pytest.FixtureRequest) -> None:
    # Only tests that asked for the sandbox pay for (or start) one.
    if "sandbox" in request.fixturenames:
        sandbox: SandboxProcess = request.getfixturevalue("sandbox")
        sandbox.reset()  # also clears faults, ledger, request log and config
