"""Audit rows for operations, whichever service creates them, in their own transaction.

Every change at seven is an ``operations`` row (orders, updates, deletes, syncs). Rather
than trusting each service to remember the audit, a ``before_flush`` listener adds an
audit row next to every new operation created while an API request is being handled
(``current_actor``, set by the key check, and by the CLI for its commands), so the two
are flushed and committed, or rolled back, together. Elsewhere (worker, reconciler)
nothing is added: those create no operations on a caller's behalf.

Services that change other things (tenants, keys, pools, allocations) call
``app.audit.service.record``/``audited`` themselves; they must not record the operations
they create, which this listener already does.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from app.db.models import AuditEntry, Operation
from app.lib.auth import current_actor


@event.listens_for(Session, "before_flush")
def _audit_new_operations(session: Session, _context: Any, _instances: Any) -> None:
    actor = current_actor.get()
    if actor is None:
        return
    for operation in [obj for obj in session.new if isinstance(obj, Operation)]:
        operation.id = operation.id or uuid.uuid4()
        target = f"number:{operation.number}" if operation.number else f"operation:{operation.id}"
        session.add(
            AuditEntry(
                actor=actor.principal.actor,
                api_key_id=actor.principal.key_id,
                scope=actor.principal.scope,
                tenant_id=operation.tenant_id or actor.principal.tenant_id,
                action=f"operation.{operation.kind}",
                target=target,
                request_id=actor.request_id,
                outcome="ok",
                details={"operation": str(operation.id)},
            )
        )
