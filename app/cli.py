"""Operator commands: ``python -m app.cli COMMAND``, e.g. ``create-admin-key --name alice``.

They call the same services as the API (app.tenants.service), so a key made here is
stored, audited and revoked exactly like one made over HTTP. Audit rows name the actor
``cli`` (the operator at the console, with admin rights and no key), operations the CLI
creates (a sync) included; the request id is ``cli:<command>``. A key's plaintext is
printed once, on stdout, and nowhere else.

Settings come from the environment, then ``.env``, then the env file a running ``make run``
writes (``app.lib.dev_instance``), so the CLI finds the dev instance with nothing exported.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import httpx
import msgspec
import typer
from redis.exceptions import RedisError
from rich.console import Console
from rich.table import Table
from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import Actor
from app.bulk import service as bulk
from app.bulk.schemas import MAX_BULK_COUNT, BulkOrderCreate
from app.console import sessions as console_sessions
from app.costs import service as costs_service
from app.costs.model import Basis, GroupBy, Month, parse_group_by
from app.costs.rendered import CSV_COLUMNS, decoded, row_cells
from app.db.engine import create_engine, create_session_factory
from app.db.models import ApiKey, Number, Operation
from app.db.vocabulary import FINISHED, KeyScope, OperationStatus, OverBudget
from app.lib import params
from app.lib.auth import CLI_ADMIN, current_actor
from app.lib.dev_instance import cli_environment, env_file
from app.lib.errors import ServiceError
from app.lib.key_cache import forget_everywhere
from app.lib.pagination import PageQuery
from app.lib.queue import create_queue, enqueue_operation
from app.lib.tags import parse_tag_filters
from app.numbers import locks
from app.numbers.mirror import berlin_today
from app.numbers.tags import replace_tags
from app.operations import approval
from app.operations.schemas import NumberChange, Progress
from app.pools import entitlements
from app.reports import service as reports_service
from app.reports.schemas import IdleNumberOut
from app.settings import DEFAULT_SEVEN_BASE_URL, SettingsError, read_setting, redact_url
from app.sync import runs
from app.sync.schemas import SyncRunOut
from app.sync.service import RunOutcome, request_sync
from app.tenants import service
from app.tenants.schemas import LimitsChange, TenantUpdate, limits_out
from app.webhooks.controller import WEBHOOK_PATH

T = TypeVar("T")


# No locals in a traceback: they hold database URLs with passwords and keys.
cli = typer.Typer(
    help="seven-numbers operator commands.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


def _setting(variable: str) -> Any:
    """One setting, read as the service reads it; a bad one is one line and exit code 2."""
    environ, _ = cli_environment()
    try:
        return read_setting(variable, environ, env_file=None)
    except SettingsError as error:
        hint = ""
        if variable not in environ:
            hint = f" (or start make run: the CLI then reads it from {env_file(environ)})"
        typer.echo(f"seven-numbers: {error}{hint}", err=True)
        raise typer.Exit(2) from None


def _unreachable(variable: str, url: str, error: OSError | httpx.TransportError) -> typer.Exit:
    """One line naming the address tried and where it came from, and exit code 2."""
    environ, sources = cli_environment()
    typer.echo(
        f"seven-numbers: cannot reach {redact_url(url)} ({variable} from "
        f"{sources.get(variable, 'nowhere')}): {error}. Is make run (or that server) running? "
        f"While it runs, make run writes its addresses to {env_file(environ)}.",
        err=True,
    )
    return typer.Exit(2)


def _run(command: str, work: Callable[[AsyncSession, Actor], Awaitable[T]]) -> T:
    """Run one service verb in its own session; a refusal is one line and exit code 1."""
    database_url: str = _setting("DATABASE_URL")
    statement_timeout: float = _setting("DATABASE_STATEMENT_TIMEOUT_SECONDS")
    idle_in_transaction_timeout: float = _setting("DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS")

    async def main() -> T:
        engine = create_engine(
            database_url,
            pool_size=1,
            statement_timeout=statement_timeout,
            idle_in_transaction_timeout=idle_in_transaction_timeout,
        )
        try:
            actor = Actor(CLI_ADMIN, request_id=f"cli:{command}")
            # As the key check does for a request: operations created here are audited.
            current_actor.set(actor)
            # Like a request: the verb flushes, the command commits once it has succeeded.
            async with create_session_factory(engine)() as session:
                result = await work(session, actor)
                await session.commit()
                return result
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except OSError as error:  # refused, timed out, no such host
        raise _unreachable("DATABASE_URL", database_url, error) from None
    except ServiceError as error:
        typer.echo(f"refused ({error.code}): {error.message}", err=True)
        raise typer.Exit(1) from None


def _issue_key(command: str, scope: KeyScope, tenant: uuid.UUID | None, name: str) -> ApiKey:
    """Issue a key and print it (once: only its hash is stored); its row, for its id."""
    row, plaintext = _run(command, lambda s, a: service.issue_key(s, a, scope, tenant, name))
    typer.echo(plaintext)
    return row


@cli.command("create-admin-key")
def create_admin_key(
    name: Annotated[str, typer.Option(help="Whose key it is, e.g. a person's name.")] = "",
) -> None:
    """Create an admin key and print it (once: it cannot be shown again)."""
    row = _issue_key("create-admin-key", KeyScope.ADMIN, None, name)
    typer.echo(f"key id {row.id} (keep the key above; only its hash is stored)", err=True)


@cli.command("create-tenant")
def create_tenant(name: Annotated[str, typer.Argument(help="The tenant's unique name.")]) -> None:
    """Create a tenant and print its id."""
    tenant = _run("create-tenant", lambda s, a: service.create_tenant(s, a, name))
    typer.echo(tenant.id)


@cli.command("issue-key")
def issue_key(
    tenant: Annotated[uuid.UUID, typer.Argument(help="The tenant's id.")],
    name: Annotated[str, typer.Option(help="What the key is for.")] = "",
) -> None:
    """Issue a key bound to a tenant and print it (once)."""
    row = _issue_key("issue-key", KeyScope.TENANT, tenant, name)
    typer.echo(f"key id {row.id}", err=True)


@cli.command("revoke-key")
def revoke_key(key_id: Annotated[uuid.UUID, typer.Argument(help="The key's id.")]) -> None:
    """Revoke a key; its next request answers 401."""
    row = _run("revoke-key", lambda s, a: service.revoke_key(s, a, key_id))
    # As the API's revocation does: the API processes drop the key before this returns.
    asyncio.run(forget_everywhere(_setting("DATABASE_URL"), [row.key_hash]))
    typer.echo(f"revoked {row.id} at {row.revoked_at.isoformat() if row.revoked_at else '?'}")


@cli.command("end-console-sessions")
def end_console_sessions() -> None:
    """Sign everybody out of the console (/console); keys stay valid."""
    ended = _run("end-console-sessions", console_sessions.end_all)
    typer.echo(f"ended {ended} console session{'' if ended == 1 else 's'}")


@cli.command("sync")
def sync(
    wait: Annotated[bool, typer.Option(help="Wait for the sync to finish.")] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait at most.", min=1)] = 600,
    force: Annotated[
        bool,
        typer.Option(
            help="Apply the run even if seven no longer lists more than "
            "SYNC_MAX_REMOVED_SHARE of the live numbers (refused otherwise)."
        ),
    ] = False,
) -> None:
    """Start a sync of the mirror with seven (a worker runs it); wait and print its counts."""
    operation_id = _start("sync", lambda s, a: request_sync(s, a.request_id, force=force))
    typer.echo(f"sync operation {operation_id}", err=True)
    if not wait:
        typer.echo(operation_id)
        return
    operation = _run("sync", lambda s, _: _wait_finished(s, operation_id, timeout))
    if operation.status == OperationStatus.FAILED:
        typer.echo(f"sync failed ({operation.error_code}): {operation.error_message}", err=True)
        raise typer.Exit(1)
    if operation.status != OperationStatus.SUCCEEDED:
        typer.echo(f"still {operation.status} after {timeout:g} s (no worker running?)", err=True)
        raise typer.Exit(3)
    result = operation.result or {}
    if result.get("outcome") == RunOutcome.SKIPPED:
        typer.echo(f"skipped: {result.get('reason')} (run {result.get('running_run')})")
        return
    run = _run("sync", lambda s, _: runs.get_run(s, uuid.UUID(result["run_id"]), _NO_DRIFT))
    _print_run(run)


@cli.command("drift")
def drift(
    limit: Annotated[int, typer.Option(help="Drift items to show at most.", min=1)] = 100,
) -> None:
    """Show the newest sync run and the drift it found."""

    async def newest(session: AsyncSession, _: Actor) -> SyncRunOut | None:
        page = await runs.list_runs(session, PageQuery(limit=1))
        if not page.items:
            return None
        query = PageQuery(limit=min(limit, runs.DRIFT_PAGES.max_limit))
        return await runs.get_run(session, page.items[0].id, query)

    run = _run("drift", newest)
    if run is None:
        typer.echo("no sync has run yet", err=True)
        raise typer.Exit(1)
    _print_run(run)
    table = Table("number", "kind", "before", "after")
    for item in run.drift:
        table.add_row(item.number, item.kind, _json(item.before), _json(item.after))
    Console().print(table)
    if run.drift_total > len(run.drift):
        typer.echo(f"... {run.drift_total - len(run.drift)} more (--limit)")


@cli.command("costs")
def costs(
    month: Annotated[
        str | None, typer.Option(help="YYYY-MM; default: this month (Europe/Berlin).")
    ] = None,
    group_by: Annotated[
        str, typer.Option(help="Rows per tenant, pool, country, number or tag:<key>.")
    ] = GroupBy.TENANT.value,
    basis: Annotated[Basis, typer.Option(help="cash or accrual.")] = Basis.CASH,
    csv_file: Annotated[
        Path | None, typer.Option("--csv", help="Write the report as CSV to this file.")
    ] = None,
) -> None:
    """Print a month's cost report as a table, or export it as CSV (the API's columns)."""
    try:
        chosen = Month.parse(month) if month else Month.of(costs_service.berlin_today())
    except ValueError:
        typer.echo("seven-numbers: --month must be YYYY-MM, such as 2026-03", err=True)
        raise typer.Exit(2) from None
    try:
        grouping, tag = parse_group_by(group_by)
    except ValueError:
        typer.echo(
            "seven-numbers: --group-by must be tenant, pool, country, number or tag:<key>",
            err=True,
        )
        raise typer.Exit(2) from None
    answer = _run(
        "costs",
        lambda s, _: costs_service.cost_answer(
            s, chosen, basis, grouping, tag=tag, as_csv=csv_file is not None
        ),
    )
    if csv_file is not None:
        csv_file.write_bytes(answer.csv)  # UTF-8, as the API answers it
        typer.echo(f"report written to {csv_file}", err=True)
        return
    report = decoded(answer)  # the table shows each figure
    table = Table(*CSV_COLUMNS, title=f"{chosen} {basis.value} by {group_by}, EUR")
    for row in [*report.rows, report.totals]:
        table.add_row(*(_cell(cell) for cell in row_cells(row)))
    Console().print(table)


def _cell(value: object) -> str:
    """A table cell: nothing for a missing value (the name of ``unassigned``), not "None"."""
    return "" if value is None else str(value)


_NO_DRIFT = PageQuery(limit=1)


_OPERATION_STATE = select(
    Operation.status, Operation.result, Operation.error_code, Operation.error_message
)


async def _wait_finished(
    session: AsyncSession, operation_id: uuid.UUID, within: float
) -> Row[tuple[str, dict[str, Any] | None, str | None, str | None]]:
    """Poll the operation (a worker finishes it) until it ends or ``within`` seconds pass."""
    deadline = time.monotonic() + within
    while True:
        found = await session.execute(_OPERATION_STATE.where(Operation.id == operation_id))
        operation = found.one()
        await session.rollback()  # end the transaction: the next look sees new commits
        if operation.status in FINISHED or time.monotonic() > deadline:
            return operation
        await asyncio.sleep(0.2)


def _start(
    command: str, create: Callable[[AsyncSession, Actor], Awaitable[Operation]]
) -> uuid.UUID:
    """Create an operation (``create``), commit it and hand it to a worker; its id."""
    queue = create_queue(_setting("REDIS_URL"))

    async def start(session: AsyncSession, actor: Actor) -> uuid.UUID:
        operation = await create(session, actor)
        await session.commit()  # a worker must find it committed
        try:
            await enqueue_operation(queue, operation.id, operation.kind)
        except (RedisError, OSError):
            # Committed all the same: the reconciler enqueues it when Redis is back.
            typer.echo("Redis is unreachable: the reconciler will start it", err=True)
        finally:
            await queue.aclose()
        return operation.id

    return _run(command, start)


def _print_run(run: SyncRunOut) -> None:
    counts = run.counts
    typer.echo(
        f"run {run.id} {run.status} at {run.started_at.isoformat()}: "
        f"fetched {counts.fetched}, added {counts.added}, changed {counts.changed}, "
        f"removed {counts.removed}, unchanged {counts.unchanged}, skipped {counts.skipped}, "
        f"drift {run.drift_total}" + (" (baseline)" if run.baseline else "")
    )
    if run.error:
        typer.echo(f"error: {run.error}")


def _json(value: dict[str, Any] | None) -> str:
    return "" if value is None else json.dumps(value, sort_keys=True, default=str)


# --------------------------------------------------------------------------- bulk work

orders_cli = typer.Typer(help="Order numbers from seven.", no_args_is_help=True)
cli.add_typer(orders_cli, name="orders")
numbers_cli = typer.Typer(help="Change numbers on the account.", no_args_is_help=True)
cli.add_typer(numbers_cli, name="numbers")

_WaitOption = Annotated[bool, typer.Option(help="Wait for the operation to finish.")]
_TimeoutOption = Annotated[float, typer.Option(help="Seconds to wait at most.", min=1)]


@orders_cli.command("bulk")
def bulk_order(
    country: Annotated[str, typer.Option(help="ISO 3166-1 alpha-2 country code, e.g. DE.")],
    count: Annotated[int, typer.Option(help=f"How many numbers (1 to {MAX_BULK_COUNT}).")],
    payment_interval: Annotated[
        str, typer.Option(help="monthly, or annually (bills a whole year up front).")
    ],
    feature: Annotated[
        list[str] | None, typer.Option(help="A feature each number must have (repeatable).")
    ] = None,
    pool: Annotated[uuid.UUID | None, typer.Option(help="The pool they go into.")] = None,
    tenant: Annotated[uuid.UUID | None, typer.Option(help="The tenant they are for.")] = None,
    wait: _WaitOption = True,
    timeout: _TimeoutOption = 600,
) -> None:
    """Order COUNT distinct numbers (a bulk_order operation the worker carries out, as
    POST /v1/orders/bulk); wait and print its progress."""
    body = {
        "country": country,
        "count": count,
        "payment_interval": payment_interval,
        "features": feature or [],
        "pool": pool,
        "tenant": tenant,
    }
    try:
        request = msgspec.convert(body, BulkOrderCreate, strict=False)
    except msgspec.ValidationError as error:
        typer.echo(f"refused (validation_error): {error}", err=True)
        raise typer.Exit(1) from None

    async def create(session: AsyncSession, actor: Actor) -> Operation:
        return (await bulk.submit_bulk_order(session, actor, request, None)).operation

    _follow("orders bulk", _start("orders bulk", create), wait, timeout)


@numbers_cli.command("bulk-update")
def bulk_update(
    pool: Annotated[uuid.UUID | None, typer.Option(help="Numbers in this pool.")] = None,
    tenant: Annotated[uuid.UUID | None, typer.Option(help="Numbers held by this tenant.")] = None,
    tag: Annotated[
        list[str] | None,
        typer.Option(help="Numbers with this tag, key:value or key (repeatable, all hold)."),
    ] = None,
    friendly_name: Annotated[str | None, typer.Option(help="The name to give them.")] = None,
    sms_forward: Annotated[
        list[str] | None, typer.Option(help="Forward inbound SMS to this number (repeatable).")
    ] = None,
    email_forward: Annotated[
        list[str] | None, typer.Option(help="Forward inbound SMS to this address (repeatable).")
    ] = None,
    wait: _WaitOption = True,
    timeout: _TimeoutOption = 600,
) -> None:
    """Change every active number in POOL, held by TENANT and with each TAG (a bulk_update
    operation the worker carries out, as PATCH /v1/numbers); wait and print its progress."""
    change = NumberChange(
        friendly_name=friendly_name, sms_forward=sms_forward, email_forward=email_forward
    )

    async def create(session: AsyncSession, actor: Actor) -> Operation:
        submitted = await bulk.submit_bulk_update(
            session, actor, change, pool, tenant, None, parse_tag_filters(tag)
        )
        return submitted.operation

    _follow("numbers bulk-update", _start("numbers bulk-update", create), wait, timeout)


def _follow(command: str, operation_id: uuid.UUID, wait: bool, timeout: float) -> None:
    """Print the operation's id; with ``wait``, its end and its children's counts."""
    typer.echo(f"operation {operation_id}", err=True)
    if not wait:
        typer.echo(operation_id)
        return
    operation = _run(command, lambda s, _: _wait_finished(s, operation_id, timeout))
    if operation.status not in FINISHED:
        typer.echo(f"still {operation.status} after {timeout:g} s (no worker running?)", err=True)
        raise typer.Exit(3)
    counts = msgspec.convert((operation.result or {}).get("progress", {}), Progress)
    typer.echo(f"{operation.status}: {counts.succeeded} succeeded, {counts.failed} failed")
    if operation.status == OperationStatus.FAILED:
        typer.echo(f"({operation.error_code}) {operation.error_message}", err=True)
        raise typer.Exit(1)


# --------------------------------------------------------------------------- numbers


@numbers_cli.command("tags")
def number_tags(
    number: Annotated[str, typer.Argument(help="The number, in any written form.")],
    pairs: Annotated[
        list[str] | None, typer.Argument(help="key=value pairs: the number's tags from now on.")
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove every tag.")] = False,
) -> None:
    """Show a number's tags, or replace them (key=value ..., or --clear), as
    PUT /v1/numbers/{number}/tags does (audited, a number.updated event)."""
    try:
        digits = params.parse_number(number)
    except ServiceError as error:
        raise _refuse(error.message) from None
    if not pairs and not clear:
        row = _run("numbers tags", lambda s, _: s.get(Number, digits))
        if row is None:
            raise _refuse(f"number {digits} is not on the account")
        typer.echo(json.dumps(row.tags, sort_keys=True))
        return
    if clear and pairs:
        raise _refuse("give key=value pairs or --clear, not both")
    tags: dict[str, str] = {}
    for pair in pairs or ():
        key, equals, value = pair.partition("=")
        if not equals:
            raise _refuse(f"{pair!r} is not key=value")
        tags[key] = value
    out = _run("numbers tags", lambda s, a: replace_tags(s, a, digits, tags))
    typer.echo(json.dumps(out.tags, sort_keys=True))


# --------------------------------------------------------------------------- reports

reports_cli = typer.Typer(help="Reports that point at something to do.", no_args_is_help=True)
cli.add_typer(reports_cli, name="reports")


@reports_cli.command("idle-numbers")
def idle_numbers(
    days: Annotated[
        int,
        typer.Option(
            min=1, max=reports_service.MAX_DAYS, help="The window, in Europe/Berlin days."
        ),
    ] = reports_service.DEFAULT_DAYS,
) -> None:
    """Active numbers without inbound traffic in the last DAYS days (all of them, as
    GET /v1/reports/idle-numbers pages them): what could be released."""

    async def every_page(session: AsyncSession, actor: Actor) -> list[IdleNumberOut]:
        found: list[IdleNumberOut] = []
        after = None
        while True:
            page = PageQuery(limit=reports_service.PAGES.max_limit, after=after)
            query = reports_service.IdleQuery(days=days, today=berlin_today(), page=page)
            result = await reports_service.idle_numbers(session, actor.principal, query)
            found += result.items
            if result.next_cursor is None:
                return found
            after = (result.items[-1].number,)

    found = _run("reports idle-numbers", every_page)
    table = Table(
        "number",
        "tenant",
        "pool",
        "monthly_cost",
        "last_inbound_day",
        title=f"Idle for {days} days: {len(found)} numbers",
    )
    for item in found:
        table.add_row(
            item.number,
            _cell(item.tenant_name),
            _cell(item.pool_name),
            _cell(item.monthly_cost),
            _cell(item.last_inbound_day),
        )
    Console().print(table)


@numbers_cli.command("lock")
def lock_number(
    number: Annotated[str, typer.Argument(help="The number, in any written form.")],
    reason: Annotated[str | None, typer.Option(help="Why; shown to whoever tries.")] = None,
) -> None:
    """Lock a number against deletion: every DELETE of it is refused until unlocked."""
    row = _run("numbers-lock", lambda s, a: locks.lock(s, a, number, reason))
    typer.echo(f"{row.number} locked against deletion by {row.deletion_locked_by}")


@numbers_cli.command("unlock")
def unlock_number(
    number: Annotated[str, typer.Argument(help="The number, in any written form.")],
) -> None:
    """Lift a number's deletion lock."""
    row = _run("numbers-unlock", lambda s, a: locks.unlock(s, a, number))
    typer.echo(f"{row.number} may be deleted")


