"""docker-compose.yml cannot be run here (no Docker engine); this reads it instead:
every service the deployment needs is there, every command it runs exists in the repo and is the
README's, no admin key is built in, nothing is published beyond this machine, and the image
runs as a user other than root."""

from __future__ import annotations

import importlib
import json
import re
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.settings import VARIABLES
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
        loaded = importlib.import_module(module)
        # uvicorn's lookup. app.asgi builds its app on this first access from the settings
        # compose supplies at run time; here it builds a stand-in.
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(loaded, "create_app", lambda: "built", raising=False)
            patch.setattr(loaded, "_app", None, raising=False)
            assert getattr(loaded, attribute) is not None, args[0]
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


def _readme_commands() -> dict[str, list[str]]:
    """The README's production table: part -> command."""
    readme = (ROOT / "README.md").read_text()
    rows = re.findall(r"^\| ([^|`]+?) \| `([^`]+)`", readme, re.MULTILINE)
    return {part.split(" (")[0]: shlex.split(command) for part, command in rows}


def _dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) of each Dockerfile line, continuations joined."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def _stages() -> dict[str, tuple[str, list[tuple[str, str]]]]:
    """Each Dockerfile stage: name -> (what it starts FROM, its other instructions)."""
    stages: dict[str, tuple[str, list[tuple[str, str]]]] = {}
    steps: list[tuple[str, str]] = []
    for name, args in _dockerfile():
        if name == "FROM":
            image, _, stage = args.partition(" AS ")
            steps = []
            stages[stage.strip()] = (image.strip(), steps)
        else:
            steps.append((name, args))
    return stages


def _copied(stages: dict[str, tuple[str, list[tuple[str, str]]]], stage: str) -> set[str]:
    """What a stage's image holds: what it and the stages it starts from copy."""
    image, steps = stages[stage]
    inherited = _copied(stages, image) if image in stages else set()
    return inherited | {args.split()[0] for name, args in steps if name == "COPY"}


def test_the_services_image_holds_no_development_tool() -> None:
    stages = _stages()
    service = _copied(stages, list(stages)[-1])  # the last stage: what `docker build` makes
    assert {"app", "workers", "migrations"} <= service
    assert not {"dev", "sandbox"} & service
    # Compose's sandbox alone builds the stage that adds it.
    assert "sandbox" in _copied(stages, SERVICES["sandbox"]["build"]["target"])
    assert all(SERVICES[name]["build"] == "." for name in BUILT if name != "sandbox")


def test_the_api_worker_and_migrations_run_the_readmes_commands() -> None:
    readme = _readme_commands()
    assert readme["API"][:2] == ["uvicorn", "app.serve:app"]
    assert SERVICES["api"]["command"] == readme["API"]
    assert SERVICES["worker"]["command"] == readme["worker"]
    assert SERVICES["migrations"]["command"] == readme["migrations"]
    commands = [json.loads(args) for name, args in _dockerfile() if name == "CMD"]
    assert commands[-1] == readme["API"], "the image's CMD is the README's API command"


def test_no_admin_key_is_built_in() -> None:
    keys = {
        name: service["environment"]["ADMIN_API_KEY"]
        for name, service in SERVICES.items()
        if "ADMIN_API_KEY" in service.get("environment", {})
    }
    assert {"api", "worker", "migrations"} <= set(keys)
    # ${VAR:?message}: compose refuses to start when the caller's environment lacks it.
    for key in keys.values():
        assert re.fullmatch(r"\$\{ADMIN_API_KEY:\?[^}]+\}", key), keys
    assert "ADMIN_API_KEY:-" not in (ROOT / "docker-compose.yml").read_text()


def test_the_services_are_passed_only_settings_the_service_declares() -> None:
    # A misspelt or retired variable would be passed along and silently ignored.
    passed = {name: set(SERVICES[name].get("environment", {})) for name in BUILT}
    assert all(passed[name] for name in ("migrations", "api", "worker")), passed
    for name, variables in passed.items():
        assert variables <= VARIABLES, (name, sorted(variables - VARIABLES))


def test_ports_are_published_on_the_loopback_address_only() -> None:
    published = [(name, port) for name, s in SERVICES.items() for port in s.get("ports", [])]
    assert ("api", "127.0.0.1:8000:8000") in published
    for name, port in published:
        host_ip = port.get("host_ip") if isinstance(port, dict) else str(port).split(":")[0]
        assert host_ip == "127.0.0.1", (name, port)


def test_the_image_runs_as_a_user_other_than_root() -> None:
    steps = _dockerfile()
    users = [i for i, (name, _) in enumerate(steps) if name == "USER"]
    assert users, "the Dockerfile sets no USER: the service would run as root"
    last_run = max(i for i, (name, _) in enumerate(steps) if name == "RUN")
    user = steps[users[-1]][1].split(":")[0]
    assert users[-1] > last_run and user not in {"root", "0"}
