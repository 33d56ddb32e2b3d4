"""Value objects returned by the GestãoDS client."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

# Appointment.status values (mapping from the API's booleans in parsing.appointment_status).
SCHEDULED = "scheduled"
CONFIRMED = "confirmed"
CANCELED = "canceled"
NO_SHOW = "no_show"
COMPLETED = "completed"


@dataclass(frozen=True)
class Patient:
    """A patient registered in the agenda."""

    cpf: str
    name: str
    id: str | None = None
    email: str | None = None
    phone: str | None = None
    birth_date: date | None = None

    def __repr__(self) -> str:  # keep personal data out of accidental logs
        return f"Patient(id={self.id!r})"


@dataclass(frozen=True)
class Appointment:
    """One appointment; ``starts_at``/``ends_at`` are aware datetimes in the clinic time zone."""

    id: str
    starts_at: datetime
    ends_at: datetime | None = None
    status: str = SCHEDULED
    professional: str | None = None
    procedure: str | None = None
    patient_name: str | None = field(default=None, repr=False)
    patient_cpf: str | None = field(default=None, repr=False)

    @property
    def is_active(self) -> bool:
        """Still holds its slot (scheduled or confirmed)."""
        return self.status in (SCHEDULED, CONFIRMED)


@dataclass(frozen=True)
class ApiCallRecord:
    """One HTTP attempt, with personal data already masked (feeds ``api_call_logs``)."""

    operation: str
    method: str
    path: str
    status: int | None
    latency_ms: float
    started_at: datetime
    error: str | None = None
    cpf_masked: str | None = None
    attempt: int = 1
    service: str = "gestaods"