# --------------------------------------------------------------------------- pools

pools_cli = typer.Typer(help="Pools: which tenants may use them.", no_args_is_help=True)
cli.add_typer(pools_cli, name="pools")


@pools_cli.command("tenants")
def pool_tenants(
    pool: Annotated[uuid.UUID, typer.Argument(help="The pool's id.")],
    tenant: Annotated[
        list[uuid.UUID] | None,
        typer.Option(help="Open the pool to this tenant (repeat; replaces the list)."),
    ] = None,
    all_tenants: Annotated[
        bool, typer.Option("--all", help="Open the pool to every tenant.")
    ] = False,
    nobody: Annotated[bool, typer.Option("--none", help="Open the pool to no tenant.")] = False,
) -> None:
    """Show which tenants may use a pool, or set them (--tenant ..., --all or --none)."""
    if all_tenants or nobody or tenant:
        if nobody and (all_tenants or tenant):
            raise _refuse("--none with --all or --tenant: give one of them")
        listed = [] if nobody else tenant
        shown = _run(
            "pools-tenants",
            lambda s, a: entitlements.set_tenants(
                s, a, pool, entitlements.entitlement_from(listed, all_tenants or None, None)
            ),
        )
    else:
        shown = _run("pools-tenants", lambda s, _: entitlements.show_tenants(s, pool))
    if shown.all:
        typer.echo(f"pool {shown.pool_id} is open to every tenant")
        return
    typer.echo(f"pool {shown.pool_id} is open to {len(shown.tenants)} tenant(s)")
    for named in shown.tenants:
        typer.echo(f"{named.id}\t{named.name}")


