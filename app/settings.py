"""One Settings object, read from the environment once at start-up.

Nothing here runs at import time: callers build ``Settings.from_env()`` when they
start. A missing or malformed variable raises :class:`SettingsError`, whose message
is one line that names the variable and says what a good value looks like; the
entry points print that line and exit instead of showing a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from dotenv import dotenv_values

T = TypeVar("T")

DEFAULT_SEVEN_BASE_URL = "https://gateway.seven.io/api"
#: A sync may mark at most this share of the live numbers deleted unexplained (app/sync/diff.py).
DEFAULT_SYNC_MAX_REMOVED_SHARE = 0.5
#: A number missing from seven's list is confirmed gone by a sync at least this long after
#: the first that missed it, every list in between having left it out too (app/sync/diff.py).
#: A read of the number at seven usually confirms a real removal in the first run; this
#: window decides only when those reads say nothing (seven failing or answering oddly).
#: Half an hour (seven syncs at the default interval) outlasts a short list during an
#: incident or deploy at seven, yet a number that really left releases its holder within
#: the hour.
DEFAULT_SYNC_CONFIRM_MISSING_SECONDS = 1800
#: An sms_mo event whose own time (data.time) is older than this is refused (app/webhooks).
DEFAULT_WEBHOOK_MAX_AGE_SECONDS = 600
#: How long a counted event's id is remembered; must outlast the age window (see from_env).
DEFAULT_WEBHOOK_EVENT_RETENTION_DAYS = 7
#: The largest request body accepted (64 KiB): the biggest body the API takes, a PATCH with
#: ten forwarding addresses, is well under 2 KiB.
DEFAULT_MAX_BODY_BYTES = 64 * 1024
#: PostgreSQL's statement_timeout for the API's sessions: the heaviest statements it runs,
#: the cost reports, take about 1 s over 100,000 numbers (README, "Cost reports"), so 30 s
#: leaves room for a busy machine and a much larger account, and still ends a runaway query
#: long before a client or proxy gives up on the request.
DEFAULT_DATABASE_STATEMENT_TIMEOUT_SECONDS = 30.0
#: The worker's: its largest statement is the sync's COPY of seven's whole list (about
#: 1.5 s for 100,000 numbers); 300 s is ample for ten times that account and still ends a
#: stuck statement before arq's 600 s job timeout (SYNC_JOB_TIMEOUT_SECONDS) cancels the job.
DEFAULT_WORKER_DATABASE_STATEMENT_TIMEOUT_SECONDS = 300.0
#: A transaction left open and idle (a leak, a hung process) is ended after this long in
#: every process. Nothing legitimate waits inside a transaction: no call to seven is made
#: with one open, and the longest gap between two statements of one transaction (the
#: number cache's streamed load, between batches of a busy process) is well under a second.
DEFAULT_DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS = 60.0
ADMIN_KEY_MIN_LENGTH = 32
ADMIN_KEY_EXPECTED = (
    f"a random string of at least {ADMIN_KEY_MIN_LENGTH} characters, e.g. from "
    "python3 -c 'import secrets; print(\"sn_admin_\" + secrets.token_urlsafe(32))'"
)
#: Admin keys written in this repository, in its files or its history: whoever can read it
#: knows them, so none of them may guard a running service. The test in
#: tests/unit/test_admin_keys_in_repository.py fails when the repository holds a string that
#: looks like an admin key and is missing here.
PUBLIC_ADMIN_KEYS = frozenset(
    {
        "sn_admin_change_me_0123456789",  # docker-compose.yml's former default
        "sn_admin_test_key_0123456789abcdef",  # the test suite's former fixed key
        "sn_admin_bench_operations_0123456789",
        "sn_admin_bench_reads_0123456789",
        "sn_admin_bench_tenancy_0123456789",
        "sn_admin_wrong_key_0000000000",
        "admin-key-must-not-leak-0123",
    }
)


class SettingsError(Exception):
    """A setting is missing or unusable; ``str()`` is the one line to show."""

    def __init__(self, name: str, problem: str, expected: str) -> None:
        self.name = name
        super().__init__(f"{name} {problem}: {expected}")


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str
    """SQLAlchemy URL with the asyncpg driver (converted from ``postgresql://``)."""
    redis_url: str
    seven_api_key: str
    seven_base_url: str = DEFAULT_SEVEN_BASE_URL
    seven_signing_secret: str | None = None
    admin_api_key: str | None = None
    sync_interval_seconds: int = 300
    sync_max_removed_share: float = DEFAULT_SYNC_MAX_REMOVED_SHARE
    sync_confirm_missing_seconds: int = DEFAULT_SYNC_CONFIRM_MISSING_SECONDS
    search_cache_seconds: int = 60
    # The API's in-process cache of single-number reads (app.numbers.cache); 0 = off.
    number_cache_size: int = 100_000
    number_cache_seconds: int = 1800
    seven_connect_timeout: float = 5.0
    seven_read_timeout: float = 30.0
    seven_total_timeout: float = 60.0
    # How long seven may still be carrying out a write after its answer was lost.
    seven_settle_seconds: float = 15.0
    log_level: str = "INFO"
    worker_metrics_host: str = "127.0.0.1"
    worker_metrics_port: int = 9101
    """0 switches the worker's own /metrics listener off."""
    # Operations (app/operations): retry policy and the reconciler.
    operation_max_attempts: int = 8
    operation_retry_budget_seconds: float = 600.0
    operation_backoff_initial_seconds: float = 1.0
    operation_backoff_max_seconds: float = 60.0
    operation_stale_seconds: int = 120
    reconcile_interval_seconds: int = 30
    # seven's webhooks (app/webhooks).
    webhooks_allow_unsigned: bool = False
    """Only while ``seven_signing_secret`` is unset: accept webhook calls nobody signed."""
    webhook_max_age_seconds: int = DEFAULT_WEBHOOK_MAX_AGE_SECONDS
    webhook_event_retention_days: int = DEFAULT_WEBHOOK_EVENT_RETENTION_DAYS
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    # PostgreSQL's statement_timeout: the API's sessions (and the CLI's), the worker's.
    database_statement_timeout_seconds: float = DEFAULT_DATABASE_STATEMENT_TIMEOUT_SECONDS
    worker_database_statement_timeout_seconds: float = (
        DEFAULT_WORKER_DATABASE_STATEMENT_TIMEOUT_SECONDS
    )
    # idle_in_transaction_session_timeout, for every process.
    database_idle_in_transaction_timeout_seconds: float = (
        DEFAULT_DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS
    )
    # Cost reports (and forecasts) running at once per API key (app.costs.limits).
    cost_reports_per_key: int = 2
    metrics_token: str | None = None
    """When set, ``/metrics`` answers only ``Authorization: Bearer <token>``."""
    metrics_refresh_seconds: float = 15.0

    def to_env(self) -> dict[str, str]:
        """The environment that reproduces these settings in another process."""
        values = {
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "SEVEN_API_KEY": self.seven_api_key,
            "SEVEN_BASE_URL": self.seven_base_url,
            "SEVEN_SIGNING_SECRET": self.seven_signing_secret,
            "ADMIN_API_KEY": self.admin_api_key,
            "SYNC_INTERVAL_SECONDS": self.sync_interval_seconds,
            "SYNC_MAX_REMOVED_SHARE": self.sync_max_removed_share,
            "SYNC_CONFIRM_MISSING_SECONDS": self.sync_confirm_missing_seconds,
            "SEARCH_CACHE_SECONDS": self.search_cache_seconds,
            "NUMBER_CACHE_SIZE": self.number_cache_size,
            "NUMBER_CACHE_SECONDS": self.number_cache_seconds,
            "SEVEN_CONNECT_TIMEOUT": self.seven_connect_timeout,
            "SEVEN_READ_TIMEOUT": self.seven_read_timeout,
            "SEVEN_TOTAL_TIMEOUT": self.seven_total_timeout,
            "SEVEN_SETTLE_SECONDS": self.seven_settle_seconds,
            "LOG_LEVEL": self.log_level,
            "WORKER_METRICS_HOST": self.worker_metrics_host,
            "WORKER_METRICS_PORT": self.worker_metrics_port,
            "OPERATION_MAX_ATTEMPTS": self.operation_max_attempts,
            "OPERATION_RETRY_BUDGET_SECONDS": self.operation_retry_budget_seconds,
            "OPERATION_BACKOFF_INITIAL_SECONDS": self.operation_backoff_initial_seconds,
            "OPERATION_BACKOFF_MAX_SECONDS": self.operation_backoff_max_seconds,
            "OPERATION_STALE_SECONDS": self.operation_stale_seconds,
            "RECONCILE_INTERVAL_SECONDS": self.reconcile_interval_seconds,
            "WEBHOOKS_ALLOW_UNSIGNED": str(self.webhooks_allow_unsigned).lower(),
            "WEBHOOK_MAX_AGE_SECONDS": self.webhook_max_age_seconds,
            "WEBHOOK_EVENT_RETENTION_DAYS": self.webhook_event_retention_days,
            "MAX_BODY_BYTES": self.max_body_bytes,
            "DATABASE_STATEMENT_TIMEOUT_SECONDS": self.database_statement_timeout_seconds,
            "WORKER_DATABASE_STATEMENT_TIMEOUT_SECONDS": (
                self.worker_database_statement_timeout_seconds
            ),
            "DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS": (
                self.database_idle_in_transaction_timeout_seconds
            ),
            "COST_REPORTS_PER_KEY": self.cost_reports_per_key,
            "METRICS_TOKEN": self.metrics_token,
            "METRICS_REFRESH_SECONDS": self.metrics_refresh_seconds,
        }
        return {name: str(value) for name, value in values.items() if value is not None}

    def __repr__(self) -> str:
        # Secrets never reach a log line or a traceback through repr().
        return (
            f"Settings(database_url={redact_url(self.database_url)!r}, "
            f"redis_url={redact_url(self.redis_url)!r}, seven_base_url={self.seven_base_url!r}, "
            f"sync_interval_seconds={self.sync_interval_seconds})"
        )

    __str__ = __repr__

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, env_file: Path | None = Path(".env")
    ) -> Settings:
        """Read every setting; a ``.env`` file fills in what the environment lacks."""
        env = _merged_env(environ, env_file)
        webhook_max_age_seconds = _optional(
            env,
            "WEBHOOK_MAX_AGE_SECONDS",
            _positive_int,
            "a whole number of seconds >= 1, e.g. 600",
            DEFAULT_WEBHOOK_MAX_AGE_SECONDS,
        )
        return cls(
            database_url=database_url_from(env),
            redis_url=redis_url_from(env),
            seven_api_key=_required(
                env,
                "SEVEN_API_KEY",
                _non_empty,
                "your seven.io API key (or run `make run`, which starts the sandbox)",
            ),
            seven_base_url=_optional(
                env,
                "SEVEN_BASE_URL",
                _http_url,
                "an http(s) URL such as " + DEFAULT_SEVEN_BASE_URL,
                DEFAULT_SEVEN_BASE_URL,
            ),
            seven_signing_secret=_optional(
                env, "SEVEN_SIGNING_SECRET", _non_empty, "a non-empty string", None
            ),
            admin_api_key=admin_api_key_from(env),
            sync_interval_seconds=sync_interval_from(env),
            sync_max_removed_share=_optional(
                env,
                "SYNC_MAX_REMOVED_SHARE",
                _share,
                "a fraction from 0 to 1, e.g. 0.5 (1 switches the guard off)",
                DEFAULT_SYNC_MAX_REMOVED_SHARE,
            ),
            sync_confirm_missing_seconds=_optional(
                env,
                "SYNC_CONFIRM_MISSING_SECONDS",
                _non_negative_int,
                "a whole number of seconds >= 0 (0: the next sync that misses it too), e.g. 1800",
                DEFAULT_SYNC_CONFIRM_MISSING_SECONDS,
            ),
            search_cache_seconds=_optional(
                env,
                "SEARCH_CACHE_SECONDS",
                _positive_int,
                "a whole number of seconds >= 1, e.g. 60",
                60,
            ),
            number_cache_size=_optional(
                env,
                "NUMBER_CACHE_SIZE",
                _non_negative_int,
                "a whole number of numbers >= 0 (0 switches the cache off), e.g. 100000",
                100_000,
            ),
            number_cache_seconds=_optional(
                env,
                "NUMBER_CACHE_SECONDS",
                _positive_int,
                "a whole number of seconds >= 1, e.g. 1800",
                1800,
            ),
            seven_connect_timeout=_optional(
                env, "SEVEN_CONNECT_TIMEOUT", _positive_float, "seconds, e.g. 5", 5.0
            ),
            seven_read_timeout=_optional(
                env, "SEVEN_READ_TIMEOUT", _positive_float, "seconds, e.g. 30", 30.0
            ),
            seven_total_timeout=_optional(
                env, "SEVEN_TOTAL_TIMEOUT", _positive_float, "seconds, e.g. 60", 60.0
            ),
            seven_settle_seconds=_optional(
                env, "SEVEN_SETTLE_SECONDS", _positive_float, "seconds, e.g. 15", 15.0
            ),
            worker_metrics_host=env.get("WORKER_METRICS_HOST", "").strip() or "127.0.0.1",
            worker_metrics_port=_optional(
                env, "WORKER_METRICS_PORT", _port, "a TCP port 1-65535, or 0 for none", 9101
            ),
            log_level=_optional(
                env, "LOG_LEVEL", _log_level, "one of DEBUG, INFO, WARNING, ERROR", "INFO"
            ),
            operation_max_attempts=_optional(
                env, "OPERATION_MAX_ATTEMPTS", _positive_int, "a whole number >= 1, e.g. 8", 8
            ),
            operation_retry_budget_seconds=_optional(
                env, "OPERATION_RETRY_BUDGET_SECONDS", _positive_float, "seconds, e.g. 600", 600.0
            ),
            operation_backoff_initial_seconds=_optional(
                env, "OPERATION_BACKOFF_INITIAL_SECONDS", _positive_float, "seconds, e.g. 1", 1.0
            ),
            operation_backoff_max_seconds=_optional(
                env, "OPERATION_BACKOFF_MAX_SECONDS", _positive_float, "seconds, e.g. 60", 60.0
            ),
            operation_stale_seconds=_optional(
                env,
                "OPERATION_STALE_SECONDS",
                _positive_int,
                "a whole number of seconds, e.g. 120",
                120,
            ),
            reconcile_interval_seconds=reconcile_interval_from(env),
            webhooks_allow_unsigned=_optional(
                env, "WEBHOOKS_ALLOW_UNSIGNED", _boolean, "true or false", False
            ),
            webhook_max_age_seconds=webhook_max_age_seconds,
            webhook_event_retention_days=_webhook_retention_from(env, webhook_max_age_seconds),
            max_body_bytes=_optional(
                env,
                "MAX_BODY_BYTES",
                _positive_int,
                f"a whole number of bytes >= 1, e.g. {DEFAULT_MAX_BODY_BYTES}",
                DEFAULT_MAX_BODY_BYTES,
            ),
            database_statement_timeout_seconds=statement_timeout_from(env),
            worker_database_statement_timeout_seconds=_optional(
                env,
                "WORKER_DATABASE_STATEMENT_TIMEOUT_SECONDS",
                _non_negative_float,
                "seconds >= 0 (0: no limit), e.g. 300",
                DEFAULT_WORKER_DATABASE_STATEMENT_TIMEOUT_SECONDS,
            ),
            database_idle_in_transaction_timeout_seconds=idle_in_transaction_timeout_from(env),
            cost_reports_per_key=_optional(
                env, "COST_REPORTS_PER_KEY", _positive_int, "a whole number >= 1, e.g. 2", 2
            ),
            metrics_token=_optional(
                env, "METRICS_TOKEN", _secret, "a random string of at least 16 characters", None
            ),
            metrics_refresh_seconds=_optional(
                env, "METRICS_REFRESH_SECONDS", _positive_float, "seconds, e.g. 15", 15.0
            ),
        )


