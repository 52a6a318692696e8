"""The 202 every route that starts an operation answers with (kept out of the schemas,
which the worker imports, so it imports no web framework)."""

from __future__ import annotations

from typing import Any

from arq import ArqRedis
from litestar import Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Operation
from app.lib.queue import commit_and_enqueue
from app.operations.schemas import operation_location, operation_out


async def accepted(
    session: AsyncSession, queue: ArqRedis, operation: Operation, *, replayed: bool = False
) -> Response[Any]:
    """The 202 for an operation (an ``OperationOut``, typed as the handler declares its
    answer), with its ``Location``; a new one (not the replay of an idempotent request)
    is committed and handed to a worker first."""
    headers = {"Location": operation_location(operation.id)}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    else:
        await commit_and_enqueue(session, queue, operation)
    return Response(operation_out(operation), status_code=202, headers=headers)
