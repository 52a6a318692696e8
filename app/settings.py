"""One Settings object, read from the environment once at start-up.

Each setting is declared once, as a field of :class:`Settings` made by :func:`setting` or
:func:`required`: the variable's name, its default, the :class:`Format` that reads it (and
says what a good value looks like) and one line of help. Everything else comes from that
declaration: reading the environment (:meth:`Settings.from_env`, and :func:`read_setting`
for the few values a process needs before it can build Settings), writing it for a child
process (:meth:`Settings.to_env`) and the README's configuration table
(:func:`configuration_table`; ``python -m app.settings`` writes it into README.md, and a
test fails while the two disagree).

Plain dataclass fields carrying their declaration as metadata, rather than
pydantic-settings: the standard library is enough for ~40 string variables, pydantic would
be the service's only user of pydantic-core, and its errors are not the one line per
variable the entry points print.

Nothing here runs at import time: callers build ``Settings.from_env()`` when they
start. A missing or malformed variable raises :class:`SettingsError`, whose message
is one line that names the variable and says what a good value looks like; the
entry points print that line and exit instead of showing a traceback.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

from dotenv import dotenv_values

T = TypeVar("T")
N = TypeVar("N", int, float)

#: Every entry point reads the ``.env`` file of the folder it starts in (make run's: the
#: repository's), under the process environment.
ENV_FILE = Path(".env")

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
#: How long a counted event's id is remembered; must outlast the age window (see Settings).
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
#: tests/app/test_admin_keys_in_repository.py fails when the repository holds a string that
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


class Refused(ValueError):
    """A value refused for a reason of its own rather than "is not usable"."""

    def __init__(self, problem: str, expected: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.expected = expected


@dataclass(frozen=True, slots=True)
class Format(Generic[T]):
    """How a variable's text becomes a value (``parse`` raises ValueError when it cannot),
    and what a good value looks like; ``{default}`` there stands for the setting's default."""

    parse: Callable[[str], T]
    expected: str


@dataclass(frozen=True, slots=True)
class Var(Generic[T]):
    """One environment variable, as a field of :class:`Settings` declares it."""

    name: str
    default: T | None
    format: Format[T]
    help: str
    required: bool = False

    @property
    def expected(self) -> str:
        return self.format.expected.replace("{default}", _text(self.default))

    def read(self, env: Mapping[str, str]) -> T | None:
        raw = env.get(self.name, "").strip()
        if not raw:
            if self.required:
                raise SettingsError(self.name, "is missing", f"set it to {self.expected}")
            return self.default
        try:
            return self.format.parse(raw)
        except Refused as refused:
            raise SettingsError(self.name, refused.problem, refused.expected) from None
        except ValueError:
            raise SettingsError(self.name, "is not usable", f"expected {self.expected}") from None

    def table_row(self) -> str:
        if self.required:
            default = "required"
        else:
            default = "unset" if self.default is None else f"`{_text(self.default)}`"
        return f"| `{self.name}` | {self.help} | {default} |"


def setting(name: str, default: T | None, format: Format[T], help: str) -> Any:
    """A field of :class:`Settings` read from the variable ``name``, ``default`` when unset."""
    return field(default=default, metadata={"var": Var(name, default, format, help)})


def required(name: str, format: Format[str], help: str) -> Any:
    """A field of :class:`Settings` whose variable must be set."""
    return field(metadata={"var": Var(name, None, format, help, required=True)})


