"""docker-compose.yml cannot be run here (no Docker engine); this reads it instead:
every service the issue names is there, and every command it runs exists in the repo."""

from __future__ import annotations

import importlib
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.db import ROOT

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
BUILT = [name for name, service in SERVICES.items() if "build" in service]


def test_the_whole_system_is_there_with_health_checks() -> None:
    assert {"postgres", "redis", "migrations", "api", "worker", "sandbox"} <= set(SERVICES)
    for name in ("postgres", "redis", "api", "worker", "sandbox"):
        assert "healthcheck" in SERVICES[name], name


def test_the_api_and_worker_wait_for_the_migrations() -> None:
    for name in ("api", "worker"):
        condition = SERVICES[name]["depends_on"]["migrations"]["condition"]
        assert condition == "service_completed_successfully"


def _check_command(argv: list[str]) -> None:
    program, *args = argv
    if program == "python" and args[:1] == ["-m"]:
        assert importlib.util.find_spec(args[1]) is not None, args[1]
    elif program == "python" and args[:1] == ["-c"]:
        compile(args[1], "<healthcheck>", "exec")
    elif program == "uvicorn":
        module, attribute = args[0].split(":")
        assert attribute in dir(importlib.import_module(module)) or attribute == "app"
    elif program == "arq":
        module, _, cls = args[-1].rpartition(".")
        assert hasattr(importlib.import_module(module), cls)
    elif program == "alembic":
        assert (ROOT / "alembic.ini").is_file()
        assert (ROOT / "migrations" / "env.py").is_file()
    else:
        pytest.fail(f"unknown program {program!r}")
    if program != "python":
        assert shutil.which(program, path=str(Path(sys.executable).parent)), program


@pytest.mark.parametrize("name", BUILT)
def test_each_built_service_runs_a_command_that_exists(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = SERVICES[name]
    # The worker's settings module reads REDIS_URL when imported, as it does in the image.
    monkeypatch.setenv("REDIS_URL", "redis://redis:6379/0")
    _check_command(service["command"])
    healthcheck = service.get("healthcheck", {}).get("test")
    if healthcheck:
        assert healthcheck[0] == "CMD"
        _check_command(healthcheck[1:])


def test_the_image_installs_the_project() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install" in dockerfile
    for folder in ("app", "workers", "migrations"):
        assert f"COPY {folder}" in dockerfile
