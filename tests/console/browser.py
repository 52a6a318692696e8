"""Debian's Chromium driven by Playwright (its own browser download is not available here),
and the service the browser tests walk: the real API, worker and sandbox."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright

from app.settings import Settings
from tests.support.api import ApiProcess
from tests.support.operations import available_numbers, fast, order, wait_finished
from tests.support.sandbox import SandboxProcess
from tests.support.tenancy import ADMIN_KEY, create_pool, create_tenant, key_headers
from tests.support.worker import WorkerProcess

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Where the tests save their screenshots: a test's own folder, unless this variable names
#: another (``docs/console`` to refresh the README's pictures).
SCREENSHOTS_VARIABLE = "CONSOLE_SCREENSHOTS_DIR"

needs_chromium = pytest.mark.skipif(
    not os.access(CHROMIUM, os.X_OK),
    reason=f"{CHROMIUM} is missing (apt-get install chromium; .ci/run installs it when it can)",
)


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


@dataclass(frozen=True)
class Account:
    """Two tenants, each holding one number of a pool, and a third number left free."""

    url: str
    acme_key: str
    acme_number: str
    globex_key: str
    globex_number: str
    free_number: str


@asynccontextmanager
async def running_service(
    settings: Settings, sandbox: SandboxProcess
) -> AsyncIterator[tuple[Account, httpx.AsyncClient]]:
    """The API and a worker, with numbers ordered through the API (so costs have figures),
    and an API client that sends the admin key unless told another."""
    with ApiProcess(settings) as api, WorkerProcess(fast(settings)):
        admin = {"X-Api-Key": ADMIN_KEY}
        async with httpx.AsyncClient(base_url=api.url, headers=admin, timeout=30) as client:
            pool = await create_pool(client, admin, name="support-de", country="DE")
            numbers = available_numbers(sandbox, 3)
            for number in numbers:
                operation = await order(client, admin, number, pool=pool)  # type: ignore[arg-type]
                assert (await wait_finished(client, admin, operation["id"]))[
                    "status"
                ] == "succeeded"
            keys = {}
            for name in ("acme", "globex"):
                _, key = await create_tenant(client, admin, name)
                held = await client.post(
                    "/v1/allocations", json={"pool": pool}, headers=key_headers(key)
                )
                assert held.status_code == 201, held.text
                keys[name] = (key, held.json()["number"])
            free = next(n for n in numbers if n not in {k[1] for k in keys.values()})
            yield (
                Account(api.url, *keys["acme"], *keys["globex"], free_number=free),
                client,
            )


async def sign_in(page: Page, url: str, key: str) -> None:
    """Sign in by the field's label; Enter submits the form."""
    await page.goto(f"{url}/console")
    await page.get_by_label("API key").fill(key)
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    assert await page.locator("h1").inner_text() == "Overview", await page.content()


async def body_fits(page: Page) -> bool:
    """The page body does not scroll sideways (wide tables scroll inside their box)."""
    return bool(await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))
