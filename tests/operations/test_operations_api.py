"""The write endpoints and operation reads, without a worker: what the API promises at once.

Every 409 and 422 a write can answer is here; each test checks a row, a job or a stable
code, so none passes with the feature removed.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from typing import Any

from arq.jobs import Job, JobStatus
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis
from sqlalchemy import select

from app.asgi import create_app
from app.db.models import Operation
from app.lib.queue import create_queue, operation_job_id
from app.operations.idempotency import request_hash
from app.settings import Settings
from tests.support.api import Client, Headers
from tests.support.operations import available_numbers, order
from tests.support.sandbox import SandboxProcess
from tests.support.tenancy import Sessions, create_pool, create_tenant, key_headers, seed_numbers


async def _queued_jobs(settings: Settings) -> int:
    redis = Redis.from_url(settings.redis_url)
    try:
        return int(await redis.zcard("arq:queue"))
    finally:
        await redis.aclose()


async def _job_status(settings: Settings, operation_id: str) -> JobStatus:
    queue = create_queue(settings.redis_url)
    try:
        return await Job(operation_job_id(uuid.UUID(operation_id)), queue).status()
    finally:
        await queue.aclose()


async def test_order_answers_202_writes_ordering_and_enqueues_the_id(
    client: Client, admin_headers: Headers, settings: Settings, fresh_sandbox: SandboxProcess
) -> None:
    number = available_numbers(fresh_sandbox, 1)[0]
    response = await client.post(
        "/v1/orders",
        json={"number": f"+{number}", "payment_interval": "monthly", "friendly_name": "desk"},
        headers=admin_headers,
    )
    assert response.status_code == 202
    operation = response.json()
    assert operation["kind"] == "order"
    assert operation["status"] == "queued"
    assert operation["number"] == number
    assert operation["attempts"] == 0
    assert response.headers["location"] == f"/v1/operations/{operation['id']}"

    mirrored = (await client.get(f"/v1/numbers/{number}", headers=admin_headers)).json()
    assert mirrored["state"] == "ordering"
    assert mirrored["pending_operation"] == operation["id"]
    assert mirrored["billing"]["payment_interval"] == "monthly"
    assert await _job_status(settings, operation["id"]) is JobStatus.queued
    assert (await client.get(response.headers["location"], headers=admin_headers)).json()[
        "id"
    ] == operation["id"]


async def test_same_idempotency_key_and_body_returns_the_first_operation_and_enqueues_nothing(
    client: Client, admin_headers: Headers, settings: Settings, fresh_sandbox: SandboxProcess
) -> None:
    number = available_numbers(fresh_sandbox, 1)[0]
    headers = {**admin_headers, "Idempotency-Key": "order-1"}
    first = await client.post(
        "/v1/orders", json={"number": number, "payment_interval": "monthly"}, headers=headers
    )
    # The same request, the number written another way: the same canonical body.
    again = await client.post(
        "/v1/orders", json={"number": f"00{number}", "payment_interval": "monthly"}, headers=headers
    )
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert await _queued_jobs(settings) == 1

    other = await client.post(
        "/v1/orders", json={"number": number, "payment_interval": "annually"}, headers=headers
    )
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"


async def test_idempotency_keys_are_scoped_to_the_calling_key(
    client: Client, admin_headers: Headers, fresh_sandbox: SandboxProcess
) -> None:
    first, second = available_numbers(fresh_sandbox, 2)
    _, tenant_key = await create_tenant(client, admin_headers, "acme")
    a = await client.post(
        "/v1/orders",
        json={"number": first, "payment_interval": "monthly"},
        headers={**admin_headers, "Idempotency-Key": "k"},
    )
    b = await client.post(
        "/v1/orders",
        json={"number": second, "payment_interval": "monthly"},
        headers={**key_headers(tenant_key), "Idempotency-Key": "k"},
    )
    assert a.status_code == b.status_code == 202
    assert a.json()["id"] != b.json()["id"]


ORDER_PROBLEMS: list[tuple[dict[str, Any], str]] = [
    ({"number": "12", "payment_interval": "monthly"}, "invalid_number"),
    ({"number": "+999 123456", "payment_interval": "monthly"}, "invalid_number"),
    ({"number": "4915170264838", "payment_interval": "weekly"}, "validation_error"),
    ({"number": "4915170264838"}, "payment_interval_required"),
    ({"number": "4915170264838", "payment_interval": None}, "validation_error"),
    (
        {"number": "4915170264838", "payment_interval": "monthly", "friendly_name": "x" * 256},
        "validation_error",
    ),
    (
        {"number": "4915170264838", "payment_interval": "monthly", "colour": "red"},
        "validation_error",
    ),
    ({"number": "4915170264838", "payment_interval": "monthly", "pool": "x"}, "validation_error"),
    (
        {"number": "4915170264838", "payment_interval": "monthly", "pool": str(uuid.uuid4())},
        "unknown_pool",
    ),
    ({}, "validation_error"),
]


async def test_order_input_is_validated(
    client: Client, admin_headers: Headers, settings: Settings
) -> None:
    for body, code in ORDER_PROBLEMS:
        response = await client.post("/v1/orders", json=body, headers=admin_headers)
        assert (response.status_code, response.json()["code"]) == (422, code), body
    assert await _queued_jobs(settings) == 0


async def test_an_order_without_payment_interval_is_refused_naming_both_choices(
    client: Client, admin_headers: Headers, settings: Settings, sessions: Sessions
) -> None:
    """No interval is chosen for the caller: annually would bill a year up front."""
    response = await client.post(
        "/v1/orders", json={"number": "4915170264838"}, headers=admin_headers
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "payment_interval_required"
    assert "monthly" in body["message"] and "annually" in body["message"]
    assert body["details"] == {
        "parameter": "payment_interval",
        "location": "body",
        "expected": "monthly or annually",
    }
    assert await _queued_jobs(settings) == 0
    async with sessions() as session:
        assert await session.scalar(select(Operation.id)) is None
    spec = (await client.get("/schema/openapi.json")).json()
    order_create = spec["components"]["schemas"]["OrderCreate"]
    assert "payment_interval" in order_create["required"]


async def test_an_order_into_a_pool_of_another_country_is_422(
    client: Client, admin_headers: Headers, settings: Settings
) -> None:
    danish = await create_pool(client, admin_headers, name="dk-only", country="DK")
    response = await client.post(
        "/v1/orders",
        json={"number": "4915170264838", "payment_interval": "monthly", "pool": danish},
        headers=admin_headers,
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "pool_constraints_not_met"
    assert "DK" in body["message"]
    assert await _queued_jobs(settings) == 0
    missing = await client.get("/v1/numbers/4915170264838", headers=admin_headers)
    assert missing.status_code == 404


async def test_a_bad_idempotency_key_is_422(client: Client, admin_headers: Headers) -> None:
    response = await client.post(
        "/v1/orders",
        json={"number": "4915170264838", "payment_interval": "monthly"},
        headers={**admin_headers, "Idempotency-Key": "has spaces"},
    )
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_idempotency_key"


async def test_ordering_a_number_on_the_account_is_409(
    client: Client, admin_headers: Headers, sessions: Sessions
) -> None:
    [active] = await seed_numbers(sessions, ["4915170264838"], state="active")
    [deleting] = await seed_numbers(sessions, ["4915170264839"], state="deleting")
    for number, code in ((active, "number_active"), (deleting, "number_deleting")):
        response = await client.post(
            "/v1/orders",
            json={"number": number, "payment_interval": "monthly"},
            headers=admin_headers,
        )
        assert (response.status_code, response.json()["code"]) == (409, code)


async def test_ordering_a_number_twice_is_409_and_a_deleted_one_may_be_ordered_again(
    client: Client, admin_headers: Headers, sessions: Sessions, fresh_sandbox: SandboxProcess
) -> None:
    number = available_numbers(fresh_sandbox, 1)[0]
    await order(client, admin_headers, number)
    second = await client.post(
        "/v1/orders", json={"number": number, "payment_interval": "monthly"}, headers=admin_headers
    )
    assert second.status_code == 409
    assert second.json()["code"] == "number_being_ordered"

    [old] = await seed_numbers(sessions, ["4915170264839"], state="deleted")
    again = await client.post(
        "/v1/orders", json={"number": old, "payment_interval": "monthly"}, headers=admin_headers
    )
    assert again.status_code == 202
    mirrored = (await client.get(f"/v1/numbers/{old}", headers=admin_headers)).json()
    assert mirrored["state"] == "ordering"
    assert mirrored["billing"]["fees"]["basic_charge"] is None  # the old fees are gone


PATCH_PROBLEMS: list[tuple[dict[str, Any], str]] = [
    ({}, "nothing_to_change"),
    ({"sms_forward": ["not a number"]}, "invalid_number"),
    ({"sms_forward": ["4915170264838"] * 11}, "validation_error"),
    ({"email_forward": ["nobody"]}, "invalid_email"),
    ({"email_forward": ["a@b"]}, "invalid_email"),
    ({"email_forward": ["a@example.com"] * 11}, "validation_error"),
    ({"friendly_name": "x" * 256}, "validation_error"),
    ({"friendly_name": 5}, "validation_error"),
    ({"slack_forward": "https://hooks.example.com"}, "validation_error"),
    # forward_sms_mo, as a read shows it: its entries checked as seven's spelling's are.
    ({"forward_sms_mo": {"sms": {"number": ["not a number"]}}}, "invalid_number"),
    ({"forward_sms_mo": {"email": {"address": ["nobody"], "enabled": True}}}, "invalid_email"),
    ({"forward_sms_mo": {"sms": {"number": ["4915170264838"] * 11}}}, "validation_error"),
    ({"forward_sms_mo": {"fax": {"number": []}}}, "validation_error"),
    (
        {"sms_forward": [], "forward_sms_mo": {"sms": {"number": [], "enabled": False}}},
        "conflicting_fields",
    ),
    (
        {"email_forward": [], "forward_sms_mo": {"email": {"address": []}}},
        "conflicting_fields",
    ),
]


async def test_patch_input_is_validated(
    client: Client, admin_headers: Headers, settings: Settings, sessions: Sessions
) -> None:
    [number] = await seed_numbers(sessions, ["4915170264838"])
    for body, code in PATCH_PROBLEMS:
        response = await client.patch(f"/v1/numbers/{number}", json=body, headers=admin_headers)
        assert (response.status_code, response.json()["code"]) == (422, code), body
    assert await _queued_jobs(settings) == 0


async def test_a_patch_names_where_the_caller_wrote_a_bad_entry_or_both_spellings(
    client: Client, admin_headers: Headers, sessions: Sessions
) -> None:
    [number] = await seed_numbers(sessions, ["4915170264838"])
    bad = await client.patch(
        f"/v1/numbers/{number}",
        json={"forward_sms_mo": {"sms": {"number": ["+4915170264839", "x"]}}},
        headers=admin_headers,
    )
    assert bad.json()["details"]["parameter"] == "forward_sms_mo.sms.number[1]"
    both = await client.patch(
        f"/v1/numbers/{number}",
        json={"sms_forward": [], "forward_sms_mo": {"sms": {"number": []}}},
        headers=admin_headers,
    )
    assert both.json()["details"] == {"parameters": ["sms_forward", "forward_sms_mo.sms"]}
    assert "sms_forward" in both.json()["message"]
    assert "forward_sms_mo.sms" in both.json()["message"]


async def test_forwarding_read_from_a_number_can_be_written_back(
    client: Client, admin_headers: Headers, sessions: Sessions
) -> None:
    """``forward_sms_mo`` as the read shows it is the same change as seven's spelling."""
    forwarding = {
        "sms": {"number": ["4915170264839"], "enabled": True},
        "email": {"address": ["ops@example.com"], "enabled": True},
    }
    first, second, third = await seed_numbers(
        sessions, ["4915170264830", "4915170264831", "4915170264832"], forward_sms_mo=forwarding
    )
    read = (await client.get(f"/v1/numbers/{first}", headers=admin_headers)).json()
    written = await client.patch(
        f"/v1/numbers/{first}",
        json={"forward_sms_mo": read["forward_sms_mo"]},
        headers=admin_headers,
    )
    seven_spelling = await client.patch(
        f"/v1/numbers/{second}",
        json={"sms_forward": ["4915170264839"], "email_forward": ["ops@example.com"]},
        headers=admin_headers,
    )
    assert written.status_code == seven_spelling.status_code == 202, written.text
    assert written.json()["params"] == seven_spelling.json()["params"]
    assert written.json()["params"] == {
        "sms_forward": ["4915170264839"],
        "email_forward": ["ops@example.com"],
    }
    # One channel only, switched off: the other is left as it is.
    off = await client.patch(
        f"/v1/numbers/{third}",
        json={"forward_sms_mo": {"sms": {"number": ["4915170264839"], "enabled": False}}},
        headers=admin_headers,
    )
    assert off.json()["params"] == {"sms_forward": []}


