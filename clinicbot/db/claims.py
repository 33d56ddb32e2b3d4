"""Taking a row exactly once when several processes work the same table, on both databases.

Inbound turns, outbox deliveries, due notifications and waiting-list offers are each handled by
one worker, whichever process (rasa instance, clinic-service scheduler) it runs in:

- A **guarded UPDATE** claims a row: its ``WHERE`` restates the state the row must still be in
  (``… WHERE id = :id AND status = 'pending'``), so of two workers racing for a row exactly one
  changes it (:func:`claim_with`).
- On **PostgreSQL** the rows a worker is about to claim are read ``FOR UPDATE SKIP LOCKED``
  (:func:`lock_candidates`), so concurrent workers pick different rows instead of queueing
  behind each other's locks.
- **SQLite** has a single writer: a transaction that reads and then writes takes the write lock
  before it reads (:func:`write_transaction`, what ``BEGIN IMMEDIATE`` does), so a concurrent
  writer waits for it instead of failing to upgrade a stale read, then finds the row taken.

:func:`claim_one` puts these together for a single row that the transaction then works on.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import false, inspect, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select
from sqlalchemy.sql.dml import Update
from sqlalchemy.sql.elements import ColumnElement

from clinicbot.db.engine import session_scope

Row = TypeVar("Row")


def _on_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def lock_candidates(session: Session, query: Select, *, of: Any = None) -> Select:
    """``query`` reading the rows to claim: on PostgreSQL ``FOR UPDATE SKIP LOCKED`` (of the
    ``of`` entity only, when the query joins others), so rows another worker holds are skipped;
    unchanged on SQLite.
    """
    if not _on_postgresql(session):
        return query
    return query.with_for_update(skip_locked=True, of=of)


def claim_with(session: Session, guarded_update: Update) -> bool:
    """Run an UPDATE guarded by the state its row must still be in; True when it changed the
    row, i.e. this worker won it (False: another worker had it, or it moved on).
    """
    return session.execute(guarded_update).rowcount == 1


def claim_one(session: Session, entity: type[Row], *where: ColumnElement[bool]) -> Row | None:
    """The row of ``entity`` matching ``where``, locked for this transaction; None when another
    worker holds it or it no longer matches.

    On SQLite a no-op guarded UPDATE takes the database's write lock until commit, so a second
    worker that waited for it finds the row no longer matching (already handled).
    """
    query = select(entity).where(*where)
    if _on_postgresql(session):
        return session.execute(query.with_for_update(skip_locked=True)).scalar_one_or_none()
    key = inspect(entity).primary_key[0]
    touch = update(entity).where(*where).values({key: key})
    if not claim_with(session, touch.execution_options(synchronize_session=False)):
        return None
    return session.execute(query).scalar_one()


@contextmanager
def write_transaction(engine: Engine | None, entity: type[Any]) -> Iterator[Session]:
    """A transaction that reads and then writes ``entity``'s table (committed at the end).

    On SQLite it takes the database's write lock up front; PostgreSQL locks rows as it goes.
    """
    with session_scope(engine) as session:
        if not _on_postgresql(session):
            key = inspect(entity).primary_key[0]
            session.execute(
                update(entity)
                .where(false())
                .values({key: key})
                .execution_options(synchronize_session=False)
            )
        yield session
