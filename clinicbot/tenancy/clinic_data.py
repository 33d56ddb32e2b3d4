"""One clinic's data, exported or erased: a clinic leaving the service takes its data with it
(``clinics export SLUG``) and leaves nothing behind (``clinics erase SLUG``).

The tables are found from the models, not listed: every clinic-owned table
(:func:`~clinicbot.tenancy.scope.clinic_owned_models`), the message dedupe keys of the clinic's
messages (they have no ``clinic_id``: a trigger writes them) and Rasa's tracker events of the
clinic's conversations (:mod:`clinicbot.tenancy.senders`). Every read and delete runs in a
session acting for the clinic (:func:`~clinicbot.tenancy.sessions.clinic_session`), so the
scoping helper and row-level security both keep it to that clinic's rows.

The export is JSON Lines: a header line (the clinic, when, the tables), then one
``{"table": …, "row": {…}}`` per row. Secrets (the clinic's tokens, API key hashes,
subscription signing secrets) are not exported: the clinic gets new ones wherever it goes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Table, delete, inspect, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from clinicbot import clock
from clinicbot.db.models import Base, ConversationMessage, ConversationMessageKey
from clinicbot.tenancy import DEFAULT_CLINIC_ID
from clinicbot.tenancy.scope import clinic_owned_models
from clinicbot.tenancy.sessions import clinic_session

# Columns never exported: credentials, which a clinic replaces rather than moves.
SECRET_COLUMNS = {
    "api_keys": {"key_hash"},
    "webhook_subscriptions": {"secret"},
}
RASA_EVENTS = "events"


class DefaultClinicErasure(ValueError):
    """Clinic 1 is the environment's own: its data goes with the deployment, not on its own."""


def clinic_tables() -> list[Table]:
    """The clinic-owned tables, parents before children (the erasure walks them backwards)."""
    owned = {model.__table__.name for model in clinic_owned_models()}
    return [table for table in Base.metadata.sorted_tables if table.name in owned]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def _rasa_conversations(clinic_id: int) -> tuple[str, dict[str, str]]:
    """A SQL condition on ``events.sender_id`` and its parameters: the clinic's conversations.
    The default clinic's are the bare phones (:func:`~clinicbot.tenancy.senders.sender_id`)."""
    if clinic_id == DEFAULT_CLINIC_ID:
        return "sender_id NOT LIKE :prefix", {"prefix": "c%:%"}
    return "sender_id LIKE :prefix", {"prefix": f"c{clinic_id}:%"}


def _has_rasa_events(session: Session) -> bool:
    return inspect(session.connection()).has_table(RASA_EVENTS)


def _message_ids(clinic_id: int) -> Any:
    return select(ConversationMessage.id).where(ConversationMessage.clinic_id == clinic_id)


def clinic_rows(session: Session, clinic_id: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(table, row)`` for every row of the clinic (``session`` acts for it)."""
    for table in clinic_tables():
        hidden = SECRET_COLUMNS.get(table.name, set())
        columns = [column for column in table.columns if column.name not in hidden]
        query = select(*columns).where(table.c.clinic_id == clinic_id)
        for row in session.execute(query).mappings():
            yield table.name, {key: _plain(value) for key, value in row.items()}
    keys = select(ConversationMessageKey).where(
        ConversationMessageKey.message_id.in_(_message_ids(clinic_id))
    )
    for key in session.execute(keys).scalars():
        yield (
            ConversationMessageKey.__tablename__,
            {
                column.name: _plain(getattr(key, column.name))
                for column in ConversationMessageKey.__table__.columns
            },
        )
    if _has_rasa_events(session):
        condition, values = _rasa_conversations(clinic_id)
        query = text(f"SELECT * FROM {RASA_EVENTS} WHERE {condition} ORDER BY id")
        for row in session.execute(query, values).mappings():
            yield RASA_EVENTS, {key: _plain(value) for key, value in row.items()}


def export_clinic(engine: Engine, clinic_id: int, out: IO[str]) -> dict[str, int]:
    """Write the clinic's data to ``out`` as JSON Lines; the rows written per table."""
    counts: dict[str, int] = {}
    with clinic_session(clinic_id, engine) as session:
        header = {
            "clinic_id": clinic_id,
            "exported_at": clock.now().isoformat(),
            "format": "clinicbot-clinic-export/1",
            "tables": [table.name for table in clinic_tables()],
        }
        out.write(json.dumps({"export": header}, ensure_ascii=False) + "\n")
        for table, row in clinic_rows(session, clinic_id):
            out.write(json.dumps({"table": table, "row": row}, ensure_ascii=False) + "\n")
            counts[table] = counts.get(table, 0) + 1
    return counts


def export_clinic_to(engine: Engine, clinic_id: int, path: Path) -> dict[str, int]:
    """:func:`export_clinic` into a new file (mode 0600: it holds patients' data)."""
    path.touch(mode=0o600, exist_ok=False)
    with path.open("w", encoding="utf-8") as out:
        return export_clinic(engine, clinic_id, out)


def erase_clinic(engine: Engine, clinic_id: int) -> dict[str, int]:
    """Delete every row of the clinic, then the clinic itself; rows deleted per table.

    The default clinic cannot be erased (:class:`DefaultClinicErasure`).
    """
    if clinic_id == DEFAULT_CLINIC_ID:
        raise DefaultClinicErasure("the default clinic's data goes with the deployment")
    erased: dict[str, int] = {}
    with clinic_session(clinic_id, engine) as session:
        erased[ConversationMessageKey.__tablename__] = session.execute(
            delete(ConversationMessageKey)
            .where(ConversationMessageKey.message_id.in_(_message_ids(clinic_id)))
            .execution_options(synchronize_session=False)
        ).rowcount
        for table in reversed(clinic_tables()):
            erased[table.name] = session.execute(
                delete(table).where(table.c.clinic_id == clinic_id)
            ).rowcount
        if _has_rasa_events(session):
            condition, values = _rasa_conversations(clinic_id)
            erased[RASA_EVENTS] = session.execute(
                text(f"DELETE FROM {RASA_EVENTS} WHERE {condition}"), values
            ).rowcount
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM clinics WHERE id = :id"), {"id": clinic_id})
    return erased
