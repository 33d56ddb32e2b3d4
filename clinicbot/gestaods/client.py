"""The GestãoDS v1 client: one method per endpoint of ``third_party_apis.md`` §1.2.

Synchronous on purpose: the action server calls it from its own worker. Keep one client per
process (``GestaoDSClient.from_settings()`` once, at import or first use) so the circuit breaker
and the availability cache see every call.

Environment: ``prefix`` is ``/api/`` (production data) or ``/api/dev-`` (sandbox data); listagem
has no ``dev-`` variant and always uses ``/api/``. Unlike one public client, a failing ``dev-``
call is never retried on the production path (that would write test bookings into a real agenda).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pybreaker
import requests

from clinicbot.gestaods import parsing
from clinicbot.gestaods.cache import TTLCache
from clinicbot.gestaods.dates import format_date, format_datetime, to_local
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
from clinicbot.gestaods.redis_cache import RedisTTLCache, agenda_namespace
from clinicbot.gestaods.transport import ApiResponse, Transport
from clinicbot.pii import mask_cpf
from clinicbot.ptbr.cpf import CPF_LENGTH, cpf_digits
from clinicbot.settings import Settings, get_settings

logger = logging.getLogger("clinicbot.gestaods")

DEFAULT_TZ = ZoneInfo("America/Sao_Paulo")
# Slot length when horarios-disponiveis omits tempo_intervalo and the times do not tell.
DEFAULT_SLOT_MINUTES = 30


def normalize_cpf(cpf: str) -> str:
    """Digits only; raises :class:`ValidationError` unless exactly 11 remain."""
    digits = cpf_digits(cpf or "")
    if len(digits) != CPF_LENGTH:
        detail = [{"loc": ["cpf"], "msg": "CPF must have 11 digits", "type": "value_error"}]
        raise ValidationError("CPF must have 11 digits", detail=detail, status=None)
    return digits


def _validation_error(response: ApiResponse) -> ValidationError:
    detail = parsing.validation_detail(response.body)
    if isinstance(detail, list):
        parts = [
            f"{'.'.join(str(loc) for loc in item.get('loc', []))}: {item.get('msg')}"
            for item in detail
            if isinstance(item, dict)
        ]
        message = "; ".join(parts) or "validation error"
    else:
        message = parsing.message_of(response.body) or "validation error"
    return ValidationError(message, detail=detail, status=response.status)


def _raise_for(response: ApiResponse) -> None:
    """Raise the generic error for a 4xx answer (callers map their specific cases first)."""
    if response.status < 400:
        return
    if parsing.says_invalid_token(response.status, response.body):
        raise InvalidToken(parsing.message_of(response.body) or "invalid token", response.status)
    if response.status == 422:
        raise _validation_error(response)
    message = parsing.message_of(response.body) or f"HTTP {response.status}"
    raise GestaoDSError(message, response.status)


# Availability changes whenever anyone books: cache it only briefly (Redis when configured).
AVAILABILITY_TTL_SECONDS = 30.0


class GestaoDSClient:
    """All GestãoDS v1 calls for one agenda token."""

    def __init__(
        self,
        base_url: str,
        token: str,
        prefix: str = "/api/",
        tz: ZoneInfo = DEFAULT_TZ,
        timeout: float = 10.0,
        session: requests.Session | None = None,
        on_call: Callable[[ApiCallRecord], None] | None = None,
        *,
        retry_attempts: int = 3,
        retry_wait: float = 1.0,
        breaker_fail_max: int = 5,
        breaker_reset_timeout: float = 30.0,
        cache_ttl: float = 30.0,
        cache: TTLCache | RedisTTLCache | None = None,
    ) -> None:
        self._token = token
        self._prefix = prefix
        self.tz = tz
        self.breaker = pybreaker.CircuitBreaker(
            fail_max=breaker_fail_max, reset_timeout=breaker_reset_timeout, name="gestaods"
        )
        self._http = Transport(
            base_url,
            token,
            timeout=timeout,
            session=session,
            on_call=on_call,
            retry_attempts=retry_attempts,
            retry_wait=retry_wait,
            breaker=self.breaker,
        )
        self._cache = cache if cache is not None else TTLCache(cache_ttl)
        self._slot_minutes: dict[date, int] = {}

    @classmethod
    def from_settings(
        cls,
        settings: Settings | None = None,
        on_call: Callable[[ApiCallRecord], None] | None = None,
    ) -> GestaoDSClient:
        settings = settings or get_settings()
        shared_cache = (
            RedisTTLCache.from_url(
                settings.redis_url,
                AVAILABILITY_TTL_SECONDS,
                agenda_namespace(
                    settings.gestaods_base_url, settings.gestaods_prefix, settings.gestaods_token
                ),
            )
            if settings.redis_url
            else None
        )
        return cls(
            base_url=settings.gestaods_base_url,
            token=settings.gestaods_token,
            prefix=settings.gestaods_prefix,
            tz=settings.clinic_tz,
            timeout=settings.gestaods_timeout_seconds,
            on_call=on_call,
            cache_ttl=AVAILABILITY_TTL_SECONDS,
            cache=shared_cache,
        )

    # -- patients ---------------------------------------------------------------------------

    def find_patient(self, cpf: str) -> Patient | None:
        """The patient with this CPF, or ``None`` (404, or a 200/400 body saying not found)."""
        digits = normalize_cpf(cpf)
        response = self._request(
            "find_patient",
            "GET",
            self._path(f"paciente/{self._token}/{digits}/"),
            cpf=digits,
            retry=True,
        )
        if parsing.says_invalid_token(response.status, response.body):
            _raise_for(response)
        if parsing.says_not_found(response.status, response.body):
            return None
        _raise_for(response)
        return parsing.parse_patient(response.body)

    def register_patient(
        self,
        *,
        name: str,
        cpf: str,
        email: str,
        phone: str | None = None,
        birth_date: date | None = None,
    ) -> Patient:
        """Register a patient; an already registered CPF returns the existing patient.

        Not retried; after a transport failure the CPF is looked up, so calling it again is safe.
        """
        digits = normalize_cpf(cpf)
        body: dict[str, Any] = {
            "nome_completo": name.strip(),
            "cpf": digits,
            "email": email.strip(),
            "token": self._token,
        }
        if phone:
            body["celular"] = "".join(char for char in phone if char.isdigit())
        if birth_date:
            body["nascimento"] = format_date(birth_date)
        try:
            response = self._request(
                "register_patient",
                "POST",
                self._path("paciente/cadastrar/"),
                json=body,
                cpf=digits,
            )
        except CircuitOpen:
            raise
        except GestaoDSUnavailable:
            existing = self.find_patient(digits)
            if existing is None:
                raise
            return existing
        if response.status >= 400 and parsing.says_already_registered(
            response.status, response.body
        ):
            existing = self.find_patient(digits)
            if existing is not None:
                return existing
        _raise_for(response)
        created = parsing.parse_patient(response.body)
        return Patient(
            cpf=digits,
            name=name.strip(),
            id=created.id if created else None,
            email=email.strip(),
            phone=body.get("celular"),
            birth_date=birth_date,
        )

    # -- availability -----------------------------------------------------------------------

    def available_days(self, start: date | None = None) -> list[date]:
        """Days with at least one free slot (``disponivel`` true), ~30 days from ``start``/today."""
        key = ("days", start)
        cached = self._cache.get(key)
        if cached is not None:
            return list(cached)
        response = self._request(
            "available_days",
            "GET",
            self._path(f"agendamento/dias-disponiveis/{self._token}"),
            params={"data": format_date(start)} if start else None,
            retry=True,
        )
        _raise_for(response)
        days = parsing.parse_available_days(response.body)
        self._cache.set(key, tuple(days))
        return days

    def available_times(self, day: date) -> list[datetime]:
        """Free slot starts of ``day`` as aware datetimes in the clinic time zone, sorted."""
        cached = self._cache.get(("times", day))
        if cached is not None:
            return list(cached)
        return self._fetch_times(day)

    def slot_minutes(self, day: date) -> int:
        """Slot length (``tempo_intervalo``) of ``day``; asks the API once per day."""
        if day not in self._slot_minutes:
            self._fetch_times(day)
        return self._slot_minutes.get(day, DEFAULT_SLOT_MINUTES)

    # -- appointments -----------------------------------------------------------------------

    def book(self, *, cpf: str, starts_at: datetime, first_visit: bool = False) -> Appointment:
        """Book the slot starting at ``starts_at`` (aware, or naive clinic wall clock).

        Never re-sent: after a timeout, a dropped connection or a 5xx the patient's appointments
        are searched for this slot, and the match is returned; otherwise
        :class:`BookingOutcomeUnknown` (GestãoDS may still commit it). A request that surely
        never reached the API raises :class:`GestaoDSUnavailable` (nothing was booked). A taken
        slot raises :class:`SlotUnavailable`, unless the patient already holds it (a repeated
        request).
        """
        digits = normalize_cpf(cpf)
        start = to_local(starts_at, self.tz)
        end = start + timedelta(minutes=self.slot_minutes(start.date()))
        body = {
            "data_agendamento": format_datetime(start, self.tz),
            "data_fim_agendamento": format_datetime(end, self.tz),
            "cpf": digits,
            "token": self._token,
            "primeiro_atendimento": first_visit,
        }
        try:
            response = self._request(
                "book", "POST", self._path("agendamento/agendar/"), json=body, cpf=digits
            )
        except CircuitOpen:
            raise
        except GestaoDSUnavailable as exc:
            self._cache.clear()
            return self._recover_booking(digits, start, exc)
        self._cache.clear()
        if response.status >= 400:
            return self._resolve_booking_error(response, digits, start)
        appointment_id = parsing.parse_appointment_id(response.body, ignore=(self._token,))
        if appointment_id is None:  # booked, but the id key is unknown: read it back
            held = self._held_slot(digits, start)
            if held is None:
                raise GestaoDSError("booking answered without an appointment id", response.status)
            return held
        return Appointment(id=appointment_id, starts_at=start, ends_at=end, patient_cpf=digits)

    def reschedule(self, appointment_id: str, starts_at: datetime) -> Appointment:
        """Move an appointment (``reagendar/``); the id is kept unless the answer carries a new one.

        After a transport failure the appointment is read back: if it already sits at the new
        time that is returned, otherwise the failure is raised (nothing moved, or unknown).
        """
        start = to_local(starts_at, self.tz)
        end = start + timedelta(minutes=self.slot_minutes(start.date()))
        body = {
            "data_agendamento": format_datetime(start, self.tz),
            "data_fim_agendamento": format_datetime(end, self.tz),
            "token": self._token,
            "agendamento": appointment_id,
        }
        try:
            response = self._request(
                "reschedule", "PUT", self._path("agendamento/reagendar/"), json=body
            )
        except CircuitOpen:
            raise
        except GestaoDSUnavailable:
            self._cache.clear()
            current = self.get_appointment(appointment_id)
            if current is not None and current.is_active and _same_minute(current.starts_at, start):
                return current
            raise
        self._cache.clear()
        if response.status >= 400:
            if parsing.says_not_found(response.status, response.body):
                raise AppointmentNotFound(parsing.message_of(response.body), response.status)
            if parsing.says_conflict(response.status, response.body):
                raise SlotUnavailable(parsing.message_of(response.body), response.status)
            _raise_for(response)
        new_id = parsing.parse_appointment_id(response.body, ignore=(self._token,))
        return Appointment(id=new_id or appointment_id, starts_at=start, ends_at=end)

    def cancel(self, appointment_id: str, reason: str) -> None:
        """Cancel with a reason (PUT ``paciente/agendamentos/`` with ``cancelado``)."""
        self._update_status(
            "cancel",
            {"agendamento": appointment_id, "cancelado": True, "motivo_cancelamento": reason},
        )

    def confirm(self, appointment_id: str) -> None:
        """Mark as confirmed by the patient (PUT ``paciente/agendamentos/`` with ``confirmado``)."""
        self._update_status("confirm", {"agendamento": appointment_id, "confirmado": True})

    def patient_appointments(self, cpf: str) -> list[Appointment]:
        """Every appointment of the patient (past, canceled included), sorted by start.

        A read sent as POST, so it is retried like the GETs. Unknown patient → ``[]``.
        """
        digits = normalize_cpf(cpf)
        response = self._request(
            "patient_appointments",
            "POST",
            self._path("paciente/agendamentos/"),
            json={"cpf": digits, "token": self._token},
            cpf=digits,
            retry=True,
        )
        if parsing.says_invalid_token(response.status, response.body):
            _raise_for(response)
        if parsing.says_not_found(response.status, response.body):
            return []
        _raise_for(response)
        appointments = parsing.parse_appointment_list(response.body, self.tz)
        return sorted(appointments, key=lambda appointment: appointment.starts_at)

    def get_appointment(self, appointment_id: str) -> Appointment | None:
        """One appointment by id (``retornar-agendamento/``), ``None`` when unknown."""
        response = self._request(
            "get_appointment",
            "GET",
            self._path("agendamento/retornar-agendamento/"),
            params={"token": self._token, "agendamento": appointment_id},
            retry=True,
        )
        if parsing.says_invalid_token(response.status, response.body):
            _raise_for(response)
        if parsing.says_not_found(response.status, response.body):
            return None
        _raise_for(response)
        return parsing.parse_single_appointment(response.body, self.tz, default_id=appointment_id)

    def list_appointments(self, start: date, end: date) -> list[Appointment]:
        """The agenda's appointments between two days, inclusive (listagem; always ``/api/``)."""
        response = self._request(
            "list_appointments",
            "GET",
            f"/api/dados-agendamento/listagem/{self._token}",
            params={"data_inicial": format_date(start), "data_final": format_date(end)},
            retry=True,
        )
        _raise_for(response)
        appointments = parsing.parse_appointment_list(response.body, self.tz)
        return sorted(appointments, key=lambda appointment: appointment.starts_at)

    # -- agenda ---------------------------------------------------------------------------

    def clinic_info(self) -> dict[str, Any]:
        """Doctor and clinic data of the agenda (``dados-agendamento/{token}/``)."""
        response = self._request(
            "clinic_info", "GET", self._path(f"dados-agendamento/{self._token}/"), retry=True
        )
        _raise_for(response)
        data = parsing.unwrap(response.body)
        return dict(data) if isinstance(data, dict) else {}

    def agenda_timezone(self) -> str:
        """The agenda's time zone label (informative only: requests never shift by it)."""
        response = self._request(
            "agenda_timezone",
            "GET",
            self._path(f"agendamento/retornar-fuso-horario/{self._token}"),
            retry=True,
        )
        _raise_for(response)
        data = parsing.unwrap(response.body)
        return data if isinstance(data, str) else ""

    # -- internals --------------------------------------------------------------------------

    def _path(self, resource: str) -> str:
        return f"{self._prefix}{resource}"

    def _request(self, operation: str, method: str, path: str, **kwargs: Any) -> ApiResponse:
        return self._http.request(operation, method, path, **kwargs)

    def _fetch_times(self, day: date) -> list[datetime]:
        response = self._request(
            "available_times",
            "GET",
            self._path(f"agendamento/horarios-disponiveis/{self._token}"),
            params={"data": format_date(day)},
            retry=True,
        )
        _raise_for(response)
        times, minutes = parsing.parse_available_times(response.body)
        starts = sorted(datetime.combine(day, moment, tzinfo=self.tz) for moment in times)
        self._slot_minutes[day] = minutes or _inferred_slot_minutes(starts)
        self._cache.set(("times", day), tuple(starts))
        return starts

    def _update_status(self, operation: str, fields: dict[str, Any]) -> None:
        response = self._request(
            operation,
            "PUT",
            self._path("paciente/agendamentos/"),
            json={"token": self._token, **fields},
        )
        self._cache.clear()
        if response.status >= 400 and parsing.says_not_found(response.status, response.body):
            raise AppointmentNotFound(parsing.message_of(response.body), response.status)
        _raise_for(response)

    def _resolve_booking_error(
        self, response: ApiResponse, cpf: str, start: datetime
    ) -> Appointment:
        """Raise the error of a refused booking, or return the slot if this patient holds it."""
        status, body = response.status, response.body
        if parsing.says_invalid_token(status, body) or status == 422:
            _raise_for(response)
        if parsing.says_not_found(status, body) and parsing.mentions(body, "pacient"):
            raise PatientNotFound(parsing.message_of(body), status)
        if parsing.says_conflict(status, body):
            held = self._held_slot_or_none(cpf, start)
            if held is not None:
                return held
            raise SlotUnavailable(parsing.message_of(body) or "slot unavailable", status)
        _raise_for(response)
        raise GestaoDSError(parsing.message_of(body) or f"HTTP {status}", status)

    def _recover_booking(
        self, cpf: str, start: datetime, failure: GestaoDSUnavailable
    ) -> Appointment:
        if not failure.reached_api:
            raise failure
        try:
            held = self._held_slot(cpf, start)
        except GestaoDSError as exc:
            raise BookingOutcomeUnknown(
                f"booking failed ({failure.message}) and the check failed ({exc.message})"
            ) from failure
        if held is None:
            raise BookingOutcomeUnknown(
                f"booking failed ({failure.message}) and is not in the agenda (yet)"
            ) from failure
        logger.info("gestaods book recovered appointment %s for cpf=%s", held.id, mask_cpf(cpf))
        return held

    def held_slot(self, cpf: str, starts_at: datetime) -> Appointment | None:
        """The patient's active appointment starting at ``starts_at``, if any (a booking whose
        answer was lost is looked for this way)."""
        return self._held_slot(normalize_cpf(cpf), to_local(starts_at, self.tz))

    def _held_slot(self, cpf: str, start: datetime) -> Appointment | None:
        """The patient's active appointment starting at ``start``, if any."""
        for appointment in self.patient_appointments(cpf):
            if appointment.is_active and _same_minute(appointment.starts_at, start):
                return appointment
        return None

    def _held_slot_or_none(self, cpf: str, start: datetime) -> Appointment | None:
        try:
            return self._held_slot(cpf, start)
        except GestaoDSError:
            return None


def _same_minute(left: datetime, right: datetime) -> bool:
    return left.replace(second=0, microsecond=0) == right.replace(second=0, microsecond=0)


def _inferred_slot_minutes(starts: list[datetime]) -> int:
    gaps = [int((later - earlier).total_seconds() // 60) for earlier, later in pairwise(starts)]
    positive = [gap for gap in gaps if gap > 0]
    return min(positive) if positive else DEFAULT_SLOT_MINUTES
