"""A stateful property test: random operations under random sequences of seven's faults.

Hypothesis drives a model of the account: it orders numbers, changes them and deletes
them (now or at the end of the period), and before each operation scripts up to three
faults at "seven" for that operation's number (any call, any fault kind, struck one to
three times in a row). One real worker carries each operation out against the sandbox.
After every operation the fault matrix's invariants must hold (``test_fault_matrix.py``):
seven processed no more order requests for a number than we made order operations for
it, the operation's status agrees with seven, the mirror agrees with seven, and only a
refusal of the write itself fails an operation. Derandomized: the same sequences run
every time (a failure reproduces), and shrinking reports the shortest that breaks.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    rule,
    run_state_machine_as_test,
)
from litestar import Litestar
from litestar.testing import TestClient

from app.settings import Settings
from tests.support.operations import fast
from tests.support.polling import until_sync
from tests.support.sandbox import SandboxProcess
from tests.support.tenancy import ADMIN_KEY
from tests.support.worker import WorkerProcess

ADMIN = {"X-Api-Key": ADMIN_KEY}
FAULTS: dict[str, dict[str, Any]] = {
    "refuse": {},
    "rate_limit": {"retry_after": 0},
    "server_error": {"status": 500},
    "server_error after commit": {"status": 502, "after_commit": True},
    "html": {"status": 200},
    "html after commit": {"status": 200, "after_commit": True},
    "empty_object": {},
    "bare_code": {"code": 999},
    "hang": {"seconds": 1.0},
    "hang after commit": {"seconds": 1.0, "after_commit": True},
    "drop_before_commit": {},
    "drop_after_commit": {},
}
# The calls each kind of operation makes, as the sandbox's endpoints.
CALLS = {
    "order": ("order", "active_get", "update"),
    "update": ("update", "active_get"),
    "delete": ("delete", "active_get"),
}
FAILS_ON_REFUSAL = {"order": "order", "update": "update", "delete": "delete"}


def _faults(kind: str) -> st.SearchStrategy[list[tuple[str, str, int]]]:
    fault = st.tuples(
        st.sampled_from(CALLS[kind]), st.sampled_from(list(FAULTS)), st.integers(1, 3)
    )
    return st.lists(fault, max_size=3)


class Account(RuleBasedStateMachine):
    """The model: which numbers we hold, and how often we ordered each."""

    held = Bundle("held")

    def __init__(self) -> None:
        super().__init__()
        self.api: TestClient[Litestar] = ACCOUNT["api"]
        self.sandbox: SandboxProcess = ACCOUNT["sandbox"]
        self.orders_made: dict[str, int] = ACCOUNT["orders_made"]

    @initialize()
    def clean_slate(self) -> None:
        self.sandbox.clear_faults()

    # -- rules ---------------------------------------------------------------------

    @rule(target=held, faults=_faults("order"), name=st.sampled_from(["", "front desk"]))
    def order(self, faults: list[tuple[str, str, int]], name: str) -> str:
        number = self._fresh_number()
        self._script(number, faults)
        body: dict[str, Any] = {"number": number, "payment_interval": "monthly"}
        if name:
            body["friendly_name"] = name
        self.orders_made[number] = self.orders_made.get(number, 0) + 1
        response = self.api.post("/v1/orders", json=body, headers=ADMIN)
        assert response.status_code == 202, response.text
        operation = self._finished(response.json()["id"])
        self._check("order", number, faults, operation)
        return number

    @rule(number=held, faults=_faults("update"))
    def update(self, number: str, faults: list[tuple[str, str, int]]) -> None:
        if self._mirror(number)["state"] != "active":
            return
        self._script(number, faults)
        wanted = f"n{time.monotonic_ns()}"
        response = self.api.patch(
            f"/v1/numbers/{number}", json={"friendly_name": wanted}, headers=ADMIN
        )
        assert response.status_code == 202, response.text
        operation = self._finished(response.json()["id"])
        self._check("update", number, faults, operation, friendly_name=wanted)

    @rule(number=consumes(held), faults=_faults("delete"), now=st.booleans())
    def delete(self, number: str, faults: list[tuple[str, str, int]], now: bool) -> None:
        if self._mirror(number)["state"] != "active":
            return
        self._script(number, faults)
        flag = "true" if now else "false"
        response = self.api.delete(f"/v1/numbers/{number}?delete_immediately={flag}", headers=ADMIN)
        assert response.status_code == 202, response.text
        self._check("delete", number, faults, self._finished(response.json()["id"]), now=now)

    # -- helpers -------------------------------------------------------------------

    def _fresh_number(self) -> str:
        for offer in self.sandbox.available():
            if offer["number"] not in self.orders_made:
                return str(offer["number"])
        raise AssertionError("the sandbox ran out of numbers")

    def _script(self, number: str, faults: list[tuple[str, str, int]]) -> None:
        self.sandbox.clear_faults()
        for endpoint, kind, times in faults:
            params = dict(FAULTS[kind])
            self.sandbox.add_fault(
                kind.removesuffix(" after commit"), endpoint, times=times, number=number, **params
            )

    def _finished(self, operation_id: str) -> dict[str, Any]:
        def finished() -> dict[str, Any] | None:
            operation = self.api.get(f"/v1/operations/{operation_id}", headers=ADMIN).json()
            return operation if operation["status"] in ("succeeded", "failed") else None

        return until_sync(finished, f"operation {operation_id} to end", 60, every=0.05)

    def _mirror(self, number: str) -> dict[str, Any]:
        response = self.api.get(f"/v1/numbers/{number}", headers=ADMIN)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def _check(
        self,
        kind: str,
        number: str,
        faults: list[tuple[str, str, int]],
        operation: dict[str, Any],
        *,
        now: bool = True,
        friendly_name: str | None = None,
    ) -> None:
        at_seven = {n["number"]: n for n in self.sandbox.active()}.get(number)
        processed = [
            r for r in self.sandbox.requests("order") if r["number"] == number and r["processed"]
        ]
        assert len(processed) <= self.orders_made[number], "an order was sent twice"
        # Only seven refusing the write itself fails an operation.
        write = FAILS_ON_REFUSAL[kind]
        if operation["status"] == "failed":
            assert operation["error"]["code"] == f"{write}_refused", operation
            assert (write, "refuse") in {(f[0], f[1]) for f in faults}, (operation, faults)
        elif (write, "refuse") not in {(f[0], f[1]) for f in faults}:
            assert operation["status"] == "succeeded", (operation, faults)
        # The operation agrees with seven.
        succeeded = operation["status"] == "succeeded"
        if kind == "order":
            assert (at_seven is not None) == succeeded, (operation, at_seven)
        elif kind == "update":
            assert at_seven is not None
            assert (at_seven["friendly_name"] == friendly_name) == succeeded, (operation, at_seven)
        elif now:
            assert (at_seven is None) == succeeded, (operation, at_seven)
        else:
            assert at_seven is not None
            assert (at_seven["expires"] is not None) == succeeded, (operation, at_seven)
        mirror = self._mirror(number)
        if at_seven is None:
            assert mirror["state"] in ("deleted", "failed"), mirror
        else:
            assert mirror["state"] == ("deleting" if at_seven["expires"] else "active"), mirror
            for field in ("friendly_name", "forward_sms_mo"):
                assert mirror[field] == at_seven[field], (field, mirror, at_seven)
            assert mirror["seven"]["expires"] == at_seven["expires"], (mirror, at_seven)


ACCOUNT: dict[str, Any] = {}


@pytest.mark.timeout(900)
def test_random_fault_sequences_keep_money_and_the_mirror_right(
    app: Litestar, settings: Settings, fresh_sandbox: SandboxProcess
) -> None:
    worker_settings = fast(
        settings,
        seven_total_timeout=0.5,
        seven_settle_seconds=0.3,
        operation_max_attempts=12,
        operation_retry_budget_seconds=120.0,
    )
    with TestClient(app=app) as api, WorkerProcess(worker_settings):
        ACCOUNT.update(api=api, sandbox=fresh_sandbox, orders_made={})
        try:
            run_state_machine_as_test(
                Account,
                settings=hypothesis_settings(
                    max_examples=10,
                    stateful_step_count=5,
                    deadline=None,
                    derandomize=True,
                    database=None,
                    suppress_health_check=[HealthCheck.too_slow],
                ),
            )
        finally:
            ACCOUNT.clear()
