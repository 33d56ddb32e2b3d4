"""The ``conversations`` row a message belongs to: one active conversation per patient.

In the path of a message: the inbox (on the way in) and the outbox (on the way out) file every
message they store under the patient's active conversation. One idle for the Rasa session's
timeout has ended: it is closed (:mod:`clinicbot.services.lifecycle`) and a new one opens.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clinicbot.db.models import Conversation
from clinicbot.db.types import utcnow
from clinicbot.services import lifecycle


def conversation_for(session: Session, phone: str, channel: str) -> int:
    """Id of the active conversation of ``phone`` (normalised), created on first contact.

    On PostgreSQL a transaction-scoped advisory lock per phone keeps two processes from opening
    two conversations at once; on SQLite the database's single writer does.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"conversation:{phone}"))))
    now = utcnow()
    current = lifecycle.open_conversation(session, phone)
    if current is not None and lifecycle.is_idle(current, now):
        lifecycle.close(session, current, "expired", current.updated_at)
        current = None
    if current is not None:
        current.updated_at = now
        session.flush()
        return int(current.id)
    conversation = Conversation(phone=phone, channel=channel, started_at=now)
    session.add(conversation)
    session.flush()
    return int(conversation.id)
