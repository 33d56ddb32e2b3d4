"""The ``conversations`` row a message belongs to: one active conversation per patient.

In the path of a message: the inbox (on the way in) and the outbox (on the way out) file every
message they store under the patient's active conversation.
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from clinicbot.db.models import Conversation
from clinicbot.db.types import utcnow


def conversation_for(session: Session, phone: str, channel: str) -> int:
    """Id of the active conversation of ``phone`` (normalised), created on first contact.

    On PostgreSQL a transaction-scoped advisory lock per phone keeps two processes from opening
    two conversations at once; on SQLite the database's single writer does.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"conversation:{phone}"))))
    current = session.execute(
        select(Conversation.id)
        .where(Conversation.phone == phone, Conversation.status == "active")
        .order_by(Conversation.updated_at.desc())
        .limit(1)
    ).scalar()
    if current is not None:
        session.execute(
            update(Conversation).where(Conversation.id == current).values(updated_at=utcnow())
        )
        return int(current)
    conversation = Conversation(phone=phone, channel=channel, started_at=utcnow())
    session.add(conversation)
    session.flush()
    return int(conversation.id)