# --------------------------------------------------------------------------- tenants

tenants_cli = typer.Typer(help="Tenants' limits.", no_args_is_help=True)
cli.add_typer(tenants_cli, name="tenants")

_NO_LIMIT = "none"
_LIMIT_HELP = f"'{_NO_LIMIT}' removes it; absent: as it is."


def _limit_value(raw: str | None, parse: Callable[[str], Any]) -> Any:
    """A limit as given on the command line: absent, none (no limit), or a value."""
    if raw is None:
        return msgspec.UNSET
    return None if raw.strip().lower() == _NO_LIMIT else parse(raw.strip())


def _whole(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit()):
        raise _refuse(f"expected a whole number >= 0 or '{_NO_LIMIT}', got {raw!r}")
    return int(raw)


@tenants_cli.command("limits")
def tenant_limits(
    tenant: Annotated[uuid.UUID, typer.Argument(help="The tenant's id.")],
    max_numbers: Annotated[
        str | None, typer.Option(help=f"Numbers held at once. {_LIMIT_HELP}")
    ] = None,
    monthly_budget: Annotated[
        str | None, typer.Option(help=f"EUR per month, e.g. 50.00. {_LIMIT_HELP}")
    ] = None,
    orders_per_day: Annotated[
        str | None, typer.Option(help=f"Orders per Berlin day. {_LIMIT_HELP}")
    ] = None,
    over_budget: Annotated[
        OverBudget | None, typer.Option(help="An order beyond the budget: refuse or approve.")
    ] = None,
) -> None:
    """Show a tenant's limits, or set those given (the same as PATCH /v1/tenants/{id})."""
    change = LimitsChange(
        max_numbers=_limit_value(max_numbers, _whole),
        monthly_budget=_limit_value(monthly_budget, str),
        orders_per_day=_limit_value(orders_per_day, _whole),
        over_budget=msgspec.UNSET if over_budget is None else over_budget,
    )
    if change == LimitsChange():
        row = _run("tenants limits", lambda s, _: service.get_tenant(s, tenant))
    else:
        update = TenantUpdate(limits=change)
        row = _run("tenants limits", lambda s, a: service.update_tenant(s, a, tenant, update))
    typer.echo(json.dumps(msgspec.to_builtins(limits_out(row)), sort_keys=True))


