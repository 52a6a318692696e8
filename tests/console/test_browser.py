"""The console in a real browser (Debian's Chromium through Playwright) against the real
API, worker and sandbox: an admin and a tenant sign in and walk every page; the chart's
bars and the CSV are the API's figures; a release goes through its confirmation; a tenant
cannot open another tenant's number; every page fits 1280 and 390 pixels."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from playwright.async_api import Page

from app.settings import Settings
from tests.console.browser import (
    SCREENSHOTS_VARIABLE,
    body_fits,
    chromium,
    needs_chromium,
    running_service,
    sign_in,
)
from tests.support.polling import until
from tests.support.sandbox import SandboxProcess
from tests.support.tenancy import ADMIN_KEY, key_headers

pytestmark = needs_chromium

ADMIN_PAGES = {
    "overview": "",
    "costs": "/costs",
    "numbers": "/numbers",
    "operations": "/operations",
    "pools": "/pools",
    "tenants": "/tenants",
}


def _screenshots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get(SCREENSHOTS_VARIABLE) or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def test_an_admin_walks_every_page_and_the_figures_are_the_apis(
    settings: Settings, fresh_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    shots = _screenshots(tmp_path)
    async with running_service(settings, fresh_sandbox) as (account, api), chromium() as browser:
        context = await browser.new_context(viewport={"width": 1280, "height": 900})
        page = await context.new_page()
        await sign_in(page, account.url, ADMIN_KEY)
        for name, path in ADMIN_PAGES.items():
            answer = await page.goto(f"{account.url}/console{path}")
            assert answer is not None and answer.status == 200, name
            assert await page.locator("h1").count() == 1, name
            assert await body_fits(page), f"{name} scrolls sideways at 1280 px"
            await page.screenshot(path=shots / f"{name}.png", full_page=True)

        # The chart's bars and the table are GET /v1/costs, row for row.
        await page.goto(f"{account.url}/console/costs?group_by=tenant&basis=cash")
        report = (await api.get("/v1/costs?group_by=tenant&basis=cash")).json()
        expected = {(row["name"] or row["key"]): row["total"] for row in report["rows"]}
        bars = page.locator("svg.chart").first.locator("g.bar")
        shown = {
            await bar.get_attribute("data-label"): await bar.get_attribute("data-value")
            for bar in await bars.all()
        }
        assert shown == expected and {"acme", "globex"} <= set(shown)
        assert any(total != "0.00" for total in shown.values())
        widths = {
            await bar.get_attribute("data-label"): float(
                await bar.locator("rect").get_attribute("width") or 0
            )
            for bar in await bars.all()
        }
        biggest = max(expected, key=lambda label: float(expected[label]))
        assert widths[biggest] == max(widths.values()) > 0
        footer = await page.locator("table.report tfoot td").all_inner_texts()
        totals = report["totals"]
        assert footer == [
            str(totals["numbers"]),
            totals["recurring"],
            totals["setup"],
            totals["usage"],
            totals["total"],
        ]

        # The CSV download is the API's CSV of the same report.
        async with page.expect_download() as download_info:
            await page.get_by_role("link", name="Download this table as CSV").click()
        download = await download_info.value
        downloaded = (await download.path()).read_text()
        api_csv = await api.get(
            "/v1/costs?group_by=tenant&basis=cash", headers={"Accept": "text/csv"}
        )
        assert downloaded == api_csv.text
        assert list(csv.reader(io.StringIO(downloaded)))[-1][0] == "total"

        # A release, through its confirmation step that names the number and its cost.
        number = account.acme_number
        monthly = (await api.get(f"/v1/numbers/{number}")).json()["monthly_cost"]
        await page.goto(f"{account.url}/console/numbers/{number}")
        await page.screenshot(path=shots / "number.png", full_page=True)
        await page.get_by_role("link", name="Release from its holder…").click()
        confirmation = await page.locator("p.confirm").inner_text()
        assert number in confirmation and f"{monthly} EUR" in confirmation
        await page.screenshot(path=shots / "confirm-release.png", full_page=True)
        await page.get_by_role("button", name=f"Yes, release {number}").click()
        await page.wait_for_url(f"**/console/numbers/{number}")
        assert (await api.get(f"/v1/numbers/{number}")).json()["tenant"] is None
        audit = (await api.get("/v1/audit")).json()["items"]
        assert any(
            e["action"] == "allocation.release" and e["target"] == f"number:{number}" for e in audit
        )

        async def clearing_finished() -> bool | None:
            operations = (await api.get(f"/v1/operations?number={number}&kind=update")).json()
            return operations["items"] and operations["items"][0]["status"] == "succeeded"

        await until(clearing_finished, "the release's clearing to succeed", 20)
        await context.close()


async def test_a_tenant_sees_its_own_and_not_another_tenants_number(
    settings: Settings, fresh_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    shots = _screenshots(tmp_path)
    async with running_service(settings, fresh_sandbox) as (account, api), chromium() as browser:
        for width in (1280, 390):
            context = await browser.new_context(viewport={"width": width, "height": 800})
            page = await context.new_page()
            await sign_in(page, account.url, account.acme_key)
            own = (await api.get("/v1/numbers", headers=key_headers(account.acme_key))).json()
            for path in (
                "",
                "/costs",
                "/numbers",
                "/operations",
                f"/numbers/{account.acme_number}",
            ):
                answer = await page.goto(f"{account.url}/console{path}")
                assert answer is not None and answer.status == 200, path
                assert await body_fits(page), f"{path or '/'} scrolls sideways at {width} px"
            await page.goto(f"{account.url}/console/numbers")
            shown = await page.locator("table tbody th a").all_inner_texts()
            assert shown == [n["number"] for n in own["items"]] == [account.acme_number]
            # Another tenant's number, and the admin pages, are pages that do not exist.
            for path in (f"/numbers/{account.globex_number}", "/pools", "/tenants"):
                answer = await page.goto(f"{account.url}/console{path}")
                assert answer is not None and answer.status == 404, path
                assert account.globex_number not in await page.content()
            # By keyboard: the first Tab reaches the skip link, the next the navigation,
            # each with a visible focus ring.
            await page.goto(f"{account.url}/console")
            await page.keyboard.press("Tab")
            assert await _focused(page) == ("Skip to content", True)
            await page.keyboard.press("Tab")
            assert await _focused(page) == ("Overview", True)
            if width == 390:
                await page.goto(f"{account.url}/console/costs")
                await page.screenshot(path=shots / "costs-390.png", full_page=True)
            else:
                await page.goto(f"{account.url}/console/numbers/{account.globex_number}")
                await page.screenshot(path=shots / "not-found.png", full_page=True)
            await context.close()


async def _focused(page: Page) -> tuple[str, bool]:
    """The focused element's text, and whether it draws a focus outline."""
    text, outline = await page.evaluate(
        "[document.activeElement.textContent.trim(),"
        " getComputedStyle(document.activeElement).outlineStyle]"
    )
    return text, outline not in ("none", "")
