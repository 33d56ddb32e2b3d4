"""Proactive WhatsApp messages: confirmations, reminders, cancellations and waiting-list offers.

Each message is a ``notifications`` row (pending → sent | failed | canceled), so nothing is lost
when a process restarts. :class:`NotificationService.dispatch_due` sends the due rows through
the channel outbox: claiming a row, enqueueing its text and marking it sent happen in ONE
transaction, so each row is sent exactly once even with several schedulers on one database
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL; on SQLite a guarded ``UPDATE … WHERE status =
'pending'`` takes the database's single write lock first).

Quiet hours: nothing is sent between ``quiet_hours_start`` and ``quiet_hours_end`` (clinic
time). A reminder that would fall in them is scheduled for the end of the quiet hours instead, and
dropped when that leaves less than :data:`REMINDER_MIN_LEAD` before the appointment (a reminder
at 08:00 for an 08:30 visit only gets in the way). Rows that come due at night (after downtime,
say) wait for the morning and are re-checked then.

Replies: a sent reminder or offer that asks "sim ou não?" keeps ``awaiting_reply`` until it is
answered or lapses; :func:`pending_reply` tells the conversation what a bare "sim" refers to.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from clinicbot.channels.outbox import enqueue_text
from clinicbot.db.engine import session_scope
from clinicbot.db.models import Appointment, Notification, WaitingList
from clinicbot.db.types import utcnow
from clinicbot.gestaods.client import GestaoDSClient
from clinicbot.pii import mask_phone, mask_text
from clinicbot.ptbr.formatting import clock, long_day, short_day
from clinicbot.services import templates
from clinicbot.settings import Settings, get_settings

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]

MAX_ATTEMPTS = 5
RETRY_DELAY = timedelta(minutes=5)
REMINDER_MIN_LEAD = timedelta(hours=1)
DISPATCH_BATCH = 200
ACTIVE_APPOINTMENT = ("scheduled", "confirmed")
NAME_FALLBACK = "tudo bem"  # "Oi, tudo bem! 😊 …" when the patient's name is unknown

REPLY_YES = "yes"
REPLY_NO = "no"
REPLY_LAPSED = "lapsed"


@dataclass(frozen=True)
class NotificationPolicy:
    """When messages may go out, and how long a waiting-list offer is held."""

    tz: ZoneInfo
    reminder_offsets: tuple[timedelta, ...] = (timedelta(hours=24), timedelta(hours=2))
    quiet_start: time = time(21)
    quiet_end: time = time(8)
    offer_hold: timedelta = timedelta(minutes=30)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> NotificationPolicy:
        settings = settings or get_settings()
        return cls(
            tz=settings.clinic_tz,
            reminder_offsets=tuple(timedelta(hours=h) for h in settings.reminder_hours_before),
            quiet_start=settings.quiet_hours_start,
            quiet_end=settings.quiet_hours_end,
            offer_hold=timedelta(minutes=settings.waitlist_offer_minutes),
        )

    def is_quiet(self, moment: datetime) -> bool:
        local = moment.astimezone(self.tz).time()
        if self.quiet_start > self.quiet_end:  # overnight, e.g. 21:00-08:00
            return local >= self.quiet_start or local < self.quiet_end
        return self.quiet_start <= local < self.quiet_end

    def next_sending_time(self, moment: datetime) -> datetime:
        """``moment``, or the end of the quiet hours it falls in (UTC)."""
        if not self.is_quiet(moment):
            return moment
        local = moment.astimezone(self.tz)
        end = datetime.combine(local.date(), self.quiet_end, tzinfo=self.tz)
        if end <= local:
            end = datetime.combine(local.date() + timedelta(days=1), self.quiet_end, tzinfo=self.tz)
        return end.astimezone(timezone.utc)

    def local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.tz).date()


# -- scheduling (called inside the booking/cancel code's own transaction) ----------------------


def _stamp(moment: datetime) -> str:
    return f"{moment.astimezone(timezone.utc):%Y%m%dT%H%MZ}"


def utc_iso(moment: datetime) -> str:
    """How an instant is written in payloads (compared as text when a row is sent)."""
    return moment.astimezone(timezone.utc).isoformat()


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
    _lapse_questions(session, Notification.appointment_id == appointment.id, now)
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


def _lapse_questions(session: Session, condition: ColumnElement[bool], now: datetime) -> None:
    session.execute(
        update(Notification)
        .where(condition, Notification.awaiting_reply.is_(True))
        .values(awaiting_reply=False, reply=REPLY_LAPSED, replied_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )


# -- sending ---------------------------------------------------------------------------------


def _first_name(name: str | None) -> str:
    return (name or "").split(" ")[0].strip().title() or NAME_FALLBACK


def _reminder_day(starts_at: datetime, today: date) -> str:
    """``amanhã, sexta-feira, 28/11``: the relative word helps on a phone's lock screen."""
    day = starts_at.date()
    relative = {today: "hoje, ", today + timedelta(days=1): "amanhã, "}.get(day, "")
    return f"{relative}{long_day(day)}"


