"""Fixtures for tests against the sandbox that imitates seven.

The session-wide ``sandbox`` fixture (one ``SandboxProcess``) lives in ``tests/conftest.py``
so every suite shares one server; here every test that uses it starts from the generated
inventory with no faults, an empty ledger and an empty request log.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.sandbox import SIGNING_SECRET, SandboxProcess


@pytest.fixture(autouse=True)
def _fresh_sandbox_state(request: pytest.FixtureRequest) -> None:
    # Only tests that asked for a sandbox pay for (or start) one.
    for name in ("sandbox", "signature_checking_sandbox"):
        if name in request.fixturenames:
            process: SandboxProcess = request.getfixturevalue(name)
            process.reset()  # also clears faults, ledger, request log and config


@pytest.fixture(scope="session")
def signature_checking_sandbox() -> Iterator[SandboxProcess]:
    """A second sandbox that demands seven's request signature."""
    process = SandboxProcess.start(signing_secret=SIGNING_SECRET)
    yield process
    process.stop()
