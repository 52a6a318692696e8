"""Every /v1 route handler, in one list the app mounts behind the key check."""

from __future__ import annotations

from litestar.types import ControllerRouterHandler

from app.audit.controller import AuditController
from app.bulk.controller import BulkController
from app.costs.controller import CostController
from app.events.controller import EventController
from app.events.endpoint_controller import WebhookEndpointController
from app.numbers.controller import (
    DeletionLockController,
    NumberReadController,
    NumberTagsController,
)
from app.operations.controller import OperationController
from app.pools.controller import AllocationController, PoolController
from app.reports.controller import ReportController
from app.search.controller import available_numbers
from app.sync.controller import SyncController
from app.tenants.controller import KeyController, TenantController
from app.tenants.whoami import whoami
from app.webhooks.controller import seven_webhook, seven_webhook_get

V1_HANDLERS: list[ControllerRouterHandler] = [
    whoami,
    NumberReadController,
    NumberTagsController,
    DeletionLockController,
    OperationController,
    BulkController,
    available_numbers,
    TenantController,
    KeyController,
    PoolController,
    AllocationController,
    AuditController,
    CostController,
    ReportController,
    seven_webhook,
    seven_webhook_get,
    SyncController,
    EventController,
    WebhookEndpointController,
]