# --------------------------------------------------------------------------- operations

operations_cli = typer.Typer(
    help="Orders awaiting approval (beyond a tenant's monthly budget).", no_args_is_help=True
)
cli.add_typer(operations_cli, name="operations")


@operations_cli.command("approve")
def approve_operation(
    operation_id: Annotated[uuid.UUID, typer.Argument(help="The operation's id.")],
) -> None:
    """Approve an order awaiting approval: it is queued and a worker carries it out."""
    queue = create_queue(_setting("REDIS_URL"))

    async def approved(session: AsyncSession, actor: Actor) -> Operation:
        operation = await approval.approve(session, actor, operation_id)
        await session.commit()  # a worker must find it committed
        try:
            await enqueue_operation(queue, operation.id, operation.kind)
        except (RedisError, OSError):
            typer.echo("Redis is unreachable: the reconciler will start the order", err=True)
        finally:
            await queue.aclose()
        return operation

    operation = _run("operations approve", approved)
    typer.echo(f"approved {operation.id}: {operation.status}")


@operations_cli.command("reject")
def reject_operation(
    operation_id: Annotated[uuid.UUID, typer.Argument(help="The operation's id.")],
    reason: Annotated[str, typer.Option(help="Why, for the tenant (in the operation's error).")],
) -> None:
    """Reject an order awaiting approval: it fails with the reason; seven is never asked."""
    operation = _run("operations reject", lambda s, a: approval.reject(s, a, operation_id, reason))
    typer.echo(f"rejected {operation.id}: {operation.status}")


