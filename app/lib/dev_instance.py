"""The running ``make run`` instance, as the operator CLI finds it: ``<data dir>/env``.

``make run`` (dev/server.py) chooses addresses a person does not know in advance: the
embedded PostgreSQL's and Redis's, the sandbox's port and key. Once the service answers it
writes the variables it gave the API and the worker to ``<data dir>/env`` (dotenv lines,
mode 0600: it holds the admin key), and removes the file when it stops, because those
servers stop with it. The CLI reads that file for whatever the environment and ``.env``
leave unset (:func:`cli_environment`), so ``.venv/bin/python -m app.cli costs`` works
against ``make run`` with nothing exported, and never overrides what a person did set.

The data dir is ``$SEVEN_NUMBERS_DATA_DIR`` (relative to the repository) or the
repository's ``.data``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from app.settings import ENV_FILE, environment

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR_ENV = "SEVEN_NUMBERS_DATA_DIR"
ENV_FILE_NAME = "env"
#: What make run writes, in this order.
WRITTEN = (
    "SEVEN_NUMBERS_URL",
    "ADMIN_API_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "SEVEN_BASE_URL",
    "SEVEN_API_KEY",
)


def data_dir(environ: Mapping[str, str]) -> Path:
    """``$SEVEN_NUMBERS_DATA_DIR`` (a relative one under the repository) or ``./.data``."""
    raw = environ.get(DATA_DIR_ENV, "").strip()
    path = Path(raw).expanduser() if raw else REPO_ROOT / ".data"
    return path if path.is_absolute() else REPO_ROOT / path


def env_file(environ: Mapping[str, str]) -> Path:
    return data_dir(environ) / ENV_FILE_NAME


def write_env(path: Path, values: Mapping[str, str]) -> None:
    """The instance's variables, readable by its owner only, replaced in one rename."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("# written by make run while it runs; removed when it stops\n")
        fh.writelines(f"{name}={values[name]}\n" for name in WRITTEN if values.get(name))
    temporary.replace(path)


def cli_environment() -> tuple[dict[str, str], dict[str, str]]:
    """The CLI's variables and where each came from: the process environment, over the
    current folder's ``.env``, over the running instance's env file."""
    own = environment(env_file=ENV_FILE)
    instance = env_file(own)
    merged = environment(own, env_file=instance)
    sources = {name: str(instance) for name in merged}
    sources.update(dict.fromkeys(environment({}, env_file=ENV_FILE), str(ENV_FILE)))
    sources.update(dict.fromkeys(os.environ, "the environment"))
    return merged, sources
