"""seven's official JS SDK runs unchanged against the sandbox (with and without signing).

Needs node and ``@seven.io/client``; nothing is downloaded at test time. Install once:

    npm install --prefix .data/js-sdk @seven.io/client@5.6.0

or point ``SEVEN_JS_SDK`` at the package folder (the one holding ``dist/seven-client.js``).
Without them the tests skip.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.db import ROOT
from tests.support.sandbox import SIGNING_SECRET, SandboxProcess
from tests.support.seven_docs import DOC_ACTIVE, DOC_AVAILABLE, DOC_DELETE, DOC_ORDER, shape

SCRIPT = Path(__file__).with_suffix(".mjs")
PACKAGE = Path(os.environ.get("SEVEN_JS_SDK", ROOT / ".data/js-sdk/node_modules/@seven.io/client"))
ENTRY = PACKAGE / "dist" / "seven-client.js"

pytestmark = [
    pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed"),
    pytest.mark.skipif(not ENTRY.exists(), reason=f"@seven.io/client not found at {PACKAGE}"),
]


def run_sdk(sandbox: SandboxProcess, *secret: str) -> dict[str, Any]:
    done = subprocess.run(
        ["node", str(SCRIPT), ENTRY.as_uri(), sandbox.base_url, sandbox.api_key, *secret],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def check(results: dict[str, Any], sandbox: SandboxProcess) -> None:
    for item in results["available"]["availableNumbers"]:
        assert shape(item) == shape(DOC_AVAILABLE)
    assert results["order"] == DOC_ORDER
    assert [n["number"] for n in results["active"]["activeNumbers"]] == [results["number"]]
    assert results["get"]["billing"]["payment_interval"] == "monthly"
    updated = results["update"]
    assert shape(updated) == shape(DOC_ACTIVE | {"forward_sms_mo": updated["forward_sms_mo"]})
    assert updated["friendly_name"] == "from js"
    assert updated["forward_sms_mo"] == {
        "sms": {"number": ["4917612345678"], "enabled": True},
        "email": {"address": [], "enabled": False},
    }
    assert results["deleteAtEnd"] == DOC_DELETE
    assert results["afterDeleteAtEnd"]["expires"] is not None
    assert results["delete"] == DOC_DELETE
    assert sandbox.active() == []
    assert len(sandbox.ledger()[results["number"]]) == 1
    # The SDK sends JSON bodies, also for DELETE (the PHP SDK uses the query string).
    [delete, *_] = sandbox.requests("delete")
    assert delete["content_type"] == "application/json"
    assert json.loads(delete["body"]) == {"delete_immediately": False}


def test_js_sdk_numbers_resource(sandbox: SandboxProcess) -> None:
    check(run_sdk(sandbox), sandbox)


def test_js_sdk_with_request_signing(signature_checking_sandbox: SandboxProcess) -> None:
    check(run_sdk(signature_checking_sandbox, SIGNING_SECRET), signature_checking_sandbox)
    outcomes = {r["outcome"] for r in signature_checking_sandbox.requests()}
    assert outcomes == {"ok"}  # every signed request passed the check
