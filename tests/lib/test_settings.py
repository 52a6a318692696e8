from __future__ import annotations

import importlib.util
import secrets
import subprocess
import sys
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

import pytest

from app.settings import (
    ADMIN_KEY_EXPECTED,
    PUBLIC_ADMIN_KEYS,
    VARIABLES,
    Settings,
    SettingsError,
    configuration_table,
    read_setting,
    readme_with_table,
)
from tests.support.db import ROOT


def fresh_key(length: int) -> str:
    """A random key of ``length`` characters, as a person would generate one."""
    return secrets.token_urlsafe(length)[:length]


GOOD = {
    "DATABASE_URL": "postgresql://app:s3cret-pw@db.internal:5432/seven_numbers",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "SEVEN_API_KEY": "live-key-must-not-leak",
    "ADMIN_API_KEY": fresh_key(40),
}


def load(**overrides: str) -> Settings:
    env = {k: v for k, v in {**GOOD, **overrides}.items() if v != "<unset>"}
    return Settings.from_env(env, env_file=None)


def test_reads_every_setting_and_converts_the_database_driver() -> None:
    settings = load(
        SYNC_INTERVAL_SECONDS="120",
        SEVEN_BASE_URL="http://127.0.0.1:9/api/",
        SYNC_MAX_REMOVED_SHARE="0.25",
        SYNC_CONFIRM_MISSING_SECONDS="600",
    )
    assert settings.database_url.startswith("postgresql+asyncpg://app:s3cret-pw@db.internal")
    assert settings.sync_interval_seconds == 120
    assert settings.sync_max_removed_share == 0.25
    assert load().sync_max_removed_share == 0.5
    assert settings.sync_confirm_missing_seconds == 600
    assert load().sync_confirm_missing_seconds == 1800
    assert load(SYNC_CONFIRM_MISSING_SECONDS="0").sync_confirm_missing_seconds == 0
    assert Settings.from_env(settings.to_env(), env_file=None) == settings
    assert settings.seven_base_url == "http://127.0.0.1:9/api"
    assert settings.seven_signing_secret is None