async def test_changing_or_deleting_a_number_that_is_not_active_is_409(
    client: Client, admin_headers: Headers, settings: Settings, sessions: Sessions
) -> None:
    expected = {
        "deleted": "number_deleted",
        "deleting": "number_deleting",
        "ordering": "number_not_active",
        "failed": "number_not_active",
    }
    for index, state in enumerate(expected):
        await seed_numbers(sessions, [f"49151702648{30 + index}"], state=state)
    for index, code in enumerate(expected.values()):
        number = f"49151702648{30 + index}"
        patched = await client.patch(
            f"/v1/numbers/{number}", json={"friendly_name": "x"}, headers=admin_headers
        )
        deleted = await client.delete(f"/v1/numbers/{number}", headers=admin_headers)
        assert (patched.status_code, patched.json()["code"]) == (409, code)
        assert (deleted.status_code, deleted.json()["code"]) == (409, code)
    assert await _queued_jobs(settings) == 0


async def test_a_missing_number_cannot_be_changed_or_ordered_but_may_be_deleted(
    client: Client, admin_headers: Headers, settings: Settings, sessions: Sessions
) -> None:
    [number] = await seed_numbers(
        sessions, ["4915170264838"], state="missing", missing_since=datetime.now(UTC)
    )
    patched = await client.patch(
        f"/v1/numbers/{number}", json={"friendly_name": "x"}, headers=admin_headers
    )
    ordered = await client.post(
        "/v1/orders", json={"number": number, "payment_interval": "monthly"}, headers=admin_headers
    )
    for refused in (patched, ordered):
        assert (refused.status_code, refused.json()["code"]) == (409, "number_missing")
    assert await _queued_jobs(settings) == 0

    # Whether seven still has it or not, a delete reaches the goal: the worker finds out.
    deleted = await client.delete(f"/v1/numbers/{number}", headers=admin_headers)
    assert deleted.status_code == 202, deleted.text
    assert deleted.json()["kind"] == "delete"
    assert await _queued_jobs(settings) == 1