@dataclass(frozen=True)
class _Message:
    template_key: str
    values: dict[str, object]
    awaiting_reply: bool


def _compose(
    session: Session, notification: Notification, now: datetime, policy: NotificationPolicy
) -> _Message | None:
    """What to send for ``notification`` now, or None when it no longer makes sense."""
    if notification.kind == "waitlist_offer":
        return _compose_offer(session, notification, now, policy)
    appointment = (
        session.get(Appointment, notification.appointment_id)
        if notification.appointment_id
        else None
    )
    if appointment is None:
        return None
    local_start = appointment.starts_at.astimezone(policy.tz)
    values: dict[str, object] = {
        "nome": _first_name(appointment.patient_name),
        "dia": long_day(local_start.date()),
        "hora": clock(local_start),
    }
    if notification.kind == "cancellation":
        return _Message(templates.CANCELLATION, values, awaiting_reply=False)
    still_there = appointment.status in ACTIVE_APPOINTMENT and (notification.payload or {}).get(
        "starts_at"
    ) == utc_iso(appointment.starts_at)
    if not still_there:
        return None
    if notification.kind == "confirmation":
        return _Message(templates.CONFIRMATION, values, awaiting_reply=False)
    if appointment.starts_at - now < REMINDER_MIN_LEAD or _superseded(session, notification, now):
        return None
    values["dia"] = _reminder_day(local_start, policy.local_date(now))
    if appointment.status == "confirmed":
        return _Message(templates.REMINDER_CONFIRMED, values, awaiting_reply=False)
    return _Message(templates.REMINDER, values, awaiting_reply=True)


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


