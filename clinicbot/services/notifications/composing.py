"""What an appointment's message says when it goes out: template, values, whether it asks.

A message is composed when it is sent, not when it is scheduled: the appointment may have moved,
been confirmed or canceled meanwhile, and a composer returns None when the message no longer
makes sense (the row is then canceled). Other kinds of message bring their own :data:`Composer`
to the dispatcher (the waiting list composes its offers).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from clinicbot.db.models import Appointment, Notification
from clinicbot.ptbr.formatting import clock, long_day
from clinicbot.services import templates
from clinicbot.services.notifications.policy import (
    ACTIVE_APPOINTMENT,
    REMINDER_MIN_LEAD,
    NotificationPolicy,
)
from clinicbot.services.notifications.scheduling import utc_iso

NAME_FALLBACK = "tudo bem"  # "Oi, tudo bem! 😊 …" when the patient's name is unknown


@dataclass(frozen=True)
class Message:
    """A message to send: the template to render, its values, whether it asks a question, and
    when it stops being worth delivering (the outbox gives up then: a reminder after the
    appointment started helps nobody)."""

    template_key: str
    values: dict[str, object]
    awaiting_reply: bool
    deliver_by: datetime | None = None


# (session, row, now, policy) -> what to send now, or None when the message no longer makes sense.
Composer = Callable[[Session, Notification, datetime, NotificationPolicy], Message | None]


def first_name(name: str | None) -> str:
    """How a message greets the patient: the first name, capitalised, or a neutral greeting."""
    return (name or "").split(" ")[0].strip().title() or NAME_FALLBACK


def compose_confirmation(
    session: Session, notification: Notification, now: datetime, policy: NotificationPolicy
) -> Message | None:
    """ "Your appointment is booked", while it still is, at that time."""
    appointment = _appointment_of(session, notification)
    if appointment is None or not _still_booked(appointment, notification):
        return None
    return Message(
        templates.CONFIRMATION,
        _values(appointment, policy),
        awaiting_reply=False,
        deliver_by=appointment.starts_at,
    )


def compose_cancellation(
    session: Session, notification: Notification, now: datetime, policy: NotificationPolicy
) -> Message | None:
    """ "Your appointment was canceled"."""
    appointment = _appointment_of(session, notification)
    if appointment is None:
        return None
    return Message(templates.CANCELLATION, _values(appointment, policy), awaiting_reply=False)


def compose_reminder(
    session: Session, notification: Notification, now: datetime, policy: NotificationPolicy
) -> Message | None:
    """The reminder: it asks for a confirmation unless the patient has already confirmed.

    None when the appointment moved or ended, starts too soon, or a later reminder of it is due
    too (the service was down): one reminder, not two at once.
    """
    appointment = _appointment_of(session, notification)
    if appointment is None or not _still_booked(appointment, notification):
        return None
    if appointment.starts_at - now < REMINDER_MIN_LEAD or _superseded(session, notification, now):
        return None
    values = _values(appointment, policy)
    local_start = appointment.starts_at.astimezone(policy.tz)
    values["dia"] = _reminder_day(local_start, policy.local_date(now))
    if appointment.status == "confirmed":
        return Message(
            templates.REMINDER_CONFIRMED,
            values,
            awaiting_reply=False,
            deliver_by=appointment.starts_at,
        )
    return Message(
        templates.REMINDER, values, awaiting_reply=True, deliver_by=appointment.starts_at
    )


APPOINTMENT_MESSAGES: Mapping[str, Composer] = {
    "confirmation": compose_confirmation,
    "cancellation": compose_cancellation,
    "reminder": compose_reminder,
}


def _appointment_of(session: Session, notification: Notification) -> Appointment | None:
    if notification.appointment_id is None:
        return None
    return session.get(Appointment, notification.appointment_id)


def _still_booked(appointment: Appointment, notification: Notification) -> bool:
    """The appointment is active and still at the time the message was scheduled for."""
    return appointment.status in ACTIVE_APPOINTMENT and (notification.payload or {}).get(
        "starts_at"
    ) == utc_iso(appointment.starts_at)


def _values(appointment: Appointment, policy: NotificationPolicy) -> dict[str, object]:
    local_start = appointment.starts_at.astimezone(policy.tz)
    return {
        "nome": first_name(appointment.patient_name),
        "dia": long_day(local_start.date()),
        "hora": clock(local_start),
    }


def _reminder_day(starts_at: datetime, today: date) -> str:
    """``amanhã, sexta-feira, 28/11``: the relative word helps on a phone's lock screen."""
    day = starts_at.date()
    relative = {today: "hoje, ", today + timedelta(days=1): "amanhã, "}.get(day, "")
    return f"{relative}{long_day(day)}"


def _superseded(session: Session, reminder: Notification, now: datetime) -> bool:
    """A later reminder of the same appointment is due too (the service was down): send one."""
    return (
        session.execute(
            select(Notification.id).where(
                Notification.appointment_id == reminder.appointment_id,
                Notification.kind == "reminder",
                Notification.status == "pending",
                Notification.scheduled_for > reminder.scheduled_for,
                Notification.scheduled_for <= now,
            )
        ).first()
        is not None
    )
