"""The scheduler's job for uncertain bookings: look for them in the agenda, tell the patient.

An attempt (:mod:`.booking_attempts`) that is ``uncertain``, or still ``posting`` past its grace
(its process died), is checked every ``BOOKING_CHECK_INTERVAL_SECONDS`` until
``BOOKING_CHECK_WINDOW_SECONDS`` after the agenda failed to answer:

- found (the patient holds that slot): the appointment is stored as a normal booking stores it
  (reminders scheduled) and the patient is told it is confirmed;
- not found when the window ends: the patient is told it did not go through and may try again;
- the agenda could not be read at the last check: the patient is told the clinic will verify,
  and an error is logged for the staff.

The check itself runs outside any transaction (the agenda can be slow); an attempt is taken by
moving its ``next_check_at`` with a guarded UPDATE, so two schedulers never check it at once,
and its outcome is recorded, with the message to the patient, in one transaction guarded by its
status: the patient hears once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from clinicbot.clock import Clock
from clinicbot.db.engine import session_scope
from clinicbot.db.models import OPEN_BOOKING_ATTEMPT, BookingAttempt, Conversation
from clinicbot.db.types import utcnow
from clinicbot.gestaods.client import GestaoDSClient
from clinicbot.gestaods.errors import GestaoDSError
from clinicbot.gestaods.models import Appointment
from clinicbot.messages.rendering import render
from clinicbot.pii import mask_phone
from clinicbot.ptbr.formatting import clock, long_day
from clinicbot.services import templates
from clinicbot.services.booking import store_appointment
from clinicbot.services.booking_attempts import close
from clinicbot.settings import Settings
from clinicbot.whatsapp.outbox import enqueue_text

logger = logging.getLogger(__name__)

BATCH = 100


@dataclass
class BookingChecker:
    """Checks the due attempts against ``agenda``."""

    agenda: GestaoDSClient
    interval: timedelta
    engine: Engine | None = None
    clock: Clock = utcnow

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        agenda: GestaoDSClient,
        engine: Engine | None = None,
        clock: Clock = utcnow,
    ) -> BookingChecker:
        interval = timedelta(seconds=settings.booking_check_interval_seconds)
        return cls(agenda=agenda, interval=interval, engine=engine, clock=clock)

    def check_due(self, limit: int = BATCH) -> dict[str, int]:
        """Check every due open attempt once; counts per outcome (``waiting`` for still open)."""
        now = self.clock()
        with session_scope(self.engine) as session:
            due = (
                session.execute(
                    select(BookingAttempt.id)
                    .where(
                        BookingAttempt.status.in_(OPEN_BOOKING_ATTEMPT),
                        BookingAttempt.next_check_at <= now,
                    )
                    .order_by(BookingAttempt.next_check_at)
                    .limit(limit)
                )
                .scalars()
                .all()
            )
        counts: dict[str, int] = {}
        for attempt_id in due:
            outcome = self._check(attempt_id, now)
            counts[outcome] = counts.get(outcome, 0) + 1
        return counts

    def _check(self, attempt_id: int, now: datetime) -> str:
        attempt = self._take(attempt_id, now)
        if attempt is None:
            return "skipped"  # another scheduler took it
        last_check = now >= attempt["check_until"]
        try:
            held = self.agenda.held_slot(attempt["cpf"], attempt["starts_at"])
        except GestaoDSError as error:
            logger.warning("booking attempt %s: agenda unreadable: %s", attempt_id, error)
            return self._resolve(attempt, "unresolved", None) if last_check else "waiting"
        if held is not None:
            return self._resolve(attempt, "booked", held)
        return self._resolve(attempt, "missing", None) if last_check else "waiting"

    def _take(self, attempt_id: int, now: datetime) -> dict[str, Any] | None:
        """Claim one check of the attempt (its next one moves an interval on); its fields."""
        with session_scope(self.engine) as session:
            taken = session.execute(
                update(BookingAttempt)
                .where(
                    BookingAttempt.id == attempt_id,
                    BookingAttempt.status.in_(OPEN_BOOKING_ATTEMPT),
                    BookingAttempt.next_check_at <= now,
                )
                .values(
                    next_check_at=now + self.interval,
                    checks=BookingAttempt.checks + 1,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            ).rowcount
            if taken != 1:
                return None
            row = session.execute(
                select(BookingAttempt).where(BookingAttempt.id == attempt_id)
            ).scalar_one()
            return {
                "id": row.id,
                "phone": row.phone,
                "cpf": row.cpf,
                "patient_name": row.patient_name,
                "starts_at": row.starts_at,
                "first_visit": bool(row.first_visit),
                "check_until": row.check_until,
            }

    def _resolve(self, attempt: dict[str, Any], outcome: str, held: Appointment | None) -> str:
        """Record the outcome and queue its message in one transaction (once per attempt)."""
        with session_scope(self.engine) as session:
            appointment_id = None
            if held is not None:
                stored = store_appointment(
                    session,
                    held,
                    phone=attempt["phone"],
                    cpf=attempt["cpf"],
                    patient_name=attempt["patient_name"],
                    first_visit=attempt["first_visit"],
                )
                appointment_id = stored.id
            if not close(session, attempt["id"], outcome, appointment_id=appointment_id):
                session.rollback()
                return "skipped"
            self._tell(session, attempt, outcome)
        log = logger.error if outcome == "unresolved" else logger.info
        log(
            "booking attempt %s for %s: %s",
            attempt["id"],
            mask_phone(attempt["phone"]),
            outcome if outcome != "unresolved" else "unresolved, staff must check the agenda",
        )
        return outcome

    def _tell(self, session: Session, attempt: dict[str, Any], outcome: str) -> None:
        key = {
            "booked": templates.BOOKING_CONFIRMED,
            "missing": templates.BOOKING_NOT_MADE,
            "unresolved": templates.BOOKING_UNRESOLVED,
        }[outcome]
        local = attempt["starts_at"].astimezone(self.agenda.tz)
        values = {"dia": long_day(local.date()), "hora": clock(local)}
        text = render(session, key, values, phone=attempt["phone"]).text
        enqueue_text(
            session,
            attempt["phone"],
            text,
            channel=_channel_of(session, attempt["phone"]),
            dedupe_key=f"booking-attempt:{attempt['id']}",
        )


def _channel_of(session: Session, phone: str) -> str:
    """The channel the patient last wrote on (Z-API when unknown)."""
    channel = session.execute(
        select(Conversation.channel)
        .where(Conversation.phone == phone)
        .order_by(Conversation.id.desc())
        .limit(1)
    ).scalar()
    return str(channel) if channel else "zapi"