def _compose_offer(
    session: Session, notification: Notification, now: datetime, policy: NotificationPolicy
) -> _Message | None:
    entry = (
        session.get(WaitingList, notification.waiting_list_id)
        if notification.waiting_list_id
        else None
    )
    slot_key = (notification.payload or {}).get("slot_key")
    if entry is None or entry.status != "offered" or entry.offered_slot_key != slot_key:
        return None
    # The hold starts when the patient can read the offer, not when it was queued overnight.
    entry.offer_expires_at = now + policy.offer_hold
    local_start = entry.offered_slot_starts_at.astimezone(policy.tz)
    minutes = int(policy.offer_hold.total_seconds() // 60)
    values: dict[str, object] = {
        "nome": _first_name(entry.patient_name),
        "dia": short_day(local_start.date()),
        "hora": clock(local_start),
        "minutos": minutes,
    }
    return _Message(templates.WAITLIST_OFFER, values, awaiting_reply=True)


def send_notification(
    session: Session, notification: Notification, now: datetime, policy: NotificationPolicy
) -> str:
    """Enqueue the text of a claimed pending row and mark it sent (or canceled); the new status.

    Runs in the caller's transaction: the outbox row and the status change commit together.
    """
    message = _compose(session, notification, now, policy)
    notification.attempts += 1
    notification.updated_at = now
    if message is None:
        notification.status = "canceled"
        return notification.status
    text = templates.render(session, message.template_key, message.values)
    enqueue_text(session, notification.phone, text, dedupe_key=f"notification:{notification.id}")
    notification.template_key = message.template_key
    notification.status = "sent"
    notification.sent_at = now
    notification.awaiting_reply = message.awaiting_reply
    logger.info(
        "notification %s (%s) sent to %s",
        notification.id,
        notification.kind,
        mask_phone(notification.phone),
    )
    return notification.status


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
        .where(Notification.phone == phone, Notification.awaiting_reply.is_(True))
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


@dataclass(frozen=True)
class ReminderAnswer:
    """What happened to a reply to a reminder; ``status`` is confirmed | declined | none."""

    status: str
    starts_at: datetime | None = None


@dataclass
class NotificationService:
    """Sends due notifications and handles the answers to reminders."""

    engine: Engine | None = None
    policy: NotificationPolicy = field(default_factory=NotificationPolicy.from_settings)
    clock: Clock = utcnow

    def dispatch_due(self, limit: int = DISPATCH_BATCH) -> dict[str, int]:
        """Send every due pending row (one transaction each); counts per resulting status."""
        now = self.clock()
        counts: dict[str, int] = {}
        if self.policy.is_quiet(now):
            return counts
        with session_scope(self.engine) as session:
            due = (
                session.execute(
                    select(Notification.id)
                    .where(Notification.status == "pending", Notification.scheduled_for <= now)
                    .order_by(Notification.scheduled_for, Notification.id)
                    .limit(limit)
                )
                .scalars()
                .all()
            )
        for notification_id in due:
            status = self._dispatch_one(notification_id, now)
            counts[status] = counts.get(status, 0) + 1
        return counts

    def _dispatch_one(self, notification_id: int, now: datetime) -> str:
        try:
            with session_scope(self.engine) as session:
                notification = _claim(session, notification_id)
                if notification is None:
                    return "skipped"  # another scheduler has it, or already sent it
                return send_notification(session, notification, now, self.policy)
        except Exception as error:  # any failure is recorded on the row and retried later
            # No traceback: exception texts can carry the phone or name; the row keeps the error.
            logger.warning(
                "notification %s failed: %s",
                notification_id,
                mask_text(f"{type(error).__name__}: {error}"),
            )
            with session_scope(self.engine) as session:
                return _record_failure(session, notification_id, error, now)

    def answer_reminder(
        self, agenda: GestaoDSClient, phone: str, confirmed: bool
    ) -> ReminderAnswer:
        """ "sim" confirms the appointment in GestãoDS; "não" closes the question.

        GestãoDS errors propagate (the question stays open, so the patient can answer again).
        """
        now = self.clock()
        with session_scope(self.engine) as session:
            pending = pending_reply(session, phone, now)
        if pending is None or pending.kind != "reminder":
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
        return ReminderAnswer("confirmed" if confirmed else "declined", pending.starts_at)


def _claim(session: Session, notification_id: int) -> Notification | None:
    """Lock a pending row for this transaction, or None when another worker has it."""
    pending = (Notification.id == notification_id, Notification.status == "pending")
    if session.get_bind().dialect.name == "postgresql":
        return session.execute(
            select(Notification).where(*pending).with_for_update(skip_locked=True)
        ).scalar_one_or_none()
    # SQLite: the first write takes the database's write lock until commit; the guard makes a
    # second worker that was waiting for it find the row already sent.
    claimed = session.execute(
        update(Notification)
        .where(*pending)
        .values(attempts=Notification.attempts)
        .execution_options(synchronize_session=False)
    ).rowcount
    return session.get(Notification, notification_id) if claimed else None


def _record_failure(session: Session, notification_id: int, error: Exception, now: datetime) -> str:
    notification = session.execute(
        select(Notification).where(
            Notification.id == notification_id, Notification.status == "pending"
        )
    ).scalar_one_or_none()
    if notification is None:
        return "skipped"
    notification.attempts += 1
    notification.last_error = mask_text(f"{type(error).__name__}: {error}")[:1000]
    notification.updated_at = now
    if notification.attempts >= MAX_ATTEMPTS:
        notification.status = "failed"
    else:
        notification.scheduled_for = now + RETRY_DELAY * notification.attempts
    return notification.status
