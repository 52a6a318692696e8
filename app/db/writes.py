"""Whether a session has sent PostgreSQL anything that may have written.

Counted from SQLAlchemy's events, so no statement has to say so: a flush of the unit of
work, or any statement executed through the session that is not an ORM ``SELECT``
(a ``text()`` statement counts, whatever it does: a wait too many is only a wait).
"""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

_WROTE = "seven_numbers.wrote"


@event.listens_for(Session, "after_flush")
def _flushed(session: Session, _flush: UOWTransaction) -> None:
    session.info[_WROTE] = True


@event.listens_for(Session, "do_orm_execute")
def _executed(execute_state: ORMExecuteState) -> None:
    if not execute_state.is_select:
        execute_state.session.info[_WROTE] = True


def wrote(session: AsyncSession) -> bool:
    """Whether ``session`` may have written since it was opened."""
    return bool(session.info.get(_WROTE, False))
