"""The client against the real service: API, worker and the sandbox imitating seven."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from seven_numbers_client import (
    AsyncClient,
    Client,
    Conflict,
    DeletionLocked,
    IdempotencyKeyReused,
    NotFound,
    NumberActive,
    Unauthorized,
    ValidationError,
    models,
)

from tests.support import tenancy
from tests.support.tenancy import ADMIN_KEY, german_numbers, seed_numbers

Status = models.OperationStatus


def test_order_wait_read_update_list_and_delete(service: str) -> None:
    with Client(base_url=service, api_key=ADMIN_KEY) as client:
        offer = client.available_numbers.list(country="DE", features_sms=True)
        number = offer.items[0].number
        assert isinstance(offer.items[0].monthly_equivalent.monthly, Decimal)

        ordered = client.orders.create(
            number=number, payment_interval="monthly", idempotency_key="order-1"
        )
        assert ordered.status in (Status.QUEUED, Status.RUNNING)
        again = client.orders.create(
            number=number, payment_interval="monthly", idempotency_key="order-1"
        )
        assert again.id == ordered.id
        with pytest.raises(IdempotencyKeyReused):
            client.orders.create(
                number=number, payment_interval="annually", idempotency_key="order-1"
            )
        done = client.operations.wait(ordered, timeout=60)
        assert (done.status, done.kind, done.number) == (Status.SUCCEEDED, "order", number)
        with pytest.raises(NumberActive) as active:
            client.orders.create(number=number, payment_interval="monthly")
        assert isinstance(active.value, Conflict) and active.value.status == 409

        read = client.numbers.get(number)
        assert read.state == models.NumberState.ACTIVE
        assert read.billing.payment_interval == models.PaymentInterval.MONTHLY
        assert isinstance(read.monthly_cost, Decimal) and read.created is not None

        changed = client.operations.wait(
            client.numbers.update(number, friendly_name="support line"), timeout=60
        )
        assert changed.status == Status.SUCCEEDED
        assert client.numbers.get(number).friendly_name == "support line"

        listed = [item.number for item in client.numbers.list(state="active")]
        assert number in listed
        assert [op.id for op in client.operations.list(number=number)] == [
            changed.id,
            done.id,
        ]

        deleted = client.operations.wait(client.numbers.delete(number), timeout=60)
        assert deleted.status == Status.SUCCEEDED
        assert client.numbers.get(number).state in (
            models.NumberState.DELETING,
            models.NumberState.DELETED,
        )


def test_errors_arrive_as_exceptions_by_code(service: str) -> None:
    with Client(base_url=service, api_key=ADMIN_KEY) as client:
        with pytest.raises(NotFound) as missing:
            client.numbers.get("4915100000000")
        assert (missing.value.status, missing.value.request) == (
            404,
            "GET /v1/numbers/4915100000000",
        )
        with pytest.raises(ValidationError) as invalid:
            client.orders.create(number="12", payment_interval="monthly")
        assert (invalid.value.code, invalid.value.details["location"]) == (
            "invalid_number",
            "body",
        )
        with pytest.raises(TypeError, match="payment_interval"):
            client.orders.create(number="4915170000001")  # refused before it is sent
        with pytest.raises(ValidationError) as country:
            client.available_numbers.list(country="XX")
        assert country.value.details["parameter"] == "country"
    with (
        Client(base_url=service, api_key="sn_wrong_key") as stranger,
        pytest.raises(Unauthorized) as refused,
    ):
        stranger.numbers.get("4915100000000")
    assert "sn_wrong_key" not in str(refused.value) + repr(refused.value)


async def test_lists_iterate_over_every_page(service: str, sessions: tenancy.Sessions) -> None:
    numbers = await seed_numbers(sessions, german_numbers(5))
    with Client(base_url=service, api_key=ADMIN_KEY) as client:
        pages = client.numbers.list(limit=2)
        first = pages.page()
        assert len(first.items) == 2 and first.next_cursor
        assert sorted(item.number for item in pages) == sorted(numbers)
    async with AsyncClient(base_url=service, api_key=ADMIN_KEY) as client:
        found = [item.number async for item in client.numbers.list(limit=2)]
        assert sorted(found) == sorted(numbers)
        second = await client.numbers.list(limit=2).page(first.next_cursor)
        assert [item.number for item in second.items] == found[2:4]


async def test_tenants_pools_allocations_and_costs(
    service: str, sessions: tenancy.Sessions
) -> None:
    numbers = await seed_numbers(sessions, german_numbers(2))
    async with AsyncClient(base_url=service, api_key=ADMIN_KEY) as admin:
        tenant = await admin.tenants.create(name="billing-team")
        assert [t.id for t in await admin.tenants.list()] == [tenant.id]
        assert (await admin.tenants.get(tenant.id)).name == "billing-team"
        key = await admin.tenants.issue_key(tenant.id, name="billing-service")
        assert key.key and key.tenant == tenant.id

        pool = await admin.pools.create(name="support-de", country="DE")
        for number in numbers:
            await admin.pools.add_number(pool.id, number)
        assert (await admin.pools.get(pool.id)).free == 2
        assert (await admin.pools.update(pool.id, cooldown_days=0)).cooldown_days == 0

        granted = await admin.allocations.create(pool=pool.id, tenant=tenant.id)
        assert isinstance(granted, models.NumberOut) and granted.number in numbers
        [allocation] = await admin.allocations.list(tenant=tenant.id)
        assert (allocation.number, allocation.tenant_name) == (granted.number, "billing-team")

        async with AsyncClient(base_url=service, api_key=key.key) as tenant_client:
            who = await tenant_client.keys.whoami()
            assert (who.scope, who.tenant_id) == (models.KeyScope.TENANT, tenant.id)
            seen = [item.number async for item in tenant_client.numbers.list()]
            assert seen == [granted.number]
            other = next(number for number in numbers if number != granted.number)
            with pytest.raises(NotFound):
                await tenant_client.numbers.get(other)

        report = await admin.costs.report(group_by="tenant", basis="accrual")
        assert report.basis == models.Basis.ACCRUAL and report.currency == "EUR"
        row = next(row for row in report.rows if row.key == str(tenant.id))
        assert row.name == "billing-team" and row.numbers == 1
        assert isinstance(row.total, Decimal)
        csv = await admin.costs.report_csv(group_by="tenant", basis="accrual")
        assert csv.splitlines()[0].startswith("key,")
        assert str(tenant.id) in csv
        forecast = await admin.costs.forecast(months=3)
        assert len(forecast.months) == 3

        released = await admin.allocations.release(granted.number)
        assert released.released_at is not None and released.clearing_operation
        cleared = await admin.operations.wait(released.clearing_operation, timeout=60)
        assert cleared.kind == models.OperationKind.UPDATE

        revoked = await admin.keys.revoke(key.id)
        assert revoked.revoked_at is not None


async def test_sync_events_audit_keys_and_pools_read_as_their_models(
    service: str, sessions: tenancy.Sessions
) -> None:
    [number] = await seed_numbers(sessions, german_numbers(1, start=7))
    with Client(base_url=service, api_key=ADMIN_KEY) as client:
        admin_key = client.keys.issue(name="ops")
        assert admin_key.scope == models.KeyScope.ADMIN
        assert admin_key.id in {key.id for key in client.keys.list(revoked=False)}

        pool = client.pools.create(name="spare")
        client.pools.add_number(pool.id, number)
        assert [p.numbers for p in client.pools.list()] == [1]
        assert client.pools.remove_number(pool.id, number).pool is None

        synced = client.operations.wait(client.sync.start(force=True), timeout=60)
        assert (synced.kind, synced.status) == (models.OperationKind.SYNC, Status.SUCCEEDED)
        [run] = list(client.sync.runs())
        # The seeded number is not at the sandbox: the sync finds it gone.
        assert run.counts.removed == 1 and run.drift[0].number == number
        assert client.sync.run(run.id, drift_limit=1).id == run.id

        events = list(client.events.list(limit=1))  # the sync's, page by page
        assert events and all(isinstance(event, models.EventOut) for event in events)
        assert client.events.get(events[0].id) == events[0]
        hour_ago = datetime.now(UTC) - timedelta(hours=1)
        assert [event.id for event in client.events.list(since=hour_ago)][-1:] == [
            list(client.events.list())[-1].id
        ]

        actions = [entry.action for entry in client.audit.list(limit=2)]
        assert {"pool.create", "key.issue_admin"} <= set(actions)
        assert [entry.target for entry in client.audit.list(action="key.issue_admin")] == [
            f"key:{admin_key.id}"
        ]


async def test_tags_deletion_locks_limits_pool_tenants_and_idle_numbers(
    service: str, sessions: tenancy.Sessions
) -> None:
    # On the account for long, without an SMS or a call counted: idle by any window.
    first, second = await seed_numbers(
        sessions, german_numbers(2, start=11), created="2025-01-01 10:00:00"
    )
    with Client(base_url=service, api_key=ADMIN_KEY) as client:
        assert client.numbers.set_tags(first, {"cost_center": "crm"}).tags == {"cost_center": "crm"}
        assert [item.number for item in client.numbers.list(tag=["cost_center:crm"])] == [first]

        locked = client.numbers.lock_deletion(first, reason="main support line")
        assert locked.deletion_lock is not None
        assert locked.deletion_lock.reason == "main support line"
        with pytest.raises(DeletionLocked):
            client.numbers.delete(first)
        assert client.numbers.unlock_deletion(first).deletion_lock is None

        tenant = client.tenants.create(name="crm")
        changed = client.tenants.update(
            tenant.id,
            tags={"owner": "crm"},
            limits=models.LimitsChange(max_numbers=1, monthly_budget="50.00"),
        )
        assert changed.tags == {"owner": "crm"}
        assert (changed.limits.max_numbers, changed.limits.monthly_budget) == (1, Decimal("50"))
        assert changed.limits.over_budget == models.OverBudget.REFUSE

        pool = client.pools.create(name="crm-pool", tenants=[tenant.id])
        assert [ref.name for ref in client.pools.tenants(pool.id).tenants] == ["crm"]
        opened = client.pools.set_tenants(pool.id, all=True)
        assert (opened.pool, opened.all) == (pool.id, True)

        idle = [item.number for item in client.reports.idle_numbers(days=7)]
        assert sorted(idle) == sorted([first, second])
