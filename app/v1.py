"""Every /v1 route handler, in one list the app mounts behind the key check."""

from __future__ import annotations

from litestar.types import ControllerRouterHandler

from app.numbers.controller import NumberReadController
from app.operations.controller import OperationController
from app.search.controller import available_numbers
from app.tenants.whoami import whoami

V1_HANDLERS: list[ControllerRouterHandler] = [
    whoami,
    NumberReadController,
    OperationController,
    available_numbers,
]