# --------------------------------------------------------------------------- the sandbox

sandbox_cli = typer.Typer(
    help="Drive the sandbox imitating seven (make run starts one), over its control API.",
    no_args_is_help=True,
)
cli.add_typer(sandbox_cli, name="sandbox")

#: The sandbox serves seven's endpoints under ``/api`` and its control API next to them.
_SANDBOX_API = "/api"
_SANDBOX_CONTROL = "/_sandbox"


def _refuse(message: str) -> typer.Exit:
    typer.echo(f"seven-numbers: {message}", err=True)
    return typer.Exit(2)


def _sandbox_control_url() -> str:
    """The control API of the sandbox SEVEN_BASE_URL points at; refused for seven itself,
    which has no control API (and must not be sent made-up requests)."""
    base: str = _setting("SEVEN_BASE_URL").rstrip("/")
    seven_host = httpx.URL(DEFAULT_SEVEN_BASE_URL).host
    if httpx.URL(base).host == seven_host or not base.endswith(_SANDBOX_API):
        raise _refuse(
            f"SEVEN_BASE_URL is {redact_url(base)}, not a sandbox (make run without "
            "SEVEN_API_KEY starts one; its address ends in /api)"
        )
    return base.removesuffix(_SANDBOX_API) + _SANDBOX_CONTROL


