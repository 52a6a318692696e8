"""The two ways of running a plan (``core.py``): blocking, and with awaits."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from seven_numbers_client.core import Outcome, Plan


class SyncRunner:
    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def run(self, plan: Plan[Any]) -> Any:
        step = next(plan)
        while True:
            outcome: Outcome = None
            if isinstance(step, float | int):
                time.sleep(step)
            else:
                try:
                    outcome = self.http.send(step)
                except httpx.TransportError as error:
                    outcome = error
            try:
                step = plan.send(outcome)
            except StopIteration as finished:
                return finished.value


class AsyncRunner:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def run(self, plan: Plan[Any]) -> Any:
        step = next(plan)
        while True:
            outcome: Outcome = None
            if isinstance(step, float | int):
                await asyncio.sleep(step)
            else:
                try:
                    outcome = await self.http.send(step)
                except httpx.TransportError as error:
                    outcome = error
            try:
                step = plan.send(outcome)
            except StopIteration as finished:
                return finished.value


Runner = SyncRunner | AsyncRunner