async def test_a_second_change_while_one_is_in_flight_is_409_busy(
    client: Client, admin_headers: Headers, sessions: Sessions
) -> None:
    [number] = await seed_numbers(sessions, ["4915170264838"])
    first = await client.patch(
        f"/v1/numbers/+{number}", json={"email_forward": ["Ops@Example.com"]}, headers=admin_headers
    )
    assert first.status_code == 202
    assert first.json()["kind"] == "update"
    assert first.json()["params"] == {"email_forward": ["Ops@example.com"]}
    deleted = await client.delete(
        f"/v1/numbers/{number}?delete_immediately=true", headers=admin_headers
    )
    assert deleted.status_code == 409
    assert deleted.json()["code"] == "number_busy"
    mirrored = (await client.get(f"/v1/numbers/{number}", headers=admin_headers)).json()
    assert mirrored["pending_operation"] == first.json()["id"]


async def test_unknown_numbers_and_other_tenants_numbers_are_404(
    client: Client, admin_headers: Headers, sessions: Sessions
) -> None:
    _, tenant_key = await create_tenant(client, admin_headers, "acme")
    [number] = await seed_numbers(sessions, ["4915170264838"])
    for headers, target in ((admin_headers, "4915170264839"), (key_headers(tenant_key), number)):
        response = await client.delete(f"/v1/numbers/{target}", headers=headers)
        assert response.status_code == 404
        assert response.json()["code"] == "number_not_found"
    bad = await client.delete("/v1/numbers/abc?delete_immediately=maybe", headers=admin_headers)
    assert bad.status_code in (400, 422)