@sandbox_cli.command("send-sms")
def send_sms(
    to: Annotated[str, typer.Option(help="The number the SMS is sent to (digits).")],
    text: Annotated[str, typer.Option(help="The message.")],
    sender: Annotated[
        str | None, typer.Option(help="The number it comes from; default: the sandbox's.")
    ] = None,
) -> None:
    """Have the sandbox send an inbound SMS to the service as seven does (its sms_mo
    webhook, signed); the number's holder gets a message.received event."""
    control = _sandbox_control_url()
    environ, _ = cli_environment()
    service_url = environ.get("SEVEN_NUMBERS_URL", "").strip().rstrip("/")
    if not service_url:
        raise _refuse(
            "SEVEN_NUMBERS_URL (the API's address, where the sandbox sends the webhook) is "
            f"not set: start make run, which writes it to {env_file(environ)}"
        )
    webhook = f"{service_url}/v1{WEBHOOK_PATH}"
    body = {"url": webhook, "to": to, "text": text}
    if sender is not None:
        body["sender"] = sender
    try:
        # The sandbox retries the webhook (for a few seconds) before it answers.
        response = httpx.post(f"{control}/sms", json=body, timeout=30)
    except httpx.TransportError as error:
        raise _unreachable("SEVEN_BASE_URL", control, error) from None
    if response.status_code == 404:
        raise _refuse(f"{redact_url(control)} has no /sms: SEVEN_BASE_URL is not a sandbox")
    if response.is_error:
        typer.echo(f"the sandbox refused ({response.status_code}): {response.text}", err=True)
        raise typer.Exit(1)
    sent = response.json()
    typer.echo(
        f"SMS {sent['id']} sent to {webhook}: HTTP {sent['status']} "
        f"after {sent['attempts']} attempt(s)"
    )
    if sent["status"] is None or not 200 <= sent["status"] < 300:
        raise typer.Exit(1)


if __name__ == "__main__":
    cli()
