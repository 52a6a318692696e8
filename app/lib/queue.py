"""Everything that touches arq lives here and in workers/settings.py.

arq is in maintenance mode and pins redis-py below 6; keeping it behind this module
means a later move to another queue changes two files. Job payloads are msgpack
(msgspec), never pickle: a job carries only ids, and a poisoned Redis cannot run code.
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
import structlog
from arq import ArqRedis
from arq.connections import RedisSettings
from redis.asyncio import ConnectionPool
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Operation
from app.db.vocabulary import (
    BULK_OPERATION_KINDS,
    NUMBER_OPERATION_KINDS,
    OperationKind,
    OperationStatus,
)

log = structlog.get_logger(__name__)

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder()


def serialize_job(payload: dict[str, Any]) -> bytes:
    return _encoder.encode(payload)


def deserialize_job(data: bytes) -> dict[str, Any]:
    decoded: dict[str, Any] = _decoder.decode(data)
    return decoded


# The job that carries out each kind of operation (see workers/settings.py).
JOB_FOR_KIND: dict[str, str] = {
    **dict.fromkeys(NUMBER_OPERATION_KINDS, "process_operation"),
    OperationKind.SYNC: "sync_mirror",
    **dict.fromkeys(BULK_OPERATION_KINDS, "process_bulk"),
}


def operation_job_id(operation_id: uuid.UUID) -> str:
    """One job id per operation: arq refuses a second job while the first is known."""
    return f"operation:{operation_id}"


async def enqueue_operation(queue: ArqRedis, operation_id: uuid.UUID, kind: str) -> None:
    """Hand an operation, already committed to Postgres, to a worker. Carries only its id."""
    await queue.enqueue_job(
        JOB_FOR_KIND[kind], str(operation_id), _job_id=operation_job_id(operation_id)
    )


async def commit_and_enqueue(session: AsyncSession, queue: ArqRedis, operation: Operation) -> None:
    """Commit the request that created ``operation``, then hand it to a worker.

    The one commit before a request handler returns: a job must find its operation
    committed. Redis being down does not fail the request: the reconciler enqueues
    every operation Redis lacks. An operation awaiting an admin's approval is only
    committed: approving it enqueues it.
    """
    await session.commit()
    if operation.status == OperationStatus.AWAITING_APPROVAL:
        return
    try:
        await enqueue_operation(queue, operation.id, operation.kind)
    except (RedisError, OSError) as error:
        log.warning("enqueue_failed", operation=str(operation.id), error=type(error).__name__)


def redis_settings(redis_url: str) -> RedisSettings:
    return RedisSettings.from_dsn(redis_url)


def create_queue(redis_url: str) -> ArqRedis:
    """A queue client that connects on first use, so a process starts (and reports
    itself not ready) while Redis is down, instead of failing to start."""
    return ArqRedis(
        ConnectionPool.from_url(redis_url),
        job_serializer=serialize_job,
        job_deserializer=deserialize_job,
    )
