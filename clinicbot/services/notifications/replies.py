"""Answers to the messages that ask "sim ou não?": what a bare "sim" refers to.

A sent reminder or waiting-list offer that asks keeps ``awaiting_reply`` until it is answered or
lapses. :func:`pending_reply` finds the newest question a patient can still answer, so the
conversation can route the answer: to :class:`ReminderReplies` for a reminder, to the waiting
list for an offer. :func:`record_reply` closes a question.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from clinicbot.clock import Clock
from clinicbot.db.engine import session_scope
from clinicbot.db.models import Appointment, Notification, WaitingList
from clinicbot.db.types import utcnow
from clinicbot.gestaods.client import GestaoDSClient
from clinicbot.integrations.events import emit_event
from clinicbot.services.notifications.policy import ACTIVE_APPOINTMENT

REPLY_YES = "yes"
REPLY_NO = "no"
REPLY_LAPSED = "lapsed"


@dataclass(frozen=True)
class PendingReply:
    """A sent question ("sim ou não?") the patient has not answered yet."""

    notification_id: int
    kind: str  # reminder | waitlist_offer
    starts_at: datetime
    appointment_id: int | None = None
    gestaods_id: str | None = None
    waiting_list_id: int | None = None


def pending_reply(session: Session, phone: str, now: datetime | None = None) -> PendingReply | None:
    """The newest open question sent to ``phone`` that can still be answered.

    A reminder stays answerable until its appointment starts (and while the appointment is
    active), an offer while it is held; older questions that can no longer be answered are
    marked lapsed on the way.
    """
    now = now or utcnow()
    questions = session.execute(
        select(Notification)
        .where(
            Notification.phone == phone,
            Notification.status == "sent",  # delivered: a queued question was not read yet
            Notification.awaiting_reply.is_(True),
        )
        .order_by(Notification.sent_at.desc(), Notification.id.desc())
    ).scalars()
    for question in questions:
        found = _answerable(session, question, now)
        if found is not None:
            return found
        question.awaiting_reply = False
        question.reply = REPLY_LAPSED
        question.replied_at = now
    return None


def _answerable(session: Session, question: Notification, now: datetime) -> PendingReply | None:
    if question.kind == "reminder" and question.appointment_id is not None:
        appointment = session.get(Appointment, question.appointment_id)
        if (
            appointment is not None
            and appointment.status in ACTIVE_APPOINTMENT
            and appointment.starts_at > now
        ):
            return PendingReply(
                notification_id=question.id,
                kind="reminder",
                starts_at=appointment.starts_at,
                appointment_id=appointment.id,
                gestaods_id=appointment.gestaods_id,
            )
    if question.kind == "waitlist_offer" and question.waiting_list_id is not None:
        entry = session.get(WaitingList, question.waiting_list_id)
        if (
            entry is not None
            and entry.status == "offered"
            and entry.offered_slot_key == (question.payload or {}).get("slot_key")
            and entry.offer_expires_at > now
        ):
            return PendingReply(
                notification_id=question.id,
                kind="waitlist_offer",
                starts_at=entry.offered_slot_starts_at,
                waiting_list_id=entry.id,
            )
    return None


def record_reply(session: Session, notification_id: int, reply: str, now: datetime) -> None:
    """Close the question: it no longer captures a bare "sim"/"não"."""
    session.execute(
        update(Notification)
        .where(Notification.id == notification_id)
        .values(awaiting_reply=False, reply=reply, replied_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )


def lapse_questions(session: Session, condition: ColumnElement[bool], now: datetime) -> None:
    """Close, unanswered, the open questions among the rows matching ``condition``."""
    session.execute(
        update(Notification)
        .where(condition, Notification.awaiting_reply.is_(True))
        .values(awaiting_reply=False, reply=REPLY_LAPSED, replied_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True)
class ReminderAnswer:
    """What happened to a reply to a reminder; ``status`` is confirmed | declined | none."""

    status: str
    starts_at: datetime | None = None


@dataclass
class ReminderReplies:
    """Answers to reminders: "sim" confirms the appointment, "não" closes the question."""

    engine: Engine | None = None
    clock: Clock = utcnow

    def answer(self, agenda: GestaoDSClient, phone: str, confirmed: bool) -> ReminderAnswer:
        """Apply ``phone``'s answer to their open reminder ("sim" confirms it in GestãoDS).

        GestãoDS errors propagate (the question stays open, so the patient can answer again).
        """
        now = self.clock()
        with session_scope(self.engine) as session:
            pending = pending_reply(session, phone, now)
        # A reminder's appointment always has a GestãoDS id (the column is NOT NULL).
        if pending is None or pending.kind != "reminder" or pending.gestaods_id is None:
            return ReminderAnswer("none")
        if confirmed:
            agenda.confirm(pending.gestaods_id)
        with session_scope(self.engine) as session:
            record_reply(
                session, pending.notification_id, REPLY_YES if confirmed else REPLY_NO, now
            )
            if confirmed:
                appointment = session.get(Appointment, pending.appointment_id)
                if appointment is not None and appointment.status == "scheduled":
                    appointment.status = "confirmed"
                    emit_event(
                        session,
                        "appointment.confirmed",
                        {
                            "appointment_id": appointment.gestaods_id,
                            "phone": appointment.phone,
                            "cpf": appointment.cpf,
                            "starts_at": appointment.starts_at,
                            "source": "whatsapp",
                        },
                    )
        return ReminderAnswer("confirmed" if confirmed else "declined", pending.starts_at)
