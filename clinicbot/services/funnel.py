"""The booking funnel (``patient_transactions``): one row per booking attempt.

An attempt starts when the booking form starts (with no attempt of the conversation still
open) and records the time it reached each stage: identified (CPF told), day chosen, time
chosen (``slot_chosen``), confirmed (the patient's "sim"), booked. An attempt that ends
otherwise (the patient says "não", stops, the conversation closes) is ``abandoned`` and keeps
the stage it had reached in ``dropped_stage``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from clinicbot.db.models import Appointment, Conversation, PatientTransaction

STAGES = ("started", "identified", "day_chosen", "slot_chosen", "confirmed", "booked")
_STAGE_COLUMNS = {
    "identified": "identified_at",
    "day_chosen": "day_chosen_at",
    "slot_chosen": "slot_chosen_at",
    "confirmed": "confirmed_at",
    "booked": "booked_at",
}
_FINISHED = ("booked", "abandoned")


def open_attempts(session: Session, conversation_id: int) -> list[PatientTransaction]:
    """The conversation's attempts neither booked nor abandoned."""
    return list(
        session.execute(
            select(PatientTransaction).where(
                PatientTransaction.conversation_id == conversation_id,
                PatientTransaction.stage_current.notin_(_FINISHED),
            )
        ).scalars()
    )


def start(session: Session, conversation: Conversation, now: datetime) -> None:
    """A booking form started: a new attempt, unless one of this conversation is open."""
    if open_attempts(session, conversation.id):
        return
    session.add(
        PatientTransaction(
            phone=conversation.phone,
            conversation_id=conversation.id,
            stage_current="started",
            started_at=now,
        )
    )


def advance(session: Session, conversation: Conversation, stage: str, now: datetime) -> None:
    """The open attempt reached ``stage`` (the first time counts; stages never go back)."""
    for attempt in open_attempts(session, conversation.id):
        column = _STAGE_COLUMNS[stage]
        if getattr(attempt, column) is None:
            setattr(attempt, column, now)
        if STAGES.index(stage) > STAGES.index(attempt.stage_current):
            attempt.stage_current = stage
        if stage == "booked":
            attempt.appointment_id = _latest_appointment_id(session, conversation.phone)


def drop(session: Session, conversation_id: int, now: datetime) -> None:
    """Every open attempt of the conversation is abandoned where it stands."""
    for attempt in open_attempts(session, conversation_id):
        attempt.dropped_stage = attempt.stage_current
        attempt.stage_current = "abandoned"
        attempt.abandoned_at = now


def _latest_appointment_id(session: Session, phone: str) -> int | None:
    return session.execute(
        select(Appointment.id)
        .where(Appointment.phone == phone)
        .order_by(Appointment.created_at.desc(), Appointment.id.desc())
        .limit(1)
    ).scalar()