async def test_delete_writes_its_flag_and_tenant_keys_see_only_their_operations(
    client: Client, admin_headers: Headers, sessions: Sessions
) -> None:
    tenant_id, tenant_key = await create_tenant(client, admin_headers, "acme")
    [ours] = await seed_numbers(sessions, ["4915170264838"], tenant_id=uuid.UUID(tenant_id))
    [theirs] = await seed_numbers(sessions, ["4915170264839"])
    mine = await client.delete(
        f"/v1/numbers/{ours}?delete_immediately=true", headers=key_headers(tenant_key)
    )
    assert mine.status_code == 202
    assert mine.json()["params"] == {"delete_immediately": True}
    other = await client.delete(f"/v1/numbers/{theirs}", headers=admin_headers)
    assert other.json()["params"] == {"delete_immediately": False}

    seen = await client.get("/v1/operations", headers=key_headers(tenant_key))
    assert [item["id"] for item in seen.json()["items"]] == [mine.json()["id"]]
    hidden = await client.get(
        f"/v1/operations/{other.json()['id']}", headers=key_headers(tenant_key)
    )
    assert hidden.status_code == 404
    assert hidden.json()["code"] == "operation_not_found"


async def test_operations_list_filters_and_pages_newest_first(
    client: Client, admin_headers: Headers, sessions: Sessions, fresh_sandbox: SandboxProcess
) -> None:
    numbers = available_numbers(fresh_sandbox, 3)
    ids = [(await order(client, admin_headers, n))["id"] for n in numbers]
    [active] = await seed_numbers(sessions, ["4915170264838"])
    update = await client.patch(
        f"/v1/numbers/{active}", json={"friendly_name": "x"}, headers=admin_headers
    )

    page = (await client.get("/v1/operations?kind=order&limit=2", headers=admin_headers)).json()
    assert [item["id"] for item in page["items"]] == ids[::-1][:2]
    rest = await client.get(
        f"/v1/operations?kind=order&limit=2&cursor={page['next_cursor']}", headers=admin_headers
    )
    assert [item["id"] for item in rest.json()["items"]] == [ids[0]]
    assert rest.json()["next_cursor"] is None

    by_number = await client.get(f"/v1/operations?number=%2B{active}", headers=admin_headers)
    assert [item["id"] for item in by_number.json()["items"]] == [update.json()["id"]]
    queued = await client.get("/v1/operations?status=queued", headers=admin_headers)
    assert len(queued.json()["items"]) == 4


