"""Console sessions: an opaque HttpOnly, SameSite=Strict cookie (never the key), CSRF on
every form, ended by signing out, by the key's revocation and by time."""

from __future__ import annotations

import re

from app.lib.auth import hash_key
from app.settings import Settings
from tests.console.signing_in import csrf_of, sign_in
from tests.support.api import Client, Headers
from tests.support.cli import run_cli
from tests.support.tenancy import (
    ADMIN_KEY,
    Sessions,
    create_tenant,
    german_numbers,
    seed_numbers,
    tenant_holding_a_number,
)


def _new_browser(client: Client) -> Client:
    """``client`` as a browser that has no cookies yet (one app per test: one client)."""
    client.cookies.clear()
    return client


async def test_the_cookie_holds_an_opaque_id_stored_only_as_its_digest(
    client: Client, db: object
) -> None:
    browser = _new_browser(client)
    form = await browser.get("/console")
    assert "<h1>Sign in</h1>" in form.text
    signed = await browser.post(
        "/console/sign-in",
        data={"csrf": csrf_of(form.text), "key": ADMIN_KEY},
        follow_redirects=False,
    )
    assert (signed.status_code, signed.headers["location"]) == (303, "/console")
    cookie = next(
        c for c in signed.headers.get_list("set-cookie") if c.startswith("console_session=")
    )
    session_id = cookie.split(";")[0].split("=", 1)[1]
    assert ADMIN_KEY not in cookie and len(session_id) >= 40
    assert "frame-ancestors 'none'" in form.headers["content-security-policy"]
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/console", "max-age=28800"} <= flags
    rows = await db.fetch(
        "SELECT id_hash, key_id, expires_at - created_at AS life FROM console_sessions"
    )  # type: ignore[attr-defined]
    assert [(bytes(r["id_hash"]), r["key_id"], r["life"].total_seconds()) for r in rows] == [
        (hash_key(session_id), None, 8 * 3600.0)
    ]


async def test_a_wrong_key_or_a_form_without_its_token_signs_nobody_in(client: Client) -> None:
    browser = _new_browser(client)
    form = await browser.get("/console")
    wrong = await browser.post(
        "/console/sign-in", data={"csrf": csrf_of(form.text), "key": "sn_admin_nope"}
    )
    assert wrong.status_code == 401 and "not valid or has been revoked" in wrong.text
    forged = await browser.post("/console/sign-in", data={"csrf": "forged", "key": ADMIN_KEY})
    assert forged.status_code == 403 and "did not come from the console" in forged.text
    empty = await browser.post("/console/sign-in", data={"csrf": csrf_of(wrong.text)})
    assert empty.status_code == 422 and "Enter an API key." in empty.text
    assert "console_session" not in browser.cookies
    # Any other page sends the browser to the sign-in form.
    costs = await browser.get("/console/costs", follow_redirects=False)
    assert (costs.status_code, costs.headers["location"]) == (303, "/console")


async def test_a_form_without_the_sessions_csrf_token_changes_nothing(
    client: Client, admin_headers: Headers, db: object
) -> None:
    tenant, _ = await create_tenant(client, admin_headers, "acme")
    browser = _new_browser(client)
    await sign_in(browser, ADMIN_KEY)
    refused = await browser.post(f"/console/tenants/{tenant}/keys", data={"csrf": "x"})
    assert refused.status_code == 403
    sign_out = await browser.post("/console/sign-out", data={})
    assert sign_out.status_code == 403
    assert (await browser.get("/console")).text.count("<h1>Overview</h1>") == 1
    assert await db.fetchval("SELECT count(*) FROM api_keys WHERE tenant_id = $1", tenant) == 1  # type: ignore[attr-defined]


async def test_signing_out_ends_the_session(client: Client, db: object) -> None:
    browser = _new_browser(client)
    csrf = await sign_in(browser, ADMIN_KEY)
    cookie = browser.cookies["console_session"]
    out = await browser.post("/console/sign-out", data={"csrf": csrf}, follow_redirects=False)
    assert out.status_code == 303
    assert await db.fetchval("SELECT count(*) FROM console_sessions") == 0  # type: ignore[attr-defined]
    replay = _new_browser(client)
    replay.cookies.set("console_session", cookie, path="/console")
    page = await replay.get("/console/numbers", follow_redirects=False)
    assert page.status_code == 303


async def test_revoking_the_key_ends_its_sessions_and_an_expired_one_ends_too(
    client: Client, admin_headers: Headers, db: object
) -> None:
    _, key = await create_tenant(client, admin_headers, "acme")
    browser = _new_browser(client)
    await sign_in(browser, key)
    assert (await browser.get("/console/numbers")).status_code == 200
    key_id = (await client.get("/v1/whoami", headers={"X-Api-Key": key})).json()["key_id"]
    assert (await client.delete(f"/v1/keys/{key_id}", headers=admin_headers)).is_success
    assert (await browser.get("/console/numbers", follow_redirects=False)).status_code == 303
    browser = _new_browser(client)
    await sign_in(browser, ADMIN_KEY)
    await db.execute("UPDATE console_sessions SET expires_at = now()")  # type: ignore[attr-defined]
    assert (await browser.get("/console/numbers", follow_redirects=False)).status_code == 303


