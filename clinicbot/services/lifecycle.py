"""A conversation's life: it opens with the patient's first message, records what came of it
(its outcome), and ends after the Rasa session's inactivity timeout or an explicit goodbye.

``chatbot_metrics`` is kept by the conversations trigger, so setting ``outcome`` (with
``resolved_by_bot`` and ``appointment_booked``) here is what makes the daily resolution rate
and the successful appointments count, and closing conversations is what makes
``total_conversations`` count conversations rather than patients.

Outcomes rank: when a conversation achieves several things, the highest one is its outcome
(booked > rescheduled > cancelled > waiting_list > handoff > answered). A conversation that
ends with none is ``abandoned``. Every outcome but handoff and abandoned is resolved by the bot.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache

import yaml
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from clinicbot.db.engine import session_scope
from clinicbot.db.models import Conversation
from clinicbot.db.types import utcnow
from clinicbot.integrations.events import emit_event
from clinicbot.services import funnel
from clinicbot.settings import PROJECT_ROOT

OPEN_STATUSES = ("active", "handed_off")
RANK = {
    "answered": 1,
    "handoff": 2,
    "waiting_list": 3,
    "cancelled": 4,
    "rescheduled": 5,
    "booked": 6,
}
RESOLVED_BY_BOT = frozenset({"booked", "rescheduled", "cancelled", "waiting_list", "answered"})
DEFAULT_SESSION_MINUTES = 60


@lru_cache(maxsize=1)
def idle_timeout() -> timedelta:
    """Rasa's ``session_expiration_time`` (``domain.yml``): the same inactivity ends both."""
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
    minutes = (domain.get("session_config") or {}).get("session_expiration_time")
    return timedelta(minutes=float(minutes or DEFAULT_SESSION_MINUTES))


def open_conversation(session: Session, phone: str) -> Conversation | None:
    """The patient's open conversation, if any (the most recent one)."""
    return session.execute(
        select(Conversation)
        .where(Conversation.phone == phone, Conversation.status.in_(OPEN_STATUSES))
        .order_by(Conversation.updated_at.desc())
        .limit(1)
    ).scalar()


def is_idle(conversation: Conversation, now: datetime) -> bool:
    return bool(conversation.updated_at <= now - idle_timeout())


def note_outcome(conversation: Conversation, outcome: str) -> None:
    """``outcome`` happened in ``conversation``; it becomes the outcome if it ranks higher."""
    if RANK[outcome] <= RANK.get(conversation.outcome or "", 0):
        return
    conversation.outcome = outcome
    conversation.resolved_by_bot = outcome in RESOLVED_BY_BOT
    if outcome == "booked":
        conversation.appointment_booked = True


def close(session: Session, conversation: Conversation, status: str, ended_at: datetime) -> None:
    """End ``conversation`` (``closed``: goodbye; ``expired``: inactivity)."""
    conversation.status = status
    conversation.ended_at = ended_at
    if conversation.outcome is None:
        conversation.outcome = "abandoned"
        conversation.resolved_by_bot = False
    funnel.drop(session, conversation.id, ended_at)
    emit_event(
        session,
        "conversation.closed",
        {
            "conversation_id": conversation.id,
            "phone": conversation.phone,
            "status": status,
            "resolved_by_bot": bool(conversation.resolved_by_bot),
            "appointment_booked": bool(conversation.appointment_booked),
            "started_at": conversation.started_at,
            "ended_at": ended_at,
        },
        clinic_id=conversation.clinic_id,
    )


def close_idle(engine: Engine | None = None, now: datetime | None = None) -> int:
    """Expire every conversation idle for the session timeout; how many were closed.

    Each ends at its last activity, so its duration is what the patient spent.
    """
    cutoff = (now or utcnow()) - idle_timeout()
    with session_scope(engine) as session:
        idle = (
            session.execute(
                select(Conversation).where(
                    Conversation.status.in_(OPEN_STATUSES), Conversation.updated_at <= cutoff
                )
            )
            .scalars()
            .all()
        )
        for conversation in idle:
            close(session, conversation, "expired", conversation.updated_at)
        return len(idle)
