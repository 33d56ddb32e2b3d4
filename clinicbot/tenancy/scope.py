"""The one way database work acts for one clinic.

:func:`clinic_session` is :func:`~clinicbot.db.engine.session_scope` for one clinic. In it:

- every ``select``/``update``/``delete`` reading a table with a ``clinic_id`` column (any
  table, including ones added later) gets ``clinic_id = <clinic>``: ORM statements through
  SQLAlchemy's ``with_loader_criteria`` (joins, outer joins included), Core ones through
  :func:`scoped` (plain tables and joins of them; a subquery is left to row-level security);
- a new row without ``clinic_id`` gets the clinic's, and a row of another clinic cannot be
  written (:class:`CrossClinicWrite`), by the ORM or by a Core INSERT stating its values;
- on PostgreSQL each transaction sets ``app.clinic_id``, which the row-level security policies
  of migration 0009 check: raw SQL (``text()``), Core statements and the database's triggers
  see and write only that clinic's rows too.

:func:`scoped` adds the same criteria to a Core statement run outside such a session.
Work that spans clinics (migrations, Rasa's tracker store, a job walking every clinic) uses a
plain session and passes ``clinic_id`` explicitly.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, with_loader_criteria
from sqlalchemy.sql.selectable import Join

from clinicbot.db.models import Base
from clinicbot.tenancy import DEFAULT_CLINIC_ID

CLINIC_COLUMN = "clinic_id"
_INFO_KEY = "clinic_id"


class CrossClinicWrite(PermissionError):
    """A session acting for one clinic tried to write another clinic's row."""


def clinic_owned_models() -> list[type[Any]]:
    """Every mapped class whose table has a ``clinic_id`` column."""
    return [
        mapper.class_ for mapper in Base.registry.mappers if CLINIC_COLUMN in mapper.local_table.c
    ]


def session_clinic(session: Session) -> int | None:
    """The clinic a session acts for, or None (it spans clinics)."""
    value = session.info.get(_INFO_KEY)
    return int(value) if value is not None else None


def scoped(statement: Any, clinic_id: int) -> Any:
    """``statement`` (Core or ORM select/update/delete) restricted to ``clinic_id``'s rows of
    every clinic-owned table it reads or writes."""
    tables: list[Any] = [getattr(statement, "table", None)]
    tables += list(statement.get_final_froms()) if hasattr(statement, "get_final_froms") else []
    seen: set[str] = set()
    while tables:
        table = tables.pop(0)
        if isinstance(table, Join):
            tables += [table.left, table.right]
            continue
        columns = getattr(table, "c", None)
        if columns is None or CLINIC_COLUMN not in columns or table.name in seen:
            continue
        seen.add(table.name)
        statement = statement.where(columns[CLINIC_COLUMN] == clinic_id)
    return statement


def set_database_clinic(connection: Connection, clinic_id: int | None) -> None:
    """Set PostgreSQL's ``app.clinic_id`` for the current transaction (row-level security);
    nothing on SQLite, which has none."""
    if connection.dialect.name != "postgresql":
        return
    connection.execute(
        text("SELECT set_config('app.clinic_id', :clinic, true)"),
        {"clinic": "" if clinic_id is None else str(clinic_id)},
    )


@event.listens_for(Session, "after_begin")
def _set_rls_clinic(session: Session, _transaction: Any, connection: Connection) -> None:
    clinic_id = session_clinic(session)
    if clinic_id is not None:
        set_database_clinic(connection, clinic_id)


def _inserted_clinics(state: Any) -> set[Any]:
    """The ``clinic_id`` values a Core INSERT into a clinic-owned table writes, as far as the
    statement states them: its ``values()`` and its execution parameters (an INSERT … SELECT
    computes them in the database, where row-level security checks them)."""
    table = getattr(state.statement, "table", None)
    if table is None or CLINIC_COLUMN not in getattr(table, "c", ()):
        return set()
    found = set()
    stated = getattr(state.statement, "_values", None) or {}
    for column, value in stated.items():
        if getattr(column, "key", column) == CLINIC_COLUMN:
            found.add(getattr(value, "value", value))
    parameters = state.parameters
    for row in [parameters] if isinstance(parameters, dict) else parameters or []:
        if CLINIC_COLUMN in row:
            found.add(row[CLINIC_COLUMN])
    return found


@event.listens_for(Session, "do_orm_execute")
def _add_clinic_criteria(state: Any) -> None:
    clinic_id = session_clinic(state.session)
    if clinic_id is None:
        return
    if state.is_insert:
        others = {value for value in _inserted_clinics(state) if value != clinic_id}
        if others:
            raise CrossClinicWrite(f"rows of clinic(s) {sorted(others)} inserted for {clinic_id}")
        return
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if not state.is_orm_statement:
        state.statement = scoped(state.statement, clinic_id)
        return
    if state.is_column_load or state.is_relationship_load:
        return  # the statement that loaded the parent was already scoped
    state.statement = state.statement.options(
        *(
            with_loader_criteria(
                model, lambda cls: cls.clinic_id == clinic_id, include_aliases=True
            )
            for model in clinic_owned_models()
        )
    )


@event.listens_for(Session, "before_flush")
def _stamp_clinic(session: Session, _context: Any, _instances: Any) -> None:
    clinic_id = session_clinic(session)
    if clinic_id is None:
        return
    for row in list(session.new) + list(session.dirty):
        if CLINIC_COLUMN not in type(row).__table__.c:
            continue
        if row.clinic_id is None:
            row.clinic_id = clinic_id
        elif row.clinic_id != clinic_id:
            raise CrossClinicWrite(
                f"{type(row).__name__} of clinic {row.clinic_id} written for clinic {clinic_id}"
            )


def acting_clinic(session: Session, clinic_id: int | None = None) -> int:
    """``clinic_id`` when given, else the clinic the session acts for, else the default one.

    Service functions take ``clinic_id: int | None = None`` and resolve it with this, so that
    called inside a clinic's session they act for that clinic without being told.
    """
    if clinic_id is not None:
        return clinic_id
    return session_clinic(session) or DEFAULT_CLINIC_ID