async def test_a_tenant_sees_only_its_numbers_and_no_admin_page(
    client: Client, admin_headers: Headers, sessions: Sessions
) -> None:
    holder = await tenant_holding_a_number(client, admin_headers, sessions)
    _, other_key = await create_tenant(client, admin_headers, "other")
    browser = _new_browser(client)
    await sign_in(browser, holder.key)
    own = await browser.get(f"/console/numbers/{holder.number}")
    assert own.status_code == 200 and f"Number {holder.number}" in own.text
    listed = await browser.get("/console/numbers")
    assert holder.number in listed.text
    for path in ("/console/pools", "/console/tenants", f"/console/numbers/{holder.number}/release"):
        assert (await browser.get(path)).status_code == 404, path
    browser = _new_browser(client)
    await sign_in(browser, other_key)
    hidden = await browser.get(f"/console/numbers/{holder.number}")
    missing = await browser.get("/console/numbers/4915199999999")
    malformed = await browser.get("/console/numbers/not-a-number")
    assert [hidden.status_code, missing.status_code, malformed.status_code] == [404] * 3
    assert holder.number not in hidden.text
    # The same page whether the number is another tenant's or does not exist.
    assert _main(hidden.text) == _main(malformed.text)
    assert holder.number not in (await browser.get("/console/numbers")).text


async def test_bad_input_is_a_page_that_says_so(client: Client) -> None:
    browser = _new_browser(client)
    await sign_in(browser, ADMIN_KEY)
    month = await browser.get("/console/costs?month=2026-13")
    assert month.status_code == 422 and "Please check what you entered" in month.text
    assert "a calendar month written YYYY-MM" in month.text
    country = await browser.get("/console/numbers?country=XX")
    assert country.status_code == 422 and "invalid country" in country.text
    unknown = await browser.get("/console/numbers?contry=DE")
    assert unknown.status_code == 422 and "contry" in unknown.text
    assert "text/html" in unknown.headers["content-type"]


def _main(html: str) -> str:
    found = re.search(r"<main.*</main>", html, re.S)
    assert found
    return found.group(0)


async def test_an_admin_issues_a_key_shown_once_and_revokes_it(
    client: Client, admin_headers: Headers
) -> None:
    tenant, _ = await create_tenant(client, admin_headers, "acme")
    browser = _new_browser(client)
    csrf = await sign_in(browser, ADMIN_KEY)
    issued = await browser.post(
        f"/console/tenants/{tenant}/keys", data={"csrf": csrf, "name": "billing"}
    )
    assert issued.status_code == 200
    found = re.search(r'id="new-key">(sn_tenant_[^<]+)<', issued.text)
    assert found
    new_key = found.group(1)
    whoami = await client.get("/v1/whoami", headers={"X-Api-Key": new_key})
    assert whoami.status_code == 200 and whoami.json()["tenant_id"] == tenant
    assert new_key not in (await browser.get("/console/tenants")).text
    revoked = await browser.post(
        f"/console/keys/{whoami.json()['key_id']}/revoke",
        data={"csrf": csrf},
        follow_redirects=False,
    )
    assert (revoked.status_code, revoked.headers["location"]) == (303, "/console/tenants")
    assert (await client.get("/v1/whoami", headers={"X-Api-Key": new_key})).status_code == 401
    audit = (await client.get("/v1/audit", headers=admin_headers)).json()["items"]
    assert {"key.issue_tenant", "key.revoke"} <= {entry["action"] for entry in audit}


async def test_a_deletion_is_confirmed_then_queued_as_the_apis(
    client: Client, admin_headers: Headers, sessions: Sessions
) -> None:
    (number,) = await seed_numbers(sessions, german_numbers(1))
    browser = _new_browser(client)
    csrf = await sign_in(browser, ADMIN_KEY)
    confirm = await browser.get(f"/console/numbers/{number}/delete")
    assert confirm.status_code == 200 and f"Yes, delete {number}" in confirm.text
    monthly = (await client.get(f"/v1/numbers/{number}", headers=admin_headers)).json()
    assert f"{monthly['monthly_cost']} EUR" in confirm.text
    done = await browser.post(
        f"/console/numbers/{number}/delete", data={"csrf": csrf}, follow_redirects=False
    )
    assert (done.status_code, done.headers["location"]) == (303, f"/console/numbers/{number}")
    operations = await client.get(f"/v1/operations?number={number}", headers=admin_headers)
    [operation] = operations.json()["items"]
    assert (operation["kind"], operation["status"]) == ("delete", "queued")
    # A second deletion while the first is pending is the API's 409, said on a page.
    again = await browser.post(f"/console/numbers/{number}/delete", data={"csrf": csrf})
    assert again.status_code == 409 and "Not possible right now" in again.text


