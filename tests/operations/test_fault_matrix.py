"""The fault matrix: every call the worker makes x every way seven can answer badly.

For each call the worker makes (the order, the read-back after an order, the
friendly-name PATCH after an order, an update PATCH, a DELETE now or at the end of the
period, the settle read after an order's or a deletion's answer was lost) and each
fault (refused, 429, 500, 502 with a proxy's page, HTTP 200 with an HTML page, HTTP
200 ``{}``, an unknown bare code, a timeout after seven carried the call out, a
dropped connection after it; the 5xx/HTML/``{}`` answers both before and after seven
carried a write out), struck once or three times in a row, one real worker carries
out one operation per case against one real sandbox, all cases at once, each on a
number of its own (the faults are scoped to it). When every operation has ended:

* seven processed at most one order request per number (a 429 or a fault struck
  before the handler is not processed; no order goes out once one went through);
* the operation's status agrees with the sandbox's final state of the number, so
  nothing ends ``succeeded`` that seven did not do, nor ``failed`` that seven did;
* the mirror agrees with the sandbox for that number;
* and only a refusal of the write itself ends ``failed``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest

from app.settings import Settings
from tests.support.api import Client, Headers
from tests.support.db import connected
from tests.support.operations import available_numbers, fast, order
from tests.support.polling import until
from tests.support.sandbox import SandboxProcess
from tests.support.worker import WorkerProcess

# (name, fault kind, its parameters); "strikes after commit" variants make the change
# at seven first and then answer badly.
READ_FAULTS: list[tuple[str, str, dict[str, Any]]] = [
    ("refused", "refuse", {}),
    ("429", "rate_limit", {"retry_after": 0}),
    ("500", "server_error", {"status": 500}),
    ("502 html", "html", {"status": 502}),
    ("200 html", "html", {"status": 200}),
    ("200 {}", "empty_object", {}),
    ("unknown bare code", "bare_code", {"code": 999}),
    ("timeout", "hang", {"seconds": 2.0}),
    ("dropped", "drop_before_commit", {}),
]
WRITE_FAULTS: list[tuple[str, str, dict[str, Any]]] = [
    *READ_FAULTS,
    ("500 after commit", "server_error", {"status": 500, "after_commit": True}),
    ("502 html after commit", "html", {"status": 502, "after_commit": True}),
    ("200 html after commit", "html", {"status": 200, "after_commit": True}),
    ("200 {} after commit", "empty_object", {"after_commit": True}),
    ("timeout after commit", "hang", {"seconds": 2.0, "after_commit": True}),
    ("dropped after commit", "drop_after_commit", {}),
]
# call -> (the sandbox endpoint the fault strikes, the faults that apply)
CALLS: dict[str, tuple[str, list[tuple[str, str, dict[str, Any]]]]] = {
    "order": ("order", WRITE_FAULTS),
    "read-back": ("active_get", READ_FAULTS),
    "friendly-name patch": ("update", WRITE_FAULTS),
    "update patch": ("update", WRITE_FAULTS),
    "delete now": ("delete", WRITE_FAULTS),
    "delete at period end": ("delete", WRITE_FAULTS),
    "settle read (order)": ("active_get", READ_FAULTS),
    "settle read (delete)": ("active_get", READ_FAULTS),
}
# Calls whose operation a clear refusal of the call itself ends as failed.
REFUSAL_FAILS = {"order", "update patch", "delete now", "delete at period end"}
TIMES = (1, 3)
FORWARD_TO = "4917612345678"


@dataclass
class Case:
    call: str
    fault: str
    kind: str
    params: dict[str, Any]
    times: int
    number: str = ""
    operation: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.call} x {self.fault} x{self.times}"

    @property
    def needs_number_first(self) -> bool:
        return self.call in ("update patch", "settle read (delete)") or self.call.startswith(
            "delete"
        )

    @property
    def should_fail(self) -> bool:
        return self.kind == "refuse" and self.call in REFUSAL_FAILS


def _cases() -> list[Case]:
    return [
        Case(call, name, kind, params, times)
        for call, (_, faults) in CALLS.items()
        for name, kind, params in faults
        for times in TIMES
    ]


async def _submit(client: Client, headers: Headers, case: Case) -> str:
    number = case.number
    if case.call in ("order", "read-back", "settle read (order)"):
        return (await order(client, headers, number, payment_interval="monthly"))["id"]
    if case.call == "friendly-name patch":
        body = {"payment_interval": "monthly", "friendly_name": "front desk"}
        return (await order(client, headers, number, **body))["id"]
    if case.call == "update patch":
        response = await client.patch(
            f"/v1/numbers/{number}",
            json={"sms_forward": [FORWARD_TO], "friendly_name": "changed"},
            headers=headers,
        )
    else:
        now = case.call != "delete at period end"
        response = await client.delete(
            f"/v1/numbers/{number}?delete_immediately={'true' if now else 'false'}",
            headers=headers,
        )
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def _script(sandbox: SandboxProcess, case: Case) -> None:
    endpoint = CALLS[case.call][0]
    if case.call.startswith("settle read"):
        # The write's answer is lost after seven carried it out: the worker must settle it
        # by reading, and that read is what the fault strikes.
        write = "order" if case.call.endswith("(order)") else "delete"
        sandbox.add_fault("drop_after_commit", write, number=case.number)
    sandbox.add_fault(case.kind, endpoint, times=case.times, number=case.number, **case.params)


async def _wait_all(db: asyncpg.Connection, ids: list[str], within: float) -> dict[str, Any]:
    async def finished() -> dict[str, Any] | None:
        rows = await db.fetch(
            "SELECT id::text, status, error_code, result FROM operations"
            " WHERE id = ANY($1::uuid[])",
            ids,
        )
        done = rows and all(r["status"] in ("succeeded", "failed") for r in rows)
        return {r["id"]: r for r in rows} if done else None

    return await until(finished, f"{len(ids)} operations to finish", within, every=0.2)


def _check(
    case: Case,
    operation: Any,
    at_seven: dict[str, Any] | None,
    mirror: Any,
    sandbox_log: list[dict[str, Any]],
) -> None:
    problems = case.problems
    status = operation["status"]
    if status not in ("succeeded", "failed"):
        problems.append(f"did not end: {status} ({operation['error_code']})")
        return
    processed_orders = [
        r
        for r in sandbox_log
        if r["endpoint"] == "order" and r["number"] == case.number and r["processed"]
    ]
    if len(processed_orders) > 1:
        problems.append(f"seven processed {len(processed_orders)} order requests")
    if case.should_fail != (status == "failed"):
        problems.append(f"ended {status} ({operation['error_code']})")
    # The operation agrees with seven.
    if case.call == "update patch":
        forwarded = at_seven is not None and at_seven["forward_sms_mo"]["sms"]["number"] == [
            FORWARD_TO
        ]
        if forwarded != (status == "succeeded"):
            problems.append(
                f"{status} but seven forwards to {at_seven and at_seven['forward_sms_mo']}"
            )
    elif case.call in ("delete now", "settle read (delete)"):
        if (at_seven is None) != (status == "succeeded"):
            problems.append(f"{status} but seven {'lacks' if at_seven is None else 'has'} it")
    elif case.call == "delete at period end":
        scheduled = at_seven is not None and at_seven["expires"] is not None
        if scheduled != (status == "succeeded"):
            problems.append(f"{status} but seven's expires is {at_seven and at_seven['expires']}")
    elif (at_seven is not None) != (status == "succeeded"):
        problems.append(f"{status} but seven {'lacks' if at_seven is None else 'has'} it")
    # The mirror agrees with seven.
    if mirror is None:
        problems.append("no mirror row")
    elif at_seven is None:
        if mirror["state"] not in ("deleted", "failed"):
            problems.append(f"mirror {mirror['state']} but seven lacks it")
    else:
        expected = "deleting" if at_seven["expires"] else "active"
        seen = (mirror["state"], mirror["friendly_name"], mirror["expires"])
        wanted = (expected, at_seven["friendly_name"], at_seven["expires"])
        if seen != wanted:
            problems.append(f"mirror {seen} but seven {wanted}")
        if mirror["forward_sms_mo"] != at_seven["forward_sms_mo"]:
            problems.append(f"mirror forwards {mirror['forward_sms_mo']}")


@pytest.mark.timeout(600)
async def test_every_call_under_every_fault_keeps_money_and_the_mirror_right(
    client: Client,
    admin_headers: Headers,
    settings: Settings,
    fresh_sandbox: SandboxProcess,
    database_url: str,
) -> None:
    started = time.monotonic()
    cases = _cases()
    numbers = available_numbers(fresh_sandbox, len(cases))
    for case, number in zip(cases, numbers, strict=False):
        case.number = number
    worker_settings = fast(
        settings,
        seven_total_timeout=1.0,
        seven_settle_seconds=0.3,
        operation_max_attempts=12,
        operation_retry_budget_seconds=120.0,
    )
    async with connected(database_url) as db:
        with WorkerProcess(worker_settings):
            # The numbers that updates and deletes work on are ordered first, faultless.
            first = [c for c in cases if c.needs_number_first]
            ids = [await _submit(client, admin_headers, _as_order(c)) for c in first]
            done = await _wait_all(db, ids, within=120)
            assert all(r["status"] == "succeeded" for r in done.values()), done
            for case in cases:
                _script(fresh_sandbox, case)
            for case in cases:
                case.operation = await _submit(client, admin_headers, case)
            finished = await _wait_all(db, [c.operation for c in cases], within=300)
        mirror = {
            r["number"]: r
            for r in await db.fetch(
                "SELECT number, state, friendly_name, expires, forward_sms_mo::text AS fwd"
                " FROM numbers WHERE number = ANY($1)",
                [c.number for c in cases],
            )
        }
    at_seven = {n["number"]: n for n in fresh_sandbox.active()}
    log = fresh_sandbox.requests()
    assert len(log) < 2000, "the sandbox's request log overflowed: raise its cap"
    for case in cases:
        row = mirror.get(case.number)
        mirrored = None if row is None else {**row, "forward_sms_mo": json.loads(row["fwd"])}
        _check(case, finished[case.operation], at_seven.get(case.number), mirrored, log)
    failures = [f"{c.name}: {'; '.join(c.problems)}" for c in cases if c.problems]
    elapsed = time.monotonic() - started
    print(f"\nfault matrix: {len(cases)} cases in {elapsed:.1f} s")
    assert not failures, f"{len(failures)} of {len(cases)} cases broke an invariant:\n" + "\n".join(
        failures
    )


def _as_order(case: Case) -> Case:
    return Case("order", "none", "none", {}, 1, number=case.number)
