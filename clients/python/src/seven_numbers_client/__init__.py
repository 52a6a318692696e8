"""A typed client for the seven-numbers service's ``/v1`` API."""

from seven_numbers_client import models
from seven_numbers_client.client import AsyncClient, Client
from seven_numbers_client.errors import (
    ApiError,
    BadRequest,
    ClientError,
    Conflict,
    Forbidden,
    IdempotencyKeyReused,
    NameTaken,
    NotFound,
    NumberActive,
    NumberBusy,
    NumberUnavailable,
    OperationTimeout,
    PayloadTooLarge,
    PoolExhausted,
    RateLimited,
    ServerError,
    Unauthorized,
    Unavailable,
    Unreachable,
    UpstreamError,
    UpstreamTimeout,
    ValidationError,
    WebhookVerificationError,
)
from seven_numbers_client.pages import Pages
from seven_numbers_client.retry import RetryPolicy
from seven_numbers_client.webhooks import verify

__all__ = [
    "ApiError",
    "AsyncClient",
    "BadRequest",
    "Client",
    "ClientError",
    "Conflict",
    "Forbidden",
    "IdempotencyKeyReused",
    "NameTaken",
    "NotFound",
    "NumberActive",
    "NumberBusy",
    "NumberUnavailable",
    "OperationTimeout",
    "Pages",
    "PayloadTooLarge",
    "PoolExhausted",
    "RateLimited",
    "RetryPolicy",
    "ServerError",
    "Unauthorized",
    "Unavailable",
    "Unreachable",
    "UpstreamError",
    "UpstreamTimeout",
    "ValidationError",
    "WebhookVerificationError",
    "models",
    "verify",
]