LIST_PROBLEMS = [
    ("status=done", "invalid_status"),
    ("kind=buy", "invalid_kind"),
    ("number=abc", "invalid_number"),
    ("limit=0", "invalid_limit"),
    ("limit=1000", "invalid_limit"),
    ("cursor=!!!", "invalid_cursor"),
    ("limit=ten", "invalid_limit"),
    ("cursor=MjAyNi0xMS0yN1QxMDowMDowMHx4", "invalid_cursor"),
]


async def test_operations_list_validates_its_query(client: Client, admin_headers: Headers) -> None:
    for query, code in LIST_PROBLEMS:
        response = await client.get(f"/v1/operations?{query}", headers=admin_headers)
        assert (response.status_code, response.json()["code"]) == (422, code), query


async def test_an_unknown_operation_is_404(client: Client, admin_headers: Headers) -> None:
    response = await client.get(f"/v1/operations/{uuid.uuid4()}", headers=admin_headers)
    assert response.status_code == 404
    assert response.json()["code"] == "operation_not_found"


async def test_idempotency_keys_work_on_patch_and_delete_too(
    client: Client, admin_headers: Headers, settings: Settings, sessions: Sessions
) -> None:
    [number] = await seed_numbers(sessions, ["4915170264838"])
    headers = {**admin_headers, "Idempotency-Key": "rename-1"}
    first = await client.patch(
        f"/v1/numbers/{number}", json={"friendly_name": "a"}, headers=headers
    )
    again = await client.patch(
        f"/v1/numbers/+{number}", json={"friendly_name": "a"}, headers=headers
    )
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert await _queued_jobs(settings) == 1
    reused = await client.delete(f"/v1/numbers/{number}", headers=headers)
    assert (reused.status_code, reused.json()["code"]) == (422, "idempotency_key_reused")


async def test_an_order_is_accepted_while_redis_is_down(
    settings: Settings, admin_headers: Headers, fresh_sandbox: SandboxProcess
) -> None:
    # Postgres is the truth: the operation is committed, and the reconciler enqueues it
    # once Redis is back, so a caller is not refused because the courier is away.
    number = available_numbers(fresh_sandbox, 1)[0]
    broken = dataclasses.replace(settings, redis_url="redis://127.0.0.1:1/0")
    async with AsyncTestClient(app=create_app(broken)) as client:
        response = await client.post(
            "/v1/orders",
            json={"number": number, "payment_interval": "monthly"},
            headers=admin_headers,
        )
        assert response.status_code == 202
        assert response.json()["status"] == "queued"
        mirrored = (await client.get(f"/v1/numbers/{number}", headers=admin_headers)).json()
        assert mirrored["state"] == "ordering"


async def test_an_orders_fingerprint_is_the_one_earlier_releases_stored_for_its_key(
    client: Client, admin_headers: Headers, sessions: Sessions, fresh_sandbox: SandboxProcess
) -> None:
    """An ``Idempotency-Key`` sent before an upgrade replays after it: the fingerprint
    still names the tenant, though the order's params no longer hold it."""
    tenant, _ = await create_tenant(client, admin_headers, "acme")
    number = available_numbers(fresh_sandbox, 1)[0]
    headers = {**admin_headers, "Idempotency-Key": "order-across-releases"}
    operation = await order(client, headers, number, tenant=tenant, friendly_name="Desk")
    async with sessions() as session:
        stored = await session.scalar(
            select(Operation.request_hash).where(Operation.id == uuid.UUID(operation["id"]))
        )
    earlier = {
        "number": number,
        "payment_interval": "annually",
        "friendly_name": "Desk",
        "pool": None,
        "tenant": tenant,
    }
    assert stored == request_hash("POST", "/v1/orders", earlier)
