"""Booking an appointment: the options to offer, and the booking itself (GestãoDS + local copy)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from clinicbot.db.engine import session_scope
from clinicbot.db.models import Appointment as StoredAppointment
from clinicbot.db.types import utcnow
from clinicbot.gestaods.client import GestaoDSClient
from clinicbot.gestaods.errors import (
    BookingOutcomeUnknown,
    GestaoDSError,
    GestaoDSUnavailable,
    SlotUnavailable,
)
from clinicbot.gestaods.models import Appointment, Patient
from clinicbot.integrations.events import emit_event
from clinicbot.pii import mask_cpf, mask_phone
from clinicbot.ptbr.formatting import clock, day_and_time, short_day
from clinicbot.services.booking_attempts import (
    BookingBeingConfirmed,
    mark_refused,
    mark_uncertain,
    open_attempt,
)
from clinicbot.services.booking_attempts import close as close_attempt
from clinicbot.services.choices import Option
from clinicbot.services.notifications.scheduling import (
    cancel_for_appointment,
    schedule_for_appointment,
)
from clinicbot.services.time_windows import in_window
from clinicbot.services.waiting_list import Slot, WaitingListService
from clinicbot.settings import get_settings
from clinicbot.tenancy.current import current_settings

logger = logging.getLogger(__name__)

DAYS_OFFERED = 6
TIMES_OFFERED = 8
RESCHEDULED_REASON = "Remarcada pelo paciente via WhatsApp"


@dataclass
class BookingService:
    """What the booking conversation needs from the agenda and the database.

    Booking schedules the appointment's reminders; a cancellation or a reschedule drops them and
    hands the freed slot to ``waiting_list``. Each change emits its CRM event
    (:mod:`clinicbot.integrations.events`) in the transaction of the local copy; ``source``
    says who made it (``whatsapp``: the bot, ``api``: the public API).
    """

    agenda: GestaoDSClient
    waiting_list: WaitingListService | None = None
    engine: Engine | None = None  # the database of the local copy (None: DATABASE_URL's)
    # A slot starting sooner than this is not offered: the patient could not make it, and the
    # agenda refuses a slot that has started before the patient finishes confirming it.
    min_lead: timedelta = field(
        default_factory=lambda: timedelta(minutes=get_settings().booking_min_lead_minutes)
    )

    def day_options(
        self,
        start: date | None = None,
        limit: int = DAYS_OFFERED,
        *,
        until: date | None = None,
        period: str | None = None,
    ) -> list[Option]:
        """The next days with bookable slots (up to ``until``, with one in ``period`` when
        given: a ``periodo`` value, see ``clinic.yml``'s ``time_windows``), as options."""
        days: list[date] = []
        for day in self.agenda.available_days(start):
            if len(days) == limit:
                break
            if until is not None and day > until:
                continue
            bookable = (
                bool(self.time_options(day, period, limit=1))
                if period
                else self._has_bookable_time(day)
            )
            if bookable:
                days.append(day)
        return [{"value": day.isoformat(), "label": short_day(day)} for day in days]

    def is_available_day(self, day: date) -> bool:
        return day in self.agenda.available_days(day) and self._has_bookable_time(day)

    def bookable_times(self, day: date) -> list[datetime]:
        """The free start times of ``day`` that are at least ``min_lead`` away."""
        earliest = utcnow() + self.min_lead
        return [moment for moment in self.agenda.available_times(day) if moment >= earliest]

    def _has_bookable_time(self, day: date) -> bool:
        """Only the day ``min_lead`` from now falls in (or an earlier one) needs its times read."""
        earliest = (utcnow() + self.min_lead).astimezone(current_settings().clinic_tz)
        return day > earliest.date() or bool(self.bookable_times(day))

    def time_options(
        self, day: date, period: str | None = None, limit: int = TIMES_OFFERED
    ) -> list[Option]:
        """The bookable start times of ``day`` (within ``period`` when given), as options."""
        times = [moment for moment in self.bookable_times(day) if in_window(moment, period)]
        return [{"value": moment.isoformat(), "label": clock(moment)} for moment in times[:limit]]

    def upcoming_appointments(self, cpf: str) -> list[Appointment]:
        """The patient's appointments that still hold a slot and have not started."""
        now = utcnow()
        return [
            appointment
            for appointment in self.agenda.patient_appointments(cpf)
            if appointment.is_active and appointment.starts_at > now
        ]

    @staticmethod
    def appointment_options(appointments: list[Appointment]) -> list[Option]:
        return [
            {
                "value": appointment.id,
                "label": day_and_time(appointment.starts_at)
                + (f" ({appointment.professional})" if appointment.professional else ""),
                "starts_at": appointment.starts_at.isoformat(),
            }
            for appointment in appointments
        ]

    def find_patient(self, cpf: str) -> Patient | None:
        return self.agenda.find_patient(cpf)

    def register_patient(
        self,
        *,
        cpf: str,
        name: str,
        email: str,
        phone: str,
        birth_date: date | None,
        source: str = "whatsapp",
    ) -> Patient:
        patient = self.agenda.register_patient(
            name=name, cpf=cpf, email=email, phone=phone, birth_date=birth_date
        )
        with session_scope(self.engine) as session:
            emit_event(
                session,
                "patient.registered",
                {
                    "phone": phone,
                    "cpf": cpf,
                    "name": name,
                    "email": email or None,
                    "birth_date": birth_date,
                    "source": source,
                },
            )
        return patient

    def book(
        self,
        *,
        phone: str,
        cpf: str,
        starts_at: datetime,
        patient_name: str | None,
        first_visit: bool = False,
        source: str = "whatsapp",
    ) -> Appointment:
        """Book in GestãoDS, then keep a local copy (reminders and metrics read it).

        The attempt is recorded first (:mod:`.booking_attempts`). Raises the client's
        ``SlotUnavailable`` when the slot was taken meanwhile; ``BookingInProgress`` (nothing
        sent) while an earlier booking of ``phone`` is being confirmed; and
        ``BookingBeingConfirmed`` when the agenda did not tell whether it booked: the patient
        is told the outcome later (:mod:`.booking_checks`).
        """
        attempt = open_attempt(
            phone=phone,
            cpf=cpf,
            starts_at=starts_at,
            patient_name=patient_name,
            first_visit=first_visit,
            engine=self.engine,
        )
        try:
            appointment = self.agenda.book(cpf=cpf, starts_at=starts_at, first_visit=first_visit)
        except BookingOutcomeUnknown as unknown:
            mark_uncertain(attempt, engine=self.engine)
            logger.warning(
                "booking for phone %s unconfirmed, checking the agenda: %s",
                mask_phone(phone),
                unknown.message,
            )
            raise BookingBeingConfirmed(phone) from unknown
        except BaseException:
            mark_refused(attempt, engine=self.engine)
            raise
        with session_scope(self.engine) as session:
            stored = store_appointment(
                session,
                appointment,
                phone=phone,
                cpf=cpf,
                patient_name=patient_name,
                first_visit=first_visit,
            )
            emit_event(session, "appointment.booked", _appointment_data(stored, source))
            close_attempt(session, attempt, "booked", appointment_id=stored.id)
        logger.info(
            "booked %s for cpf %s phone %s", appointment.id, mask_cpf(cpf), mask_phone(phone)
        )
        return appointment

    def reschedule(
        self,
        *,
        phone: str,
        cpf: str,
        appointment_id: str,
        starts_at: datetime,
        source: str = "whatsapp",
    ) -> Appointment:
        """Move an appointment with the API's reschedule call.

        Only when that call itself is refused does it fall back to booking the new slot first and
        then cancelling the old one, undoing the new booking if the cancellation fails: the
        patient never ends up with zero or two appointments.
        """
        freed = self._slot_of(appointment_id)
        try:
            moved = self.agenda.reschedule(appointment_id, starts_at)
        except (SlotUnavailable, GestaoDSUnavailable):
            raise
        except GestaoDSError:
            logger.warning("reschedule refused for %s; booking then cancelling", appointment_id)
            moved = self.agenda.book(cpf=cpf, starts_at=starts_at)
            try:
                self.agenda.cancel(appointment_id, RESCHEDULED_REASON)
            except GestaoDSError:
                self.agenda.cancel(moved.id, RESCHEDULED_REASON)
                raise
            self._mark_local(appointment_id, "rescheduled", RESCHEDULED_REASON)
        with session_scope(self.engine) as session:
            stored = store_appointment(
                session,
                moved,
                phone=phone,
                cpf=cpf,
                patient_name=None,
                first_visit=False,
                keep_name=True,
            )
            data = _appointment_data(stored, source)
            data["previous_appointment_id"] = appointment_id
            data["previous_starts_at"] = freed.starts_at if freed is not None else None
            emit_event(session, "appointment.rescheduled", data)
        self._offer_to_waiting_list(freed)
        return moved

    def cancel(self, *, appointment_id: str, reason: str, source: str = "whatsapp") -> None:
        """Cancel in GestãoDS and locally; the freed slot is then offered to the waiting list."""
        freed = self._slot_of(appointment_id)
        self.agenda.cancel(appointment_id, reason)
        self._mark_local(appointment_id, "canceled", reason, source=source, freed=freed)
        self._offer_to_waiting_list(freed)

    def _slot_of(self, appointment_id: str) -> Slot | None:
        """The slot an appointment holds, read before it is freed."""
        try:
            appointment = self.agenda.get_appointment(appointment_id)
        except GestaoDSError:
            logger.warning("could not read appointment %s before freeing it", appointment_id)
            return None
        if appointment is None:
            return None
        return Slot(appointment.starts_at, appointment.ends_at, appointment.professional)

    def _offer_to_waiting_list(self, slot: Slot | None) -> None:
        """Best effort: the scheduled availability poll finds any slot this misses."""
        if slot is None or self.waiting_list is None:
            return
        try:
            self.waiting_list.offer_freed_slot(slot)
        except Exception:
            logger.exception("could not offer a freed slot to the waiting list")

    def _mark_local(
        self,
        appointment_id: str,
        status: str,
        reason: str,
        *,
        source: str | None = None,
        freed: Slot | None = None,
    ) -> None:
        """Mark the local copy; with a ``source``, emit ``appointment.cancelled`` too."""
        with session_scope(self.engine) as session:
            stored = session.execute(
                select(StoredAppointment).where(StoredAppointment.gestaods_id == appointment_id)
            ).scalar_one_or_none()
            if stored is not None:
                stored.status = status
                stored.cancel_reason = reason
                cancel_for_appointment(session, stored)
            if source is not None:
                emit_event(
                    session,
                    "appointment.cancelled",
                    {
                        "appointment_id": appointment_id,
                        "phone": stored.phone if stored is not None else None,
                        "cpf": stored.cpf if stored is not None else None,
                        "starts_at": freed.starts_at if freed is not None else None,
                        "reason": reason,
                        "source": source,
                    },
                )


def _appointment_data(stored: StoredAppointment, source: str) -> dict[str, object]:
    """The ``data`` of an appointment event, from the local copy."""
    return {
        "appointment_id": stored.gestaods_id,
        "phone": stored.phone,
        "cpf": stored.cpf,
        "patient_name": stored.patient_name,
        "starts_at": stored.starts_at,
        "ends_at": stored.ends_at,
        "professional": stored.professional,
        "source": source,
    }


def store_appointment(
    session: Session,
    appointment: Appointment,
    *,
    phone: str,
    cpf: str,
    patient_name: str | None,
    first_visit: bool,
    keep_name: bool = False,
) -> StoredAppointment:
    """Insert or refresh the local row of a booked appointment and schedule its reminders, in
    the caller's transaction: a retried booking returns the same GestãoDS id."""
    ends_at = appointment.ends_at or appointment.starts_at
    stored = session.execute(
        select(StoredAppointment).where(StoredAppointment.gestaods_id == appointment.id)
    ).scalar_one_or_none()
    if stored is None:
        stored = StoredAppointment(gestaods_id=appointment.id)
        session.add(stored)
    previous_start = stored.starts_at
    stored.phone = phone
    stored.cpf = cpf
    if not keep_name or stored.patient_name is None:
        stored.patient_name = patient_name
    stored.starts_at = appointment.starts_at.astimezone(timezone.utc)
    stored.ends_at = ends_at.astimezone(timezone.utc)
    stored.status = "scheduled"
    stored.first_visit = bool(stored.first_visit) if keep_name else first_visit
    stored.professional = appointment.professional
    if previous_start is not None and previous_start != stored.starts_at:
        cancel_for_appointment(session, stored)  # the reminders of the old time
    schedule_for_appointment(session, stored)
    session.flush()
    return stored