def redis_url_from(environ: Mapping[str, str]) -> str:
    """``REDIS_URL`` alone (the worker needs it before anything else)."""
    return _required(
        environ, "REDIS_URL", _redis_url, "a redis:// URL such as redis://127.0.0.1:6379/0"
    )


def admin_api_key_from(environ: Mapping[str, str]) -> str | None:
    """``ADMIN_API_KEY``: optional (admin keys can be made with the CLI instead), but when
    given, long enough and not one published in this repository. Deployments that rely on
    it, such as docker-compose.yml, require it themselves."""
    key = _optional(environ, "ADMIN_API_KEY", _admin_key, ADMIN_KEY_EXPECTED, None)
    if key is not None and key in PUBLIC_ADMIN_KEYS:
        raise SettingsError(
            "ADMIN_API_KEY",
            "is written in the seven-numbers repository, so anyone who reads it knows it",
            "set it to " + ADMIN_KEY_EXPECTED,
        )
    return key


def sync_interval_from(environ: Mapping[str, str]) -> int:
    """``SYNC_INTERVAL_SECONDS`` alone (the worker's sync cron needs it at import)."""
    return _optional(
        environ,
        "SYNC_INTERVAL_SECONDS",
        _positive_int,
        "a whole number of seconds >= 1, e.g. 300",
        300,
    )


