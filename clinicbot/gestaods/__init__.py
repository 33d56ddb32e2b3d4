"""GestãoDS v1 client (agenda, patients, appointments) used by the action server.

See ``third_party_apis.md`` §1 for the API and :mod:`clinicbot.gestaods.client` for the policy
on retries, the circuit breaker and bookings after a timeout.
"""

from clinicbot.gestaods.client import GestaoDSClient, normalize_cpf
from clinicbot.gestaods.errors import (
    AppointmentNotFound,
    BookingOutcomeUnknown,
    CircuitOpen,
    GestaoDSError,
    GestaoDSUnavailable,
    InvalidToken,
    PatientNotFound,
    SlotUnavailable,
    ValidationError,
)
from clinicbot.gestaods.models import ApiCallRecord, Appointment, Patient

__all__ = [
    "ApiCallRecord",
    "Appointment",
    "AppointmentNotFound",
    "BookingOutcomeUnknown",
    "CircuitOpen",
    "GestaoDSClient",
    "GestaoDSError",
    "GestaoDSUnavailable",
    "InvalidToken",
    "Patient",
    "PatientNotFound",
    "SlotUnavailable",
    "ValidationError",
    "normalize_cpf",
]