def _text(value: object) -> str:
    """A value as a variable would hold it (``true``, ``30`` rather than ``30.0``)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --------------------------------------------------------------------------------------------
# parsers: text (never empty, already stripped) to a value, or ValueError


def _postgres_url(raw: str) -> str:
    parts = urlsplit(raw)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme not in {"postgresql", "postgres"} or not (parts.netloc or parts.path):
        raise ValueError(raw)
    return parts._replace(scheme="postgresql+asyncpg").geturl()


def _redis_url(raw: str) -> str:
    if urlsplit(raw).scheme not in {"redis", "rediss", "unix"}:
        raise ValueError(raw)
    return raw


def _http_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError(raw)
    return raw.rstrip("/")


def _admin_key(raw: str) -> str:
    if len(raw) < ADMIN_KEY_MIN_LENGTH:
        raise ValueError("too short")
    if raw in PUBLIC_ADMIN_KEYS:
        raise Refused(
            "is written in the seven-numbers repository, so anyone who reads it knows it",
            "set it to " + ADMIN_KEY_EXPECTED,
        )
    return raw


def _secret(raw: str) -> str:
    if len(raw) < 16:
        raise ValueError("too short")
    return raw


def _bounded(parse: Callable[[str], N], low: float, high: float = math.inf) -> Callable[[str], N]:
    """``parse``, refusing a value outside ``low`` to ``high``, nan and infinity."""

    def parse_bounded(raw: str) -> N:
        value = parse(raw)
        if not low <= value <= high or value == math.inf:
            raise ValueError(raw)
        return value

    return parse_bounded


def _positive_float(raw: str) -> float:
    value = float(raw)
    if not value > 0:
        raise ValueError(raw)
    return value


def _host_list(raw: str) -> str:
    hosts = [host.strip().lower() for host in raw.split(",") if host.strip()]
    if any(not host or "/" in host or " " in host for host in hosts):
        raise ValueError(raw)
    return ",".join(hosts)


def _boolean(raw: str) -> bool:
    value = raw.lower()
    if value in {"true", "1", "yes", "on"}:
        return True
    if value in {"false", "0", "no", "off"}:
        return False
    raise ValueError(raw)


def _log_level(raw: str) -> str:
    level = raw.upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ValueError(raw)
    return level


TEXT = Format(str, "a non-empty string")
WHOLE_SECONDS = Format(_bounded(int, 1), "a whole number of seconds >= 1, e.g. {default}")
COUNT = Format(_bounded(int, 1), "a whole number >= 1, e.g. {default}")
SECONDS = Format(_positive_float, "seconds, e.g. {default}")
TIME_LIMIT = Format(_bounded(float, 0), "seconds >= 0 (0: no limit), e.g. {default}")


# --------------------------------------------------------------------------------------------
# the settings


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = required(
        "DATABASE_URL",
        Format(
            _postgres_url,
            "a postgresql:// URL such as postgresql://user:password@127.0.0.1:5432/seven_numbers",
        ),
        "`postgresql://` URL (read with SQLAlchemy's asyncpg driver)",
    )
    redis_url: str = required(
        "REDIS_URL",
        Format(_redis_url, "a redis:// URL such as redis://127.0.0.1:6379/0"),
        "`redis://` URL",
    )
    seven_api_key: str = required(
        "SEVEN_API_KEY",
        Format(str, "your seven.io API key (or run `make run`, which starts the sandbox)"),
        "seven's API key (`make run` without one starts the sandbox and uses its key)",
    )
    seven_base_url: str = setting(
        "SEVEN_BASE_URL",
        DEFAULT_SEVEN_BASE_URL,
        Format(_http_url, "an http(s) URL such as {default}"),
        "seven's API",
    )
    seven_signing_secret: str | None = setting(
        "SEVEN_SIGNING_SECRET",
        None,
        TEXT,
        "seven's signing key: signs requests to seven and verifies its webhooks (surrounding "
        "whitespace is trimmed, as seven's PHP SDK does); unset, the webhook is refused "
        "(see below)",
    )
    webhooks_allow_unsigned: bool = setting(
        "WEBHOOKS_ALLOW_UNSIGNED",
        False,
        Format(_boolean, "true or false"),
        "only while `SEVEN_SIGNING_SECRET` is unset: `true` takes unsigned webhook calls "
        "(development only: anyone who reaches the URL can add usage)",
    )
    webhook_max_age_seconds: int = setting(
        "WEBHOOK_MAX_AGE_SECONDS",
        DEFAULT_WEBHOOK_MAX_AGE_SECONDS,
        WHOLE_SECONDS,
        "an inbound SMS whose `data.time` is older is refused (`422 event_too_old`)",
    )
    webhook_event_retention_days: int = setting(
        "WEBHOOK_EVENT_RETENTION_DAYS",
        DEFAULT_WEBHOOK_EVENT_RETENTION_DAYS,
        Format(_bounded(int, 1), "a whole number of days >= 1, e.g. {default}"),
        "how long counted event ids are kept against repeats (the worker purges hourly); at "
        "least a day longer than `WEBHOOK_MAX_AGE_SECONDS`",
    )
    event_retention_days: int = setting(
        "EVENT_RETENTION_DAYS",
        30,
        Format(_bounded(int, 1), "a whole number of days >= 1, e.g. {default}"),
        "how long events (`GET /v1/events`) are kept (the worker purges hourly)",
    )
    webhook_allowed_hosts: str | None = setting(
        "WEBHOOK_ALLOWED_HOSTS",
        None,
        Format(_host_list, "host names or addresses separated by commas, e.g. 127.0.0.1"),
        "event webhook endpoints on these hosts (comma-separated) may use plain `http` and "
        "private, loopback or link-local addresses (`127.0.0.1` for a receiver on the same "
        "machine in development); any other endpoint must be `https` on a public address",
    )
    webhook_timeout_seconds: float = setting(
        "WEBHOOK_TIMEOUT_SECONDS",
        10.0,
        SECONDS,
        "how long an endpoint may take to answer a delivery (connecting included)",
    )
    webhook_retry_window_seconds: int = setting(
        "WEBHOOK_RETRY_WINDOW_SECONDS",
        86400,
        WHOLE_SECONDS,
        "how long a delivery is retried after its first attempt before it is `failed`",
    )
    webhook_backoff_initial_seconds: float = setting(
        "WEBHOOK_BACKOFF_INITIAL_SECONDS",
        5.0,
        SECONDS,
        "the wait before a delivery's second attempt; each next one doubles (with jitter)",
    )
    webhook_backoff_max_seconds: float = setting(
        "WEBHOOK_BACKOFF_MAX_SECONDS",
        3600.0,
        SECONDS,
        "the longest wait between two attempts of a delivery",
    )
    webhook_disable_after_seconds: int = setting(
        "WEBHOOK_DISABLE_AFTER_SECONDS",
        3 * 86400,
        WHOLE_SECONDS,
        "an endpoint whose deliveries have failed for this long without one success is "
        "disabled (an `endpoint.disabled` event goes to admin)",
    )
    admin_api_key: str | None = setting(
        "ADMIN_API_KEY",
        None,
        Format(_admin_key, ADMIN_KEY_EXPECTED),
        "bootstrap key with the admin scope: at least 32 characters, and none written in this "
        "repository (`PUBLIC_ADMIN_KEYS` in `app/settings.py`: anyone can read them); "
        "`python3 -c 'import secrets; print(\"sn_admin_\" + secrets.token_urlsafe(32))'` makes "
        "one. Unset, there is no bootstrap key (`python -m app.cli create-admin-key` makes "
        "admin keys); `docker-compose.yml` requires one; `make run` generates one",
    )
    sync_interval_seconds: int = setting(
        "SYNC_INTERVAL_SECONDS", 300, WHOLE_SECONDS, "how often the mirror is synced"
    )
    sync_max_removed_share: float = setting(
        "SYNC_MAX_REMOVED_SHARE",
        DEFAULT_SYNC_MAX_REMOVED_SHARE,
        Format(
            _bounded(float, 0, 1),
            "a fraction from 0 to 1, e.g. {default} (1 switches the guard off)",
        ),
        "a sync that would take more than this share of the live numbers off the account "
        "(marking them `missing`, or `deleted` after being missed long enough; none of our "
        "deletes explaining it) writes nothing and fails with `sync_guard_tripped`; "
        '`POST /v1/sync` with `{"force": true}` (or `python -m app.cli sync --force`) '
        "applies it; `1` switches the guard off",
    )
    sync_confirm_missing_seconds: int = setting(
        "SYNC_CONFIRM_MISSING_SECONDS",
        DEFAULT_SYNC_CONFIRM_MISSING_SECONDS,
        Format(
            _bounded(int, 0),
            "a whole number of seconds >= 0 (0: the next sync that misses it too), e.g. {default}",
        ),
        "a number seven's list leaves out becomes `missing` (its holder kept, not "
        "allocatable); it becomes `deleted`, releasing its holder, when a read of the number "
        'at seven answers "not on the account", or when a sync at least this many seconds '
        "after the first that missed it still misses it (`0`: the next sync that misses it); "
        "a list that shows it again makes it `active` with its holder",
    )
    search_cache_seconds: int = setting(
        "SEARCH_CACHE_SECONDS",
        60,
        WHOLE_SECONDS,
        "how long an available-number search is cached",
    )
    number_cache_size: int = setting(
        "NUMBER_CACHE_SIZE",
        2_000_000,
        Format(
            _bounded(int, 0),
            "a whole number of numbers >= 0 (0 switches the cache off), e.g. {default}",
        ),
        "numbers each API process holds for `GET /v1/numbers/{number}`, and for list pages "
        "while the whole mirror fits (about 125 bytes each as loaded: a process holds "
        "1,000,000 in about 240 MB; `0` = no cache; no listener when `KEY_CACHE_SIZE` is `0` "
        "too)",
    )
    number_cache_seconds: int = setting(
        "NUMBER_CACHE_SECONDS",
        1800,
        WHOLE_SECONDS,
        "the oldest a held number may be served; the whole cache is renewed every half of it "
        "(a safety net: changes are dropped at once, see below; a renewal reads the numbers' "
        "row versions and re-encodes only those that changed: about 4.6 s of one core per API "
        "process for 1,000,000 numbers, against about 70 s for the first load)",
    )
    key_cache_size: int = setting(
        "KEY_CACHE_SIZE",
        10_000,
        Format(
            _bounded(int, 0),
            "a whole number of keys >= 0 (0 switches the cache off), e.g. {default}",
        ),
        "stored API keys each API process holds, so a request with one needs no query "
        "(unknown keys are never held; a revoked key is dropped everywhere before the "
        "revocation answers; `0` = every request looks its key up)",
    )
    key_cache_seconds: int = setting(
        "KEY_CACHE_SECONDS",
        600,
        WHOLE_SECONDS,
        "the oldest a held key may be served before it is looked up again (a safety net: "
        "a changed key is dropped at once)",
    )
    seven_connect_timeout: float = setting(
        "SEVEN_CONNECT_TIMEOUT",
        5.0,
        SECONDS,
        "how long connecting to seven (or waiting for a free connection) may take",
    )
    seven_read_timeout: float = setting(
        "SEVEN_READ_TIMEOUT",
        30.0,
        SECONDS,
        "the longest silence while sending to seven or reading its answer",
    )
    seven_total_timeout: float = setting(
        "SEVEN_TOTAL_TIMEOUT", 60.0, SECONDS, "how long one call to seven may take in all"
    )
    seven_settle_seconds: float = setting(
        "SEVEN_SETTLE_SECONDS",
        15.0,
        SECONDS,
        "how long seven may still be carrying out an order or deletion whose answer was lost; "
        "seven is read back (never asked again) only after it, and after "
        "`SEVEN_TOTAL_TIMEOUT` more for a write whose worker died mid-call",
    )
    log_level: str = setting(
        "LOG_LEVEL",
        "INFO",
        Format(_log_level, "one of DEBUG, INFO, WARNING, ERROR"),
        "the least severe lines logged: `DEBUG`, `INFO`, `WARNING` or `ERROR`",
    )
    operation_max_attempts: int = setting(
        "OPERATION_MAX_ATTEMPTS", 8, COUNT, "attempts at seven before an operation fails"
    )
    operation_retry_budget_seconds: float = setting(
        "OPERATION_RETRY_BUDGET_SECONDS",
        600.0,
        SECONDS,
        "total time an operation may spend retrying",
    )
    operation_backoff_initial_seconds: float = setting(
        "OPERATION_BACKOFF_INITIAL_SECONDS",
        1.0,
        SECONDS,
        "the first wait before a retry; each next one doubles (with jitter)",
    )
    operation_backoff_max_seconds: float = setting(
        "OPERATION_BACKOFF_MAX_SECONDS", 60.0, SECONDS, "the longest wait before a retry"
    )
    operation_stale_seconds: int = setting(
        "OPERATION_STALE_SECONDS",
        120,
        WHOLE_SECONDS,
        "an unfinished operation not moved for this long is enqueued again",
    )
    approval_ttl_hours: int = setting(
        "APPROVAL_TTL_HOURS",
        72,
        Format(_bounded(int, 1), "a whole number of hours >= 1, e.g. {default}"),
        "an order awaiting an admin's approval (beyond its tenant's monthly budget) that is "
        "neither approved nor rejected within this time fails with `approval_expired` (the "
        "worker looks every minute)",
    )
    reconcile_interval_seconds: int = setting(
        "RECONCILE_INTERVAL_SECONDS",
        30,
        Format(
            _bounded(int, 1, 60),
            "a whole number of seconds from 1 to 60 (a divisor of 60), e.g. {default}",
        ),
        "how often the reconciler looks (a divisor of 60)",
    )
    worker_metrics_host: str = setting(
        "WORKER_METRICS_HOST",
        "127.0.0.1",
        Format(str, "a host name or address, e.g. {default}"),
        "the address of the worker's own `/metrics` listener",
    )
    worker_metrics_port: int = setting(
        "WORKER_METRICS_PORT",
        9101,
        Format(_bounded(int, 0, 65535), "a TCP port 1-65535, or 0 for none"),
        "the port of the worker's own `/metrics` listener (`0` = none)",
    )
    worker_shutdown_wait_seconds: int = setting(
        "WORKER_SHUTDOWN_WAIT_SECONDS",
        20,
        Format(_bounded(int, 0), "a whole number of seconds >= 0, e.g. {default}"),
        "on SIGTERM, how long the worker lets running jobs finish before handing them back "
        "to the queue",
    )
    max_body_bytes: int = setting(
        "MAX_BODY_BYTES",
        DEFAULT_MAX_BODY_BYTES,
        Format(_bounded(int, 1), "a whole number of bytes >= 1, e.g. {default}"),
        "the largest request body accepted, on every route; a larger one is answered 413 "
        "`payload_too_large` before any handler runs",
    )
    database_statement_timeout_seconds: float = setting(
        "DATABASE_STATEMENT_TIMEOUT_SECONDS",
        DEFAULT_DATABASE_STATEMENT_TIMEOUT_SECONDS,
        TIME_LIMIT,
        "PostgreSQL's `statement_timeout` for the API's (and the CLI's) sessions; a statement "
        "cut by it is answered 503 `database_timeout`. The heaviest, a cost report, takes "
        "about 1 s over 100,000 numbers. `0` = no limit",
    )
    worker_database_statement_timeout_seconds: float = setting(
        "WORKER_DATABASE_STATEMENT_TIMEOUT_SECONDS",
        DEFAULT_WORKER_DATABASE_STATEMENT_TIMEOUT_SECONDS,
        TIME_LIMIT,
        "the same for the worker, whose largest statement is the sync's COPY of seven's whole "
        "list (about 1.5 s for 100,000 numbers); below the sync job's 600 s timeout, so a "
        "stuck statement fails the run before arq cancels it",
    )
    database_idle_in_transaction_timeout_seconds: float = setting(
        "DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS",
        DEFAULT_DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS,
        TIME_LIMIT,
        "PostgreSQL's `idle_in_transaction_session_timeout` for every process: a transaction "
        "left open and idle (a leak, a hung process) is ended; no transaction is held open "
        "while seven is called",
    )
    cost_reports_per_key: int = setting(
        "COST_REPORTS_PER_KEY",
        2,
        COUNT,
        "cost reports (`GET /v1/costs`, as JSON or CSV, and the forecast) running at once per "
        "API key, across all API processes; one more is answered 429 `too_many_reports` with "
        "`Retry-After: 2`. Each running report holds a PostgreSQL advisory lock in its own "
        "transaction, which PostgreSQL releases when the transaction ends, however it ends "
        "(see `app/costs/limits.py`)",
    )
    metrics_token: str | None = setting(
        "METRICS_TOKEN",
        None,
        Format(_secret, "a random string of at least 16 characters"),
        "when set, `GET /metrics` answers only `Authorization: Bearer <METRICS_TOKEN>` (401 "
        "otherwise); at least 16 characters. The worker's own listener "
        "(`WORKER_METRICS_PORT`) is not covered: keep it on a private address",
    )
    console_session_hours: int = setting(
        "CONSOLE_SESSION_HOURS",
        8,
        Format(_bounded(int, 1), "a whole number of hours >= 1, e.g. {default}"),
        "how long a sign-in to the console (`/console`) lasts; signing out or revoking the "
        "key ends it sooner",
    )
    metrics_refresh_seconds: float = setting(
        "METRICS_REFRESH_SECONDS",
        15.0,
        SECONDS,
        "how often each API process reads the system gauges (operations by kind and status, "
        "the oldest unfinished operation, the queue depth) from PostgreSQL and Redis; a "
        "scrape only reads memory",
    )

    def __post_init__(self) -> None:
        # Rules between settings. An event id forgotten while its event could still be
        # accepted would be counted again, so the ids outlive the age window by a day.
        max_age = self.webhook_max_age_seconds
        if self.webhook_event_retention_days * 86400 < max_age + 86400:
            raise SettingsError(
                "WEBHOOK_EVENT_RETENTION_DAYS",
                "is too short",
                f"keep event ids at least a day longer than WEBHOOK_MAX_AGE_SECONDS "
                f"({max_age} s), i.e. >= {-(-max_age // 86400) + 1} days",
            )

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, env_file: Path | None = ENV_FILE
    ) -> Settings:
        """Read every setting; a ``.env`` file fills in what the environment lacks."""
        env = environment(environ, env_file)
        values: dict[str, Any] = {name: var.read(env) for name, var in _VARS.items()}
        return cls(**values)

    def to_env(self) -> dict[str, str]:
        """The environment that reproduces these settings in another process."""
        values = ((var.name, getattr(self, name)) for name, var in _VARS.items())
        return {variable: _text(value) for variable, value in values if value is not None}

    def __repr__(self) -> str:
        # Secrets never reach a log line or a traceback through repr().
        return (
            f"Settings(database_url={redact_url(self.database_url)!r}, "
            f"redis_url={redact_url(self.redis_url)!r}, seven_base_url={self.seven_base_url!r}, "
            f"sync_interval_seconds={self.sync_interval_seconds})"
        )

    __str__ = __repr__


#: Each field of Settings by its attribute name, with the variable it is read from.
_VARS: dict[str, Var[Any]] = {f.name: f.metadata["var"] for f in fields(Settings)}
_BY_VARIABLE: dict[str, Var[Any]] = {var.name: var for var in _VARS.values()}
#: Every variable Settings reads.
VARIABLES = frozenset(_BY_VARIABLE)


def environment(
    environ: Mapping[str, str] | None = None, env_file: Path | None = ENV_FILE
) -> dict[str, str]:
    """The variables a process goes by: ``environ`` (the process environment by default)
    over those of ``env_file`` when it exists, which fills in only what ``environ`` lacks.
    An empty variable counts as unset (``DATABASE_URL= make run`` is how a shell clears
    one), so it does not hide the file's value."""
    merged: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        merged.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    given = os.environ if environ is None else environ
    merged.update({k: v for k, v in given.items() if v != "" or k not in merged})
    return merged


