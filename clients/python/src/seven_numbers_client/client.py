"""``Client`` and ``AsyncClient``: the same resources over a blocking or an async httpx."""

from __future__ import annotations

from types import TracebackType
from typing import Self

import httpx

from seven_numbers_client import resources
from seven_numbers_client.core import Core
from seven_numbers_client.retry import RetryPolicy
from seven_numbers_client.transports import AsyncRunner, Runner, SyncRunner

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)


class _Resources:
    """One attribute per resource of ``/v1``."""

    def __init__(self, core: Core, runner: Runner) -> None:
        self._core = core
        self.available_numbers = resources.AvailableNumbers(core, runner)
        self.orders = resources.Orders(core, runner)
        self.numbers = resources.Numbers(core, runner)
        self.operations = resources.Operations(core, runner)
        self.tenants = resources.Tenants(core, runner)
        self.keys = resources.Keys(core, runner)
        self.pools = resources.Pools(core, runner)
        self.allocations = resources.Allocations(core, runner)
        self.audit = resources.Audit(core, runner)
        self.costs = resources.Costs(core, runner)
        self.reports = resources.Reports(core, runner)
        self.sync = resources.Sync(core, runner)
        self.events = resources.Events(core, runner)
        self.webhook_endpoints = resources.WebhookEndpoints(core, runner)

    def __repr__(self) -> str:
        # The key stays out: base_url is all a log line needs.
        return f"{type(self).__name__}(base_url={self._core.base_url!r})"


class Client(_Resources):
    """``with Client(base_url=..., api_key=...) as client: client.numbers.get(...)``."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        retry: RetryPolicy | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        http: httpx.Client | None = None,
    ) -> None:
        self._http = http or httpx.Client(timeout=timeout)
        super().__init__(Core(base_url, api_key, retry or RetryPolicy()), SyncRunner(self._http))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


class AsyncClient(_Resources):
    """``async with AsyncClient(...) as client: await client.numbers.get(...)``."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        retry: RetryPolicy | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._http = http or httpx.AsyncClient(timeout=timeout)
        super().__init__(Core(base_url, api_key, retry or RetryPolicy()), AsyncRunner(self._http))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.aclose()
