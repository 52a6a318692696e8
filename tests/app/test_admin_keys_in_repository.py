"""No admin key written in this repository can guard a running service.

``ADMIN_API_KEY`` refuses every key in ``app.settings.PUBLIC_ADMIN_KEYS``. This test reads the
repository (every file that is tracked or not ignored, and the history of HEAD) for strings
that look like admin keys and fails when one of them is not in that list. The fix is to
generate the key where it is used (``"sn_admin_" + secrets.token_urlsafe(32)``) or, for a key
that is already public (in the history, a document), to add it to the list.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

from app.settings import PUBLIC_ADMIN_KEYS
from tests.support.db import ROOT

#: The admin key format (app.lib.auth): what the service and make run generate.
KEY_FORMAT = re.compile(r"sn_admin_[A-Za-z0-9_-]{8,}")
#: Any value given to something named like the admin key: ADMIN_API_KEY=..., "ADMIN_API_KEY":
#: "...", admin_api_key="...", ${ADMIN_API_KEY:-...}. (Not a comma: in Python that is mostly
#: the next item of a tuple or dict, such as {"X-Api-Key": ADMIN_KEY, "Content-Type": ...}.)
ASSIGNED = re.compile(
    r"""admin(?:_api)?_key ["'\]]* \s* [:=] \s*
        (?: \$\{\w+:-(?P<default>[^}\s]+)\}
          | (?P<q>["'])(?P<quoted>[^"'\s]{8,})(?P=q)(?!\s*\+)
          | (?P<bare>[^\s"'$`{(\[<][^\s"',;)}\]>]{7,})
        )""",
    re.IGNORECASE | re.VERBOSE,
)
#: ... and put in the environment: setenv("ADMIN_API_KEY", "...").
SET_IN_ENVIRONMENT = re.compile(r"""setenv\(\s*["']ADMIN_API_KEY["']\s*,\s*["']([^"'\s]{8,})["']""")


def candidates(text: str, *, python: bool) -> set[str]:
    """Admin-key-looking strings in ``text``; in Python a bare value is a name, not a key."""
    found = set(KEY_FORMAT.findall(text)) | set(SET_IN_ENVIRONMENT.findall(text))
    for match in ASSIGNED.finditer(text):
        value = match["default"] or match["quoted"] or (None if python else match["bare"])
        if value:
            found.add(value)
    return found


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout


def files() -> Iterator[Path]:
    listed = _git("ls-files", "--cached", "--others", "--exclude-standard", "-z")
    for name in sorted(set(listed.split("\0")) - {""}):
        path = ROOT / name
        if path.is_file() and not path.is_symlink():
            yield path


def history() -> Iterator[tuple[str, str]]:
    """(file name, added or removed line) for every change in the history of HEAD."""
    name = ""
    log = _git("log", "-p", "--no-color", "--no-ext-diff", "--format=", "HEAD")
    for line in log.splitlines():
        if line.startswith("diff --git "):
            name = line.rsplit(" b/", 1)[-1]
        elif line[:1] in "+-" and not line.startswith(("+++", "---")):
            yield name, line[1:]


def found_in_repository() -> dict[str, str]:
    """Each admin-key-looking string and the first place it was seen."""
    where: dict[str, str] = {}
    for path in files():
        text = path.read_bytes().decode("utf-8", errors="ignore")
        for value in candidates(text, python=path.suffix == ".py"):
            where.setdefault(value, str(path.relative_to(ROOT)))
    for name, line in history():
        for value in candidates(line, python=name.endswith(".py")):
            where.setdefault(value, f"history of {name}")
    return where


def test_every_admin_key_written_in_the_repository_is_refused() -> None:
    found = found_in_repository()
    assert "sn_admin_change_me_0123456789" in found  # the history is read
    unlisted = {value: place for value, place in found.items() if value not in PUBLIC_ADMIN_KEYS}
    assert not unlisted, (
        "admin keys written in the repository but missing from PUBLIC_ADMIN_KEYS in "
        f"app/settings.py (generate them at run time, or list them there): {unlisted}"
    )


def test_the_scan_recognises_the_ways_a_key_is_written() -> None:
    key = "k3y-0123456789-abcdefghijklmnop"
    for text in (
        f"ADMIN_API_KEY={key} make run",
        f"  ADMIN_API_KEY: ${{ADMIN_API_KEY:-{key}}}",
        f'env = {{"ADMIN_API_KEY": "{key}"}}',
        f'Settings(admin_api_key="{key}")',
        f'monkeypatch.setenv("ADMIN_API_KEY", "{key}")',
        f'ADMIN_KEY = "{key}"',
        f"X-Api-Key: sn_admin_{key}",
    ):
        assert candidates(text, python=False) & {key, f"sn_admin_{key}"}, text
    assert not candidates("admin_api_key=ADMIN_KEY,", python=True)
    assert not candidates("ADMIN_API_KEY: ${ADMIN_API_KEY:?set it to a random key}", python=False)
    assert not candidates('"ADMIN_API_KEY": self.admin_api_key,', python=True)
    assert not candidates('ADMIN_KEY = "sn_admin_" + secrets.token_urlsafe(32)', python=True)
    assert not candidates('{"X-Api-Key": ADMIN_KEY, "Content-Type": "json"}', python=True)
    assert not candidates('name not in {"ADMIN_API_KEY", "METRICS_TOKEN"}', python=True)
