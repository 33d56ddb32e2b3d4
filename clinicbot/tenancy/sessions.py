"""A database session acting for one clinic (:mod:`clinicbot.tenancy.scope`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from clinicbot.db.engine import session_scope
from clinicbot.tenancy.context import acting_for


@contextmanager
def clinic_session(clinic_id: int, engine: Engine | None = None) -> Iterator[Session]:
    """:func:`~clinicbot.db.engine.session_scope` acting for ``clinic_id`` only."""
    with acting_for(clinic_id), session_scope(engine) as session:
        yield session
