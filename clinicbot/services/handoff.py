"""Handing a patient over to the clinic's staff, and back to the assistant.

The assistant pauses the Rasa conversation (``ConversationPaused``) and records the request in
``conversation_dashboard``; staff answer from the clinic's WhatsApp. When they are done, the clinic
service closes the row and resumes the Rasa conversation.
"""

from __future__ import annotations

from sqlalchemy import select

from clinicbot.db.engine import session_scope
from clinicbot.db.models import ConversationDashboard
from clinicbot.db.types import utcnow

OPEN_STATUSES = ("open", "waiting_human", "with_human")


def request_human(phone: str, reason: str) -> int:
    """Record that ``phone`` wants a person; returns the (one open) dashboard row id."""
    with session_scope() as session:
        row = session.execute(
            select(ConversationDashboard).where(
                ConversationDashboard.phone == phone,
                ConversationDashboard.status.in_(OPEN_STATUSES),
            )
        ).scalar_one_or_none()
        if row is None:
            row = ConversationDashboard(phone=phone, status="waiting_human", reason=reason)
            session.add(row)
            session.flush()
        return int(row.id)


def close_handoff(phone: str) -> bool:
    """Close the open handoff of ``phone``; False when there was none."""
    with session_scope() as session:
        rows = (
            session.execute(
                select(ConversationDashboard).where(
                    ConversationDashboard.phone == phone,
                    ConversationDashboard.status.in_(OPEN_STATUSES),
                )
            )
            .scalars()
            .all()
        )
        for row in rows:
            row.status = "closed"
            row.closed_at = utcnow()
        return bool(rows)
