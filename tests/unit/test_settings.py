from __future__ import annotations

import secrets
import subprocess
import sys

import pytest

from app.settings import PUBLIC_ADMIN_KEYS, Settings, SettingsError
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
        [sys.executable, "-c", "import app.asgi; app.asgi.app"],
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
        [sys.executable, "-c", "import app.asgi, workers"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
