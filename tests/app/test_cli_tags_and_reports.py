"""The CLI's ``numbers tags``, ``reports idle-numbers`` and ``costs --group-by tag:<key>``:
the API's verbs at the console, audited as actor ``cli``."""

from __future__ import annotations

import json
from datetime import timedelta

from app.numbers.mirror import berlin_today, format_seven_time, parse_seven_time
from app.settings import Settings
from tests.support import tenancy
from tests.support.api import Client
from tests.support.cli import cli_output, run_cli
from tests.support.polling import until
from tests.support.tenancy import Sessions


async def test_numbers_tags_shows_and_replaces_a_numbers_tags(
    client: Client, admin_headers: dict[str, str], sessions: Sessions, settings: Settings
) -> None:
    (number,) = await tenancy.seed_numbers(sessions, tenancy.german_numbers(1))
    written = f"+{number[:2]} {number[2:]}"
    assert await cli_output(settings, "numbers", "tags", written) == "{}"

    out = await cli_output(settings, "numbers", "tags", written, "cost_center=crm", "env=a=b")
    assert json.loads(out) == {"cost_center": "crm", "env": "a=b"}

    # Written by another process: the API's cached copy goes once PostgreSQL's notice of
    # the change reaches it.
    async def shown() -> bool:
        read = await client.get(f"/v1/numbers/{number}", headers=admin_headers)
        return bool(read.json()["tags"] == {"cost_center": "crm", "env": "a=b"})

    await until(shown, "the API to show the tags the CLI wrote")
    audit = await client.get("/v1/audit", params={"action": "number.tags"}, headers=admin_headers)
    assert [entry["actor"] for entry in audit.json()["items"]] == ["cli"]

    refused = await run_cli(settings, "numbers", "tags", number, "Cost=crm")
    assert refused.exit_code == 1 and "invalid_tags" in refused.output, refused.output
    assert (await run_cli(settings, "numbers", "tags", number, "nokey")).exit_code == 2
    assert (await run_cli(settings, "numbers", "tags", "4915170264899", "a=b")).exit_code == 1

    assert await cli_output(settings, "numbers", "tags", number, "--clear") == "{}"


async def test_reports_idle_numbers_lists_what_the_api_lists(
    client: Client, admin_headers: dict[str, str], sessions: Sessions, settings: Settings
) -> None:
    old = format_seven_time(parse_seven_time(f"{berlin_today() - timedelta(days=90)}"))
    idle, young = tenancy.german_numbers(2)
    await tenancy.seed_numbers(sessions, [idle], created=old)
    await tenancy.seed_numbers(
        sessions, [young], created=format_seven_time(parse_seven_time(f"{berlin_today()}"))
    )
    table = await cli_output(settings, "reports", "idle-numbers", "--days", "30")
    assert idle in table and young not in table and "2.50" in table
    api = await client.get("/v1/reports/idle-numbers", params={"days": "30"}, headers=admin_headers)
    assert [item["number"] for item in api.json()["items"]] == [idle]
    assert (await run_cli(settings, "reports", "idle-numbers", "--days", "0")).exit_code == 2


async def test_costs_groups_by_a_tag(sessions: Sessions, settings: Settings) -> None:
    today = format_seven_time(parse_seven_time(f"{berlin_today()}"))
    tagged, untagged = tenancy.german_numbers(2)
    await tenancy.seed_numbers(sessions, [tagged, untagged], created=today)
    await cli_output(settings, "numbers", "tags", tagged, "cost_center=crm")
    table = await cli_output(settings, "costs", "--group-by", "tag:cost_center")
    assert "by tag:cost_center" in table
    rows = {line.split()[1]: line for line in table.splitlines() if line.startswith("│")}
    assert "2.50" in rows["crm"] and "2.50" in rows["untagged"], table
    assert (await run_cli(settings, "costs", "--group-by", "tag:Bad")).exit_code == 2
