"""Booking an appointment: the options to offer, and the booking itself (GestãoDS + local copy)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timezone

from sqlalchemy import select

from clinicbot.db.engine import session_scope
from clinicbot.db.models import Appointment as StoredAppointment
from clinicbot.gestaods.client import GestaoDSClient
from clinicbot.gestaods.models import Appointment, Patient
from clinicbot.pii import mask_cpf, mask_phone
from clinicbot.services.choices import Option
from clinicbot.services.ptbr import clock, short_day

logger = logging.getLogger(__name__)

DAYS_OFFERED = 6
TIMES_OFFERED = 8


@dataclass
class BookingService:
    """What the booking conversation needs from the agenda and the database."""

    agenda: GestaoDSClient

    def day_options(self, start: date | None = None, limit: int = DAYS_OFFERED) -> list[Option]:
        """The next days with free slots, as numbered-list options."""
        days = self.agenda.available_days(start)[:limit]
        return [{"value": day.isoformat(), "label": short_day(day)} for day in days]

    def time_options(self, day: date, limit: int = TIMES_OFFERED) -> list[Option]:
        """The free start times of ``day``, as numbered-list options."""
        times = self.agenda.available_times(day)[:limit]
        return [{"value": moment.isoformat(), "label": clock(moment)} for moment in times]

    def find_patient(self, cpf: str) -> Patient | None:
        return self.agenda.find_patient(cpf)

    def register_patient(self, *, cpf: str, name: str, email: str, phone: str) -> Patient:
        return self.agenda.register_patient(name=name, cpf=cpf, email=email, phone=phone)

    def book(
        self,
        *,
        phone: str,
        cpf: str,
        starts_at: datetime,
        patient_name: str | None,
        first_visit: bool = False,
    ) -> Appointment:
        """Book in GestãoDS, then keep a local copy (reminders and metrics read it).

        Raises the client's ``SlotUnavailable`` when the slot was taken meanwhile.
        """
        appointment = self.agenda.book(cpf=cpf, starts_at=starts_at, first_visit=first_visit)
        self._keep_local_copy(
            appointment, phone=phone, cpf=cpf, patient_name=patient_name, first_visit=first_visit
        )
        logger.info(
            "booked %s for cpf %s phone %s", appointment.id, mask_cpf(cpf), mask_phone(phone)
        )
        return appointment

    @staticmethod
    def _keep_local_copy(
        appointment: Appointment,
        *,
        phone: str,
        cpf: str,
        patient_name: str | None,
        first_visit: bool,
    ) -> None:
        """Insert or refresh the local row: a retried booking returns the same GestãoDS id."""
        ends_at = appointment.ends_at or appointment.starts_at
        with session_scope() as session:
            stored = session.execute(
                select(StoredAppointment).where(StoredAppointment.gestaods_id == appointment.id)
            ).scalar_one_or_none()
            if stored is None:
                stored = StoredAppointment(gestaods_id=appointment.id)
                session.add(stored)
            stored.phone = phone
            stored.cpf = cpf
            stored.patient_name = patient_name
            stored.starts_at = appointment.starts_at.astimezone(timezone.utc)
            stored.ends_at = ends_at.astimezone(timezone.utc)
            stored.appointment_date = appointment.starts_at.date()
            stored.status = "scheduled"
            stored.first_visit = first_visit
            stored.professional = appointment.professional
