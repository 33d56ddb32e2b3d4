"""An appointment's messages, planned as ``notifications`` rows to send later.

Called inside the booking and cancel code's own transaction, so the rows exist if and only if the
booking (or cancellation) commits. Every row has a ``dedupe_key``: scheduling twice (a retried
booking) adds nothing.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from clinicbot.db.models import Appointment, Notification
from clinicbot.db.types import utcnow
from clinicbot.services import templates
from clinicbot.services.notifications.policy import REMINDER_MIN_LEAD, NotificationPolicy
from clinicbot.services.notifications.replies import lapse_questions


def utc_iso(moment: datetime) -> str:
    """How an instant is written in payloads (compared as text when a row is sent)."""
    return moment.astimezone(timezone.utc).isoformat()


def _stamp(moment: datetime) -> str:
    return f"{moment.astimezone(timezone.utc):%Y%m%dT%H%MZ}"


def _add_once(session: Session, notification: Notification) -> Notification | None:
    """Add ``notification`` unless its dedupe key exists (a retried booking schedules twice)."""
    exists = session.execute(
        select(Notification.id).where(Notification.dedupe_key == notification.dedupe_key)
    ).first()
    if exists:
        return None
    session.add(notification)
    return notification


def schedule_for_appointment(
    session: Session,
    appointment: Appointment,
    *,
    now: datetime | None = None,
    policy: NotificationPolicy | None = None,
    confirmation: bool = False,
) -> list[Notification]:
    """Create the reminders of a just booked (or rescheduled) appointment; idempotent.

    ``confirmation=True`` also sends a "your appointment is booked" message: for bookings made
    outside the conversation (which otherwise confirms them in the chat itself). Reminders whose
    time has already passed are skipped: the patient has just booked.
    """
    now = now or utcnow()
    policy = policy or NotificationPolicy.from_settings()
    session.flush()  # the appointment needs its id
    stamp = _stamp(appointment.starts_at)
    created: list[Notification] = []
    if confirmation:
        created.append(
            Notification(
                kind="confirmation",
                phone=appointment.phone,
                appointment_id=appointment.id,
                template_key=templates.CONFIRMATION,
                scheduled_for=policy.next_sending_time(now),
                payload={"starts_at": utc_iso(appointment.starts_at)},
                dedupe_key=f"confirmation:{appointment.id}:{stamp}",
            )
        )
    planned: set[datetime] = set()
    for offset in sorted(policy.reminder_offsets, reverse=True):
        due = appointment.starts_at - offset
        if due < now:
            continue
        due = policy.next_sending_time(due)
        if due > appointment.starts_at - REMINDER_MIN_LEAD or due in planned:
            continue
        planned.add(due)
        hours = offset.total_seconds() / 3600
        created.append(
            Notification(
                kind="reminder",
                phone=appointment.phone,
                appointment_id=appointment.id,
                template_key=templates.REMINDER,
                scheduled_for=due,
                payload={"starts_at": utc_iso(appointment.starts_at), "hours_before": hours},
                dedupe_key=f"reminder:{appointment.id}:{stamp}:{hours:g}h",
            )
        )
    return [row for row in created if _add_once(session, row)]


def cancel_for_appointment(
    session: Session,
    appointment: Appointment,
    *,
    now: datetime | None = None,
    policy: NotificationPolicy | None = None,
    notify: bool = False,
) -> int:
    """Drop the appointment's pending messages and open questions; returns how many were dropped.

    Call it when an appointment is canceled, and before :func:`schedule_for_appointment` when it
    is rescheduled. ``notify=True`` tells the patient (for cancellations made by the clinic; the
    conversation already confirms the patient's own).
    """
    now = now or utcnow()
    policy = policy or NotificationPolicy.from_settings()
    dropped = session.execute(
        update(Notification)
        .where(Notification.appointment_id == appointment.id, Notification.status == "pending")
        .values(status="canceled", updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    lapse_questions(session, Notification.appointment_id == appointment.id, now)
    if notify:
        _add_once(
            session,
            Notification(
                kind="cancellation",
                phone=appointment.phone,
                appointment_id=appointment.id,
                template_key=templates.CANCELLATION,
                scheduled_for=policy.next_sending_time(now),
                payload={"starts_at": utc_iso(appointment.starts_at)},
                dedupe_key=f"cancellation:{appointment.id}:{_stamp(appointment.starts_at)}",
            ),
        )
    return dropped