def test_missing_database_url_names_it_and_shows_a_good_value() -> None:
    with pytest.raises(SettingsError) as caught:
        load(DATABASE_URL="<unset>")
    message = str(caught.value)
    assert message.startswith("DATABASE_URL is missing")
    assert "postgresql://" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_URL", "mysql://root@localhost/db"),
        ("REDIS_URL", "http://localhost:6379"),
        ("SYNC_INTERVAL_SECONDS", "often"),
        ("SYNC_INTERVAL_SECONDS", "0"),
        ("SYNC_MAX_REMOVED_SHARE", "1.5"),
        ("SYNC_MAX_REMOVED_SHARE", "-0.1"),
        ("SYNC_MAX_REMOVED_SHARE", "half"),
        ("SYNC_MAX_REMOVED_SHARE", "nan"),
        ("SYNC_CONFIRM_MISSING_SECONDS", "-1"),
        ("SYNC_CONFIRM_MISSING_SECONDS", "half an hour"),
        ("SEVEN_BASE_URL", "gateway.seven.io"),
        ("ADMIN_API_KEY", "short"),
        ("WEBHOOKS_ALLOW_UNSIGNED", "maybe"),
        ("WEBHOOK_MAX_AGE_SECONDS", "0"),
        ("WEBHOOK_MAX_AGE_SECONDS", "ten minutes"),
        ("WEBHOOK_EVENT_RETENTION_DAYS", "0"),
        ("MAX_BODY_BYTES", "0"),
        ("MAX_BODY_BYTES", "64k"),
        ("DATABASE_STATEMENT_TIMEOUT_SECONDS", "-1"),
        ("WORKER_DATABASE_STATEMENT_TIMEOUT_SECONDS", "inf"),
        ("DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS", "a minute"),
        ("COST_REPORTS_PER_KEY", "0"),
        ("METRICS_TOKEN", "short"),
        ("METRICS_REFRESH_SECONDS", "0"),
    ],
)
def test_malformed_values_are_refused_by_name(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load(**{name: value})
    assert str(caught.value).startswith(f"{name} is not usable: expected ")
    assert value not in str(caught.value) or name not in {"ADMIN_API_KEY", "METRICS_TOKEN"}


def test_webhook_settings_default_to_refusing_unsigned_calls() -> None:
    settings = load()
    assert settings.webhooks_allow_unsigned is False
    assert (settings.webhook_max_age_seconds, settings.webhook_event_retention_days) == (600, 7)
    custom = load(
        WEBHOOKS_ALLOW_UNSIGNED="TRUE",
        WEBHOOK_MAX_AGE_SECONDS="302400",
        WEBHOOK_EVENT_RETENTION_DAYS="5",
    )
    assert custom.webhooks_allow_unsigned is True
    assert (custom.webhook_max_age_seconds, custom.webhook_event_retention_days) == (302400, 5)
    assert Settings.from_env(custom.to_env(), env_file=None) == custom
    assert load(WEBHOOKS_ALLOW_UNSIGNED="false").webhooks_allow_unsigned is False


def test_event_ids_must_be_kept_a_day_longer_than_events_are_accepted() -> None:
    # An id forgotten while its event could still arrive would let it be counted twice.
    with pytest.raises(SettingsError) as caught:
        load(WEBHOOK_MAX_AGE_SECONDS="86401", WEBHOOK_EVENT_RETENTION_DAYS="2")
    assert str(caught.value).startswith("WEBHOOK_EVENT_RETENTION_DAYS is too short: ")
    assert ">= 3 days" in str(caught.value)
    assert load(WEBHOOK_MAX_AGE_SECONDS="86400", WEBHOOK_EVENT_RETENTION_DAYS="2")


def test_the_admin_key_is_required_long_and_not_one_the_repository_holds() -> None:
    assert load(ADMIN_API_KEY=(key := fresh_key(32))).admin_api_key == key
    # Optional: admin keys can be made with the CLI; compose requires one itself.
    assert load(ADMIN_API_KEY="<unset>").admin_api_key is None
    with pytest.raises(SettingsError) as short:
        load(ADMIN_API_KEY=fresh_key(31))
    # 34 characters, long enough: refused only because the repository holds it.
    public = "sn_admin_test_key_0123456789abcdef"
    assert public in PUBLIC_ADMIN_KEYS and len(public) >= 32
    with pytest.raises(SettingsError) as published:
        load(ADMIN_API_KEY=public)
    assert str(short.value).startswith("ADMIN_API_KEY is not usable: expected a random string")
    assert str(published.value).startswith("ADMIN_API_KEY is written in the seven-numbers repo")
    for caught in (short, published):
        assert "\n" not in str(caught.value) and "at least 32 characters" in str(caught.value)
    assert public not in str(published.value)


def test_repr_shows_no_secret() -> None:
    text = repr(load())
    for secret in ("s3cret-pw", GOOD["SEVEN_API_KEY"], GOOD["ADMIN_API_KEY"]):
        assert secret not in text


def test_the_api_stops_with_one_line_when_a_setting_is_missing() -> None:
    env = {k: v for k, v in GOOD.items() if k != "DATABASE_URL"}
    env["PATH"] = "/usr/bin:/bin"
    result = subprocess.run(
        [sys.executable, "-c", "import app.serve; app.serve.app"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert lines == [lines[-1]]
    assert lines[0].startswith("seven-numbers cannot start: DATABASE_URL is missing")


def test_importing_the_app_module_reads_no_setting() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import app.serve, workers"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


#: Every setting at a value other than its default, as from_env returns it.
NOT_DEFAULT: dict[str, Any] = {
    "database_url": "postgresql+asyncpg://app:s3cret-pw@db.internal:5433/other",
    "redis_url": "rediss://cache.internal:6380/3",
    "seven_api_key": "another-key",
    "seven_base_url": "http://127.0.0.1:9/api",
    "seven_signing_secret": "signing-secret",
    "webhooks_allow_unsigned": True,
    "webhook_max_age_seconds": 120,
    "webhook_event_retention_days": 2,
    "event_retention_days": 3,
    "console_session_hours": 2,
    "webhook_allowed_hosts": "127.0.0.1,hooks.internal",
    "webhook_timeout_seconds": 2.5,
    "webhook_retry_window_seconds": 600,
    "webhook_backoff_initial_seconds": 0.5,
    "webhook_backoff_max_seconds": 30.0,
    "webhook_disable_after_seconds": 3600,
    "admin_api_key": fresh_key(40),
    "sync_interval_seconds": 120,
    "sync_max_removed_share": 0.25,
    "sync_confirm_missing_seconds": 0,
    "search_cache_seconds": 61,
    "number_cache_size": 0,
    "number_cache_seconds": 1801,
    "key_cache_size": 0,
    "key_cache_seconds": 601,
    "seven_connect_timeout": 2.5,
    "seven_read_timeout": 31.0,
    "seven_total_timeout": 61.0,
    "seven_settle_seconds": 0.5,
    "log_level": "DEBUG",
    "operation_max_attempts": 3,
    "operation_retry_budget_seconds": 30.5,
    "operation_backoff_initial_seconds": 0.25,
    "operation_backoff_max_seconds": 5.0,
    "operation_stale_seconds": 45,
    "approval_ttl_hours": 24,
    "reconcile_interval_seconds": 15,
    "worker_metrics_host": "10.0.0.5",
    "worker_metrics_port": 0,
    "worker_shutdown_wait_seconds": 0,
    "max_body_bytes": 1024,
    "database_statement_timeout_seconds": 0.0,
    "worker_database_statement_timeout_seconds": 12.5,
    "database_idle_in_transaction_timeout_seconds": 0.0,
    "cost_reports_per_key": 5,
    "metrics_token": "t" * 16,
    "metrics_refresh_seconds": 1.5,
}


def test_to_env_reproduces_every_setting() -> None:
    assert set(NOT_DEFAULT) == {f.name for f in fields(Settings)}, "give every setting a value"
    settings = Settings(**NOT_DEFAULT)
    for f in fields(Settings):
        assert f.default is MISSING or getattr(settings, f.name) != f.default, f.name
    env = settings.to_env()
    assert set(env) == VARIABLES
    assert Settings.from_env(env, env_file=None) == settings


#: What each variable says when it is missing ("") or holds an unusable value: the one line
#: "NAME is missing: set it to EXPECTED" or "NAME is not usable: expected EXPECTED".
REFUSALS = {
    "DATABASE_URL": (
        "",
        "a postgresql:// URL such as postgresql://user:password@127.0.0.1:5432/seven_numbers",
    ),
    "REDIS_URL": ("", "a redis:// URL such as redis://127.0.0.1:6379/0"),
    "SEVEN_API_KEY": ("", "your seven.io API key (or run `make run`, which starts the sandbox)"),
    "SEVEN_BASE_URL": ("ftp://x", "an http(s) URL such as https://gateway.seven.io/api"),
    "WEBHOOKS_ALLOW_UNSIGNED": ("maybe", "true or false"),
    "WEBHOOK_MAX_AGE_SECONDS": ("0", "a whole number of seconds >= 1, e.g. 600"),
    "WEBHOOK_EVENT_RETENTION_DAYS": ("0", "a whole number of days >= 1, e.g. 7"),
    "EVENT_RETENTION_DAYS": ("0", "a whole number of days >= 1, e.g. 30"),
    "CONSOLE_SESSION_HOURS": ("0", "a whole number of hours >= 1, e.g. 8"),
    "WEBHOOK_ALLOWED_HOSTS": (
        "http://x/",
        "host names or addresses separated by commas, e.g. 127.0.0.1",
    ),
    "WEBHOOK_TIMEOUT_SECONDS": ("0", "seconds, e.g. 10"),
    "WEBHOOK_RETRY_WINDOW_SECONDS": ("0", "a whole number of seconds >= 1, e.g. 86400"),
    "WEBHOOK_BACKOFF_INITIAL_SECONDS": ("-1", "seconds, e.g. 5"),
    "WEBHOOK_BACKOFF_MAX_SECONDS": ("x", "seconds, e.g. 3600"),
    "WEBHOOK_DISABLE_AFTER_SECONDS": ("0", "a whole number of seconds >= 1, e.g. 259200"),
    "ADMIN_API_KEY": ("short", ADMIN_KEY_EXPECTED),
    "SYNC_INTERVAL_SECONDS": ("0", "a whole number of seconds >= 1, e.g. 300"),
    "SYNC_MAX_REMOVED_SHARE": (
        "nan",
        "a fraction from 0 to 1, e.g. 0.5 (1 switches the guard off)",
    ),
    "SYNC_CONFIRM_MISSING_SECONDS": (
        "-1",
        "a whole number of seconds >= 0 (0: the next sync that misses it too), e.g. 1800",
    ),
    "SEARCH_CACHE_SECONDS": ("0", "a whole number of seconds >= 1, e.g. 60"),
    "NUMBER_CACHE_SIZE": (
        "-1",
        "a whole number of numbers >= 0 (0 switches the cache off), e.g. 2000000",
    ),
    "NUMBER_CACHE_SECONDS": ("0", "a whole number of seconds >= 1, e.g. 1800"),
    "KEY_CACHE_SIZE": ("-1", "a whole number of keys >= 0 (0 switches the cache off), e.g. 10000"),
    "KEY_CACHE_SECONDS": ("0", "a whole number of seconds >= 1, e.g. 600"),
    "SEVEN_CONNECT_TIMEOUT": ("0", "seconds, e.g. 5"),
    "SEVEN_READ_TIMEOUT": ("slow", "seconds, e.g. 30"),
    "SEVEN_TOTAL_TIMEOUT": ("-1", "seconds, e.g. 60"),
    "SEVEN_SETTLE_SECONDS": ("nan", "seconds, e.g. 15"),
    "LOG_LEVEL": ("loud", "one of DEBUG, INFO, WARNING, ERROR"),
    "OPERATION_MAX_ATTEMPTS": ("0", "a whole number >= 1, e.g. 8"),
    "OPERATION_RETRY_BUDGET_SECONDS": ("0", "seconds, e.g. 600"),
    "OPERATION_BACKOFF_INITIAL_SECONDS": ("0", "seconds, e.g. 1"),
    "OPERATION_BACKOFF_MAX_SECONDS": ("0", "seconds, e.g. 60"),
    "OPERATION_STALE_SECONDS": ("0", "a whole number of seconds >= 1, e.g. 120"),
    "APPROVAL_TTL_HOURS": ("0", "a whole number of hours >= 1, e.g. 72"),
    "RECONCILE_INTERVAL_SECONDS": (
        "61",
        "a whole number of seconds from 1 to 60 (a divisor of 60), e.g. 30",
    ),
    "WORKER_METRICS_PORT": ("65536", "a TCP port 1-65535, or 0 for none"),
    "WORKER_SHUTDOWN_WAIT_SECONDS": ("-1", "a whole number of seconds >= 0, e.g. 20"),
    "MAX_BODY_BYTES": ("64k", "a whole number of bytes >= 1, e.g. 65536"),
    "DATABASE_STATEMENT_TIMEOUT_SECONDS": ("-1", "seconds >= 0 (0: no limit), e.g. 30"),
    "WORKER_DATABASE_STATEMENT_TIMEOUT_SECONDS": ("inf", "seconds >= 0 (0: no limit), e.g. 300"),
    "DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS": (
        "a minute",
        "seconds >= 0 (0: no limit), e.g. 60",
    ),
    "COST_REPORTS_PER_KEY": ("0", "a whole number >= 1, e.g. 2"),
    "METRICS_TOKEN": ("short", "a random string of at least 16 characters"),
    "METRICS_REFRESH_SECONDS": ("0", "seconds, e.g. 15"),
}
#: Any text will do for these.
FREE_TEXT = {"SEVEN_SIGNING_SECRET", "WORKER_METRICS_HOST"}


def test_every_setting_is_refused_with_its_own_line() -> None:
    assert set(REFUSALS) | FREE_TEXT == VARIABLES
    for name, (value, expected) in REFUSALS.items():
        problem = "is not usable: expected" if value else "is missing: set it to"
        line = f"{name} {problem} {expected}"
        with pytest.raises(SettingsError) as caught:
            load(**{name: value or "<unset>"})
        assert str(caught.value) == line
        # The early reader (worker, CLI, Alembic) says the same.
        with pytest.raises(SettingsError) as early:
            read_setting(name, {**GOOD, name: value}, env_file=None)
        assert str(early.value) == line


def test_the_readme_table_is_the_declaration() -> None:
    readme = (ROOT / "README.md").read_text()
    assert readme_with_table(readme) == readme, "run make settings-table"
    assert configuration_table().count("\n| `") == len(VARIABLES)


def test_a_dotenv_file_fills_in_what_the_environment_lacks(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("RECONCILE_INTERVAL_SECONDS=15\nSYNC_INTERVAL_SECONDS=20\n")
    assert read_setting("RECONCILE_INTERVAL_SECONDS", {}, env_file=env_file) == 15
    assert (
        read_setting("SYNC_INTERVAL_SECONDS", {"SYNC_INTERVAL_SECONDS": "40"}, env_file=env_file)
        == 40
    )
    assert Settings.from_env(GOOD, env_file=env_file).reconcile_interval_seconds == 15


def test_an_empty_variable_does_not_hide_the_files_value(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("SYNC_INTERVAL_SECONDS=20\n")
    assert (
        read_setting("SYNC_INTERVAL_SECONDS", {"SYNC_INTERVAL_SECONDS": ""}, env_file=env_file)
        == 20
    )


def test_the_worker_reads_its_start_up_settings_from_dotenv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """arq reads these from WorkerSettings when it imports it, before Settings exists; a
    worker started from a folder whose .env holds them (and an environment that does not)
    must go by them."""
    (tmp_path / ".env").write_text(
        "REDIS_URL=redis://cache.internal:6380/3\n"
        "RECONCILE_INTERVAL_SECONDS=15\n"
        "SYNC_INTERVAL_SECONDS=20\n"
        "WORKER_SHUTDOWN_WAIT_SECONDS=3\n"
    )
    monkeypatch.chdir(tmp_path)
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    # The module run afresh, as `python -m workers` imports it, under a
    # name of its own so the imported workers.settings stays as it was.
    spec = importlib.util.spec_from_file_location("fresh_worker", ROOT / "workers/settings.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    worker = module.WorkerSettings
    redis = worker.redis_settings
    assert (redis.host, redis.port, redis.database) == ("cache.internal", 6380, 3)
    assert worker.job_completion_wait == 3
    seconds = {job.name: job.second for job in worker.cron_jobs if isinstance(job.second, set)}
    assert seconds == {
        "cron:reconcile_operations": {0, 15, 30, 45},
        "cron:sync_mirror": {0, 20, 40},
    }