async def test_the_cli_signs_everybody_out(
    client: Client, admin_headers: Headers, settings: Settings
) -> None:
    browser = _new_browser(client)
    await sign_in(browser, ADMIN_KEY)
    ended = await run_cli(settings, "end-console-sessions")
    assert (ended.exit_code, ended.stdout.strip()) == (0, "ended 1 console session")
    assert (await browser.get("/console/numbers", follow_redirects=False)).status_code == 303
    audit = await client.get("/v1/audit?actor=cli", headers=admin_headers)
    [entry] = [e for e in audit.json()["items"] if e["action"] == "console.end_sessions"]
    assert entry["details"] == {"sessions": 1}


async def test_the_pages_show_a_tenants_limits_and_a_numbers_tags_and_deletion_lock(
    client: Client, admin_headers: Headers, sessions: Sessions
) -> None:
    tenant, _ = await create_tenant(client, admin_headers, "acme")
    limits = {"max_numbers": 5, "monthly_budget": "50.00", "over_budget": "approve"}
    limited = await client.patch(
        f"/v1/tenants/{tenant}", json={"limits": limits}, headers=admin_headers
    )
    assert limited.status_code == 200, limited.text
    (number,) = await seed_numbers(sessions, german_numbers(1))
    await client.put(f"/v1/numbers/{number}/tags", json={"team": "crm"}, headers=admin_headers)
    locked = await client.put(
        f"/v1/numbers/{number}/deletion-lock", json={"reason": "main line"}, headers=admin_headers
    )
    assert locked.status_code == 200, locked.text
    browser = _new_browser(client)
    await sign_in(browser, ADMIN_KEY)

    tenants = _main((await browser.get("/console/tenants")).text)
    assert "Numbers at once</dt><dd>5</dd>" in tenants
    assert "50.00 EUR (beyond it: approval)" in tenants
    assert "Orders a day</dt><dd>no limit</dd>" in tenants
    page = _main((await browser.get(f"/console/numbers/{number}")).text)
    assert "<code>team: crm</code>" in page
    assert "Deletion lock</dt><dd>locked by" in page and ": main line</dd>" in page
    # Costs by a tag in use, as the API gives them; a tag grouping without its key is 422.
    costs = (await browser.get("/console/costs?group_by=tag:team")).text
    assert '<option value="tag:team" selected>tag:team</option>' in costs
    api = (await client.get("/v1/costs?group_by=tag:team", headers=admin_headers)).json()
    assert api["rows"] and all(f">{row['key']}<" in costs for row in api["rows"])
    csv = await browser.get("/console/costs.csv?group_by=tag:team")
    api_csv = await client.get(
        "/v1/costs?group_by=tag:team", headers={**admin_headers, "Accept": "text/csv"}
    )
    assert csv.text == api_csv.text
    assert (await browser.get("/console/costs?group_by=tag")).status_code == 422


async def test_an_admin_locks_a_number_against_deletion_and_lifts_the_lock(
    client: Client, admin_headers: Headers, sessions: Sessions
) -> None:
    (number,) = await seed_numbers(sessions, german_numbers(1))
    browser = _new_browser(client)
    csrf = await sign_in(browser, ADMIN_KEY)
    assert "Lock against deletion" in (await browser.get(f"/console/numbers/{number}")).text
    too_long = await browser.post(
        f"/console/numbers/{number}/lock", data={"csrf": csrf, "reason": "x" * 501}
    )
    assert too_long.status_code == 422
    locked = await browser.post(
        f"/console/numbers/{number}/lock",
        data={"csrf": csrf, "reason": "main line"},
        follow_redirects=False,
    )
    assert (locked.status_code, locked.headers["location"]) == (303, f"/console/numbers/{number}")
    refused = await client.delete(f"/v1/numbers/{number}", headers=admin_headers)
    assert (refused.status_code, refused.json()["code"]) == (409, "deletion_locked")
    page = (await browser.get(f"/console/numbers/{number}")).text
    assert "Lift the deletion lock" in page and "Delete…" not in page
    lifted = await browser.post(
        f"/console/numbers/{number}/unlock", data={"csrf": csrf}, follow_redirects=False
    )
    assert lifted.status_code == 303
    shown = (await client.get(f"/v1/numbers/{number}", headers=admin_headers)).json()
    assert shown["deletion_lock"] is None
    audit = (await client.get("/v1/audit", headers=admin_headers)).json()["items"]
    assert {"number.lock", "number.unlock"} <= {entry["action"] for entry in audit}