def reconcile_interval_from(environ: Mapping[str, str]) -> int:
    """``RECONCILE_INTERVAL_SECONDS`` alone (the worker's cron schedule needs it at import)."""
    return _optional(
        environ,
        "RECONCILE_INTERVAL_SECONDS",
        _seconds_in_minute,
        "a whole number of seconds from 1 to 60 (a divisor of 60), e.g. 30",
        30,
    )


def _webhook_retention_from(environ: Mapping[str, str], max_age_seconds: int) -> int:
    """``WEBHOOK_EVENT_RETENTION_DAYS``: an event id forgotten while its event could still
    be accepted would be counted again, so the ids outlive the age window by a day."""
    days = _optional(
        environ,
        "WEBHOOK_EVENT_RETENTION_DAYS",
        _positive_int,
        "a whole number of days >= 1, e.g. 7",
        DEFAULT_WEBHOOK_EVENT_RETENTION_DAYS,
    )
    if days * 86400 < max_age_seconds + 86400:
        raise SettingsError(
            "WEBHOOK_EVENT_RETENTION_DAYS",
            "is too short",
            f"keep event ids at least a day longer than WEBHOOK_MAX_AGE_SECONDS "
            f"({max_age_seconds} s), i.e. >= {-(-max_age_seconds // 86400) + 1} days",
        )
    return days