def read_setting(
    variable: str, environ: Mapping[str, str] | None = None, *, env_file: Path | None = ENV_FILE
) -> Any:
    """One setting, read exactly as :meth:`Settings.from_env` reads it, for a process that
    needs it before it can build Settings (the worker's Redis address and cron schedules,
    Alembic's database, the CLI's connection)."""
    return _BY_VARIABLE[variable].read(environment(environ, env_file))


def redact_url(url: str) -> str:
    """The URL with any password replaced, for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


# --------------------------------------------------------------------------------------------
# the README's configuration table

TABLE_START = "<!-- settings table: written by `make settings-table` from app/settings.py -->\n"
TABLE_END = "<!-- end of settings table -->"


def configuration_table() -> str:
    """Every setting as a Markdown table row, in the order they are declared."""
    rows = ["| variable | meaning | default |", "| --- | --- | --- |"]
    rows += [var.table_row() for var in _VARS.values()]
    return "\n".join(rows) + "\n"


def readme_with_table(readme: str) -> str:
    """``readme`` with the text between its table markers replaced by the current table."""
    head, start, rest = readme.partition(TABLE_START)
    _, end, tail = rest.partition(TABLE_END)
    if not (start and end):
        raise ValueError(f"the README lacks the markers {TABLE_START.strip()} ... {TABLE_END}")
    return head + TABLE_START + configuration_table() + TABLE_END + tail


if __name__ == "__main__":
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "README.md")
    path.write_text(readme_with_table(path.read_text()))