def statement_timeout_from(environ: Mapping[str, str]) -> float:
    """``DATABASE_STATEMENT_TIMEOUT_SECONDS`` alone (the CLI's sessions use it too)."""
    return _optional(
        environ,
        "DATABASE_STATEMENT_TIMEOUT_SECONDS",
        _non_negative_float,
        "seconds >= 0 (0: no limit), e.g. 30",
        DEFAULT_DATABASE_STATEMENT_TIMEOUT_SECONDS,
    )


def idle_in_transaction_timeout_from(environ: Mapping[str, str]) -> float:
    """``DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS`` alone (the CLI's sessions use it too)."""
    return _optional(
        environ,
        "DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS",
        _non_negative_float,
        "seconds >= 0 (0: no limit), e.g. 60",
        DEFAULT_DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS,
    )


def database_url_from(environ: Mapping[str, str]) -> str:
    """``DATABASE_URL`` alone (Alembic needs nothing else)."""
    return _required(
        environ,
        "DATABASE_URL",
        _postgres_url,
        "a postgresql:// URL such as postgresql://user:password@127.0.0.1:5432/seven_numbers",
    )


def redact_url(url: str) -> str:
    """The URL with any password replaced, for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def _merged_env(environ: Mapping[str, str] | None, env_file: Path | None) -> dict[str, str]:
    merged: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        merged.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    merged.update(os.environ if environ is None else environ)
    return merged


def _required(env: Mapping[str, str], name: str, parse: Callable[[str], T], expected: str) -> T:
    raw = env.get(name, "").strip()
    if not raw:
        raise SettingsError(name, "is missing", f"set it to {expected}")
    return _parse(name, raw, parse, expected)


def _optional(
    env: Mapping[str, str], name: str, parse: Callable[[str], T], expected: str, default: T
) -> T:
    raw = env.get(name, "").strip()
    return _parse(name, raw, parse, expected) if raw else default


def _parse(name: str, raw: str, parse: Callable[[str], T], expected: str) -> T:
    try:
        return parse(raw)
    except ValueError:
        raise SettingsError(name, "is not usable", f"expected {expected}") from None


def _postgres_url(raw: str) -> str:
    parts = urlsplit(raw)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme not in {"postgresql", "postgres"} or not (parts.netloc or parts.path):
        raise ValueError(raw)
    return parts._replace(scheme="postgresql+asyncpg").geturl()


def _share(raw: str) -> float:
    value = float(raw)
    if not 0 <= value <= 1:
        raise ValueError(raw)
    return value


def _redis_url(raw: str) -> str:
    if urlsplit(raw).scheme not in {"redis", "rediss", "unix"}:
        raise ValueError(raw)
    return raw


def _http_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError(raw)
    return raw.rstrip("/")


def _non_empty(raw: str) -> str:
    return raw


def _admin_key(raw: str) -> str:
    if len(raw) < ADMIN_KEY_MIN_LENGTH:
        raise ValueError("too short")
    return raw


def _secret(raw: str) -> str:
    if len(raw) < 16:
        raise ValueError("too short")
    return raw


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise ValueError(raw)
    return value


def _non_negative_int(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError(raw)
    return value


def _positive_float(raw: str) -> float:
    value = float(raw)
    if not value > 0:
        raise ValueError(raw)
    return value


def _non_negative_float(raw: str) -> float:
    value = float(raw)
    if not 0 <= value < float("inf"):
        raise ValueError(raw)
    return value


def _seconds_in_minute(raw: str) -> int:
    value = int(raw)
    if not 1 <= value <= 60:
        raise ValueError(raw)
    return value


def _boolean(raw: str) -> bool:
    value = raw.lower()
    if value in {"true", "1", "yes", "on"}:
        return True
    if value in {"false", "0", "no", "off"}:
        return False
    raise ValueError(raw)


def _port(raw: str) -> int:
    value = int(raw)
    if not 0 <= value <= 65535:
        raise ValueError(raw)
    return value


def _log_level(raw: str) -> str:
    level = raw.upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ValueError(raw)
    return level
