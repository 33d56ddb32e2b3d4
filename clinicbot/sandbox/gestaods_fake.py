"""A local fake of the GestãoDS v1 API (``third_party_apis.md`` §1), for ``make run`` and tests.

Same paths (verbatim, trailing slashes significant, ``/api/`` and ``/api/dev-``; listagem only
under ``/api/``), payloads and errors as the reference. Where the reference leaves a question
open, the fake picks one answer and the client tolerates the others:

* patient found → 200 ``{"data": {id, nome_completo, cpf, email, celular, nascimento}}``;
  unknown CPF → 400 ``{"message": "Paciente não encontrado", "status": 400}``;
* agendar → 201 ``{"data": {"agendamento": "<id>"}, "status": 201}``;
* a taken, off-agenda or past slot (agendar, reagendar) → 400
  ``{"message": "Horário indisponível", "status": 400}``;
* unknown appointment id → 404 ``{"message": "Agendamento não encontrado", "status": 404}``;
* duplicate CPF on cadastrar → 400 ``{"message": "Paciente já cadastrado", "status": 400}``;
* invalid token → 400 ``{"message": "Informe um token valido!", "status": 400}``;
* bad input → 422 with FastAPI/pydantic-v1 ``{"detail": [{loc, msg, type}]}``;
* reagendar keeps the appointment id; cancel is idempotent; confirming a canceled one → 400.

Control endpoints (tests, simulator) under ``/__sandbox/gestaods/``: ``GET state``,
``POST reset``, ``POST failures`` (``{"mode", "count", "delay", "path"}``), ``POST book``
(``{"starts_at", "cpf"?}``: take a slot as another patient) and ``POST commit-late`` (apply the
``late_commit`` requests now). Failure modes: ``500`` and ``422``
(nothing applied), ``slow`` (applied, answered ``delay`` s late), ``error_after_commit``
(applied, answered 500), ``late_commit`` (answered 504 at once, applied ``delay`` s later, as
when a gateway gives up on an agenda that still commits) and ``conflict_next_booking``.

Run alone: ``python -m clinicbot.sandbox.gestaods_fake --port 8089``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import partial, wraps
from typing import Any
from zoneinfo import ZoneInfo

from sanic import Blueprint, Request, Sanic
from sanic.exceptions import InvalidUsage
from sanic.response import HTTPResponse, json

from clinicbot import clock

CONTROL_PREFIX = "/__sandbox/gestaods"
PREFIXES = {"prod": "/api/", "dev": "/api/dev-"}
OPENING_HOURS = ((time(8), time(12)), (time(14), time(18)))
SLOT_MINUTES = 30
HORIZON_DAYS = 35  # seeded agenda: about five weeks from today
DAYS_WINDOW = 30  # dias-disponiveis answers this many days
PREBOOKED_SHARE = 0.2
SEED = 20240514
TIMEZONE_LABEL = "Horário Padrão de Brasília - (GMT-3)"

INVALID_TOKEN = {"message": "Informe um token valido!", "status": 400}
SLOT_TAKEN = {"message": "Horário indisponível", "status": 400}
PATIENT_NOT_FOUND = {"message": "Paciente não encontrado", "status": 400}
PATIENT_EXISTS = {"message": "Paciente já cadastrado", "status": 400}
APPOINTMENT_NOT_FOUND = {"message": "Agendamento não encontrado", "status": 404}
APPOINTMENT_CANCELED = {"message": "Agendamento cancelado", "status": 400}
INTERNAL_ERROR = {"detail": "Erro interno"}
GATEWAY_TIMEOUT = {"detail": "Gateway Timeout"}
FAILURE_MODES = (
    "500",
    "422",
    "slow",
    "conflict_next_booking",
    "error_after_commit",
    "late_commit",
)
FieldError = tuple[list[str], str, str]  # FastAPI's 422 detail entry: loc, msg, type

CLINIC = {
    "medico": "Dra. Beatriz Nogueira",
    "crm": "CRM-MG 123456",
    "especialidade": "Clínica Geral",
    "clinica": "Clínica Sandbox",
    "clinica_fone": "3133334444",
    "clinica_email": "contato@clinica.example",
    "clinica_endereco": "Rua Exemplo, 100 - Centro, Belo Horizonte - MG",
}
# (cpf, name, email, phone, birth date); every CPF has valid check digits.
SEED_PATIENTS = (
    ("39053344705", "Marina Alves Prado", "marina@example.org", "31988887777", date(1991, 9, 2)),
    ("52998224725", "João Pedro Santos", "joao@example.org", "31977776666", date(1985, 3, 17)),
    ("11144477735", "Helena Costa Ribeiro", "helena@example.org", "31966665555", date(1978, 1, 9)),
    ("93541134780", "Rafael Moura Dias", "rafael@example.org", "31955554444", date(2000, 6, 30)),
)
# Patients who hold the pre-booked slots ("other patients"); Marina starts with no appointment,
# João with one upcoming appointment (for reschedule/cancel journeys).
OTHER_PATIENTS = ("11144477735", "93541134780")
PATIENT_WITH_APPOINTMENT = "52998224725"


class FakeError(Exception):
    """An API error answer: HTTP status and JSON body."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(str(body))
        self.status = status
        self.body = body


def _invalid(*errors: FieldError) -> FakeError:
    """A FastAPI-style 422 with one ``{loc, msg, type}`` per error."""
    detail = [{"loc": loc, "msg": msg, "type": kind} for loc, msg, kind in errors]
    return FakeError(422, {"detail": detail})


@dataclass
class FakePatient:
    id: str
    cpf: str
    nome_completo: str
    email: str
    celular: str | None = None
    nascimento: date | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "nome_completo": self.nome_completo,
            "cpf": self.cpf,
            "email": self.email,
            "celular": self.celular,
            "nascimento": self.nascimento.strftime("%d/%m/%Y") if self.nascimento else None,
        }


@dataclass
class FakeAppointment:
    id: str
    cpf: str
    starts_at: datetime
    ends_at: datetime
    primeiro_atendimento: bool = False
    confirmado: bool = False
    cancelado: bool = False
    motivo_cancelamento: str | None = None

    @property
    def active(self) -> bool:
        return not self.cancelado

    def as_state(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "cpf": self.cpf,
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat(),
            "primeiro_atendimento": self.primeiro_atendimento,
            "confirmado": self.confirmado,
            "cancelado": self.cancelado,
            "motivo_cancelamento": self.motivo_cancelamento,
        }


@dataclass
class FailureRule:
    """Makes the next ``count`` matching API requests misbehave (``count`` ≤ 0: until reset)."""

    mode: str
    count: int = 1
    delay: float = 0.0
    path: str | None = None  # substring of the request path; None matches every API path

    def matches(self, path: str) -> bool:
        if self.mode == "conflict_next_booking" and not path.endswith("agendar/"):
            return False
        return self.path is None or self.path in path


class FakeGestaoDS:
    """In-memory agenda, patients, appointments and failure modes of one agenda token.

    ``today`` fixes the seeded horizon; with it the fake's clock is frozen at 07:00 of that day
    (deterministic tests) unless ``clock`` is given. Without either, the real clock is used.
    """

    def __init__(
        self,
        token: str,
        tz: ZoneInfo,
        today: date | None = None,
        seed: bool = True,
        clock: Callable[[], datetime] | None = None,
        *,
        opening_hours: tuple[tuple[time, time], ...] = OPENING_HOURS,
        id_prefix: str = "ag_",
    ) -> None:
        # Another clinic's agenda has its own hours and appointment ids (tests of many clinics).
        self.opening_hours = opening_hours
        self.id_prefix = id_prefix
        self.token = token
        self.tz = tz
        self._fixed_today = today
        self._clock = clock
        self._seed = seed
        self._lock = threading.RLock()
        self.patients: dict[str, FakePatient] = {}
        self.appointments: dict[str, FakeAppointment] = {}
        self.failures: list[FailureRule] = []
        # Requests answered already and applied later (``late_commit``), oldest first.
        self.deferred: list[Callable[[], Any]] = []
        self._ids = itertools.count(1)
        self.reset()

    # -- clock and agenda grid ---------------------------------------------------------------

    def now(self) -> datetime:
        if self._clock is not None:
            return self._clock().astimezone(self.tz)
        if self._fixed_today is not None:
            return datetime.combine(self._fixed_today, time(7), tzinfo=self.tz)
        return clock.now().astimezone(self.tz)

    @property
    def today(self) -> date:
        return self._fixed_today or self.now().date()

    def slot_starts(self, day: date) -> list[datetime]:
        """The agenda grid of ``day`` (taken or not): weekdays within the seeded horizon."""
        if day.weekday() >= 5 or not self.today <= day < self.today + timedelta(HORIZON_DAYS):
            return []
        starts = []
        for opens, closes in self.opening_hours:
            moment = datetime.combine(day, opens, tzinfo=self.tz)
            while moment.time() < closes:
                starts.append(moment)
                moment += timedelta(minutes=SLOT_MINUTES)
        return starts

    def is_free(self, start: datetime, ignore_id: str | None = None) -> bool:
        start = start.astimezone(self.tz)
        if start <= self.now() or start not in self.slot_starts(start.date()):
            return False
        end = start + timedelta(minutes=SLOT_MINUTES)
        return not any(
            appointment.active
            and appointment.id != ignore_id
            and appointment.starts_at < end
            and start < appointment.ends_at
            for appointment in self.appointments.values()
        )

    def free_times(self, day: date) -> list[datetime]:
        with self._lock:
            return [start for start in self.slot_starts(day) if self.is_free(start)]

    def days_window(self, first: date) -> list[tuple[date, bool]]:
        days = [first + timedelta(offset) for offset in range(DAYS_WINDOW)]
        return [(day, bool(self.free_times(day))) for day in days]

    # -- state changes -----------------------------------------------------------------------

    def reset(self) -> None:
        """Back to the seeded state (or empty with ``seed=False``); clears failure modes."""
        with self._lock:
            self.patients.clear()
            self.appointments.clear()
            self.failures.clear()
            self.deferred.clear()
            self._ids = itertools.count(1)
            if self._seed:
                self._seed_state()

    def _seed_state(self) -> None:
        for index, (cpf, name, email, phone, birth) in enumerate(SEED_PATIENTS, start=1001):
            self.patients[cpf] = FakePatient(str(index), cpf, name, email, phone, birth)
        rng = random.Random(SEED)
        days = [self.today + timedelta(offset) for offset in range(1, HORIZON_DAYS)]
        weekdays = [day for day in days if day.weekday() < 5]
        own_day = weekdays[2]  # João: third weekday from tomorrow, 10:00
        self._add(PATIENT_WITH_APPOINTMENT, datetime.combine(own_day, time(10), tzinfo=self.tz))
        full_day = weekdays[6]  # one fully booked weekday shows "disponivel": false
        for day in weekdays:
            for start in self.slot_starts(day):
                if self.is_free(start) and (day == full_day or rng.random() < PREBOOKED_SHARE):
                    self._add(rng.choice(OTHER_PATIENTS), start)

    def _add(self, cpf: str, start: datetime, first_visit: bool = False) -> FakeAppointment:
        appointment = FakeAppointment(
            id=f"{self.id_prefix}{next(self._ids):05d}",
            cpf=cpf,
            starts_at=start,
            ends_at=start + timedelta(minutes=SLOT_MINUTES),
            primeiro_atendimento=first_visit,
        )
        self.appointments[appointment.id] = appointment
        return appointment

    def register(self, fields: dict[str, Any]) -> FakePatient:
        with self._lock:
            if fields["cpf"] in self.patients:
                raise FakeError(400, PATIENT_EXISTS)
            patient = FakePatient(
                id=str(1001 + len(self.patients)),
                cpf=fields["cpf"],
                nome_completo=fields["nome_completo"],
                email=fields["email"],
                celular=fields.get("celular"),
                nascimento=fields.get("nascimento"),
            )
            self.patients[patient.cpf] = patient
            return patient

    def book(self, cpf: str, start: datetime, first_visit: bool = False) -> FakeAppointment:
        with self._lock:
            if cpf not in self.patients:
                raise FakeError(400, PATIENT_NOT_FOUND)
            if not self.is_free(start):
                raise FakeError(400, SLOT_TAKEN)
            return self._add(cpf, start.astimezone(self.tz), first_visit)

    def book_as_other(self, start: datetime, cpf: str | None = None) -> FakeAppointment:
        """Take a slot for "another patient" (the race between choose and confirm)."""
        return self.book(cpf or OTHER_PATIENTS[0], start)

    def reschedule(self, appointment_id: str, start: datetime) -> FakeAppointment:
        with self._lock:
            appointment = self.get(appointment_id)
            if appointment.cancelado:
                raise FakeError(400, APPOINTMENT_CANCELED)
            if appointment.starts_at != start and not self.is_free(start, ignore_id=appointment_id):
                raise FakeError(400, SLOT_TAKEN)
            appointment.starts_at = start.astimezone(self.tz)
            appointment.ends_at = appointment.starts_at + timedelta(minutes=SLOT_MINUTES)
            appointment.confirmado = False
            return appointment

    def update_status(
        self, appointment_id: str, *, confirm: bool, cancel: bool, reason: str | None
    ) -> FakeAppointment:
        with self._lock:
            appointment = self.get(appointment_id)
            if cancel:
                appointment.cancelado = True
                appointment.motivo_cancelamento = reason or appointment.motivo_cancelamento
            elif confirm:
                if appointment.cancelado:
                    raise FakeError(400, APPOINTMENT_CANCELED)
                appointment.confirmado = True
            return appointment

    def get(self, appointment_id: str) -> FakeAppointment:
        appointment = self.appointments.get(appointment_id)
        if appointment is None:
            raise FakeError(404, APPOINTMENT_NOT_FOUND)
        return appointment

    def appointments_of(self, cpf: str) -> list[FakeAppointment]:
        with self._lock:
            found = [item for item in self.appointments.values() if item.cpf == cpf]
        return sorted(found, key=lambda item: item.starts_at)

    def appointments_between(self, first: date, last: date) -> list[FakeAppointment]:
        with self._lock:
            found = [
                item
                for item in self.appointments.values()
                if first <= item.starts_at.date() <= last
            ]
        return sorted(found, key=lambda item: item.starts_at)

    # -- failure modes -----------------------------------------------------------------------

    def add_failure(self, rule: FailureRule) -> None:
        if rule.mode not in FAILURE_MODES:
            raise ValueError(f"unknown failure mode {rule.mode!r}; one of {FAILURE_MODES}")
        with self._lock:
            self.failures.append(rule)

    def clear_failures(self) -> None:
        with self._lock:
            self.failures.clear()

    def defer(self, action: Callable[[], Any]) -> None:
        with self._lock:
            self.deferred.append(action)

    def run_deferred(self, action: Callable[[], Any] | None = None) -> int:
        """Apply ``action`` (every deferred request when None) unless it already was."""
        with self._lock:
            due = [each for each in self.deferred if action is None or each is action]
            for each in due:
                self.deferred.remove(each)
        for each in due:
            each()
        return len(due)

    def take_failure(self, path: str) -> FailureRule | None:
        """The first rule matching ``path``, consuming one of its uses."""
        with self._lock:
            for rule in self.failures:
                if rule.matches(path):
                    if rule.count > 0:
                        rule.count -= 1
                        if rule.count == 0:
                            self.failures.remove(rule)
                    return rule
        return None

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "today": self.today.isoformat(),
                "now": self.now().isoformat(),
                "patients": [patient.as_json() for patient in self.patients.values()],
                "appointments": [
                    item.as_state()
                    for item in sorted(self.appointments.values(), key=lambda a: a.starts_at)
                ],
                "failures": [rule.__dict__.copy() for rule in self.failures],
            }

    def patient_name(self, cpf: str) -> str | None:
        patient = self.patients.get(cpf)
        return patient.nome_completo if patient else None


# -- request parsing (FastAPI-like validation) -------------------------------------------------


def _body(request: Request) -> dict[str, Any]:
    try:
        body = request.json
    except InvalidUsage:
        raise _invalid((["body"], "value is not a valid dict", "type_error.dict")) from None
    if not isinstance(body, dict):
        raise _invalid((["body"], "value is not a valid dict", "type_error.dict"))
    return body


def _cpf_errors(value: Any, loc: list[str]) -> list[FieldError]:
    if not isinstance(value, str):
        return [(loc, "str type expected", "type_error.str")]
    if len(value) < 11:
        return [
            (loc, "ensure this value has at least 11 characters", "value_error.any_str.min_length")
        ]
    if len(value) > 11:
        return [
            (loc, "ensure this value has at most 11 characters", "value_error.any_str.max_length")
        ]
    if not value.isdigit():
        return [(loc, 'string does not match regex "^\\d{11}$"', "value_error.str.regex")]
    return []


def _require(body: dict[str, Any], *names: str) -> list[FieldError]:
    return [
        (["body", name], "field required", "value_error.missing")
        for name in names
        if body.get(name) in (None, "")
    ]


def _parse(value: Any, fmt: str, loc: list[str], errors: list[FieldError]) -> datetime | None:
    """``strptime`` or a 422 entry; ``fmt`` names the only accepted format (the API's)."""
    try:
        return datetime.strptime(str(value), fmt)
    except ValueError:
        label = fmt.replace("%d", "dd").replace("%m", "mm").replace("%Y", "yyyy")
        label = label.replace("%H", "hh").replace("%M", "mm").replace("%S", "ss")
        errors.append((loc, f"invalid format, expected {label}", "value_error"))
        return None


def _query_date(
    request: Request, name: str, errors: list[FieldError], required: bool
) -> date | None:
    value = request.args.get(name)
    if value in (None, ""):
        if required:
            errors.append((["query", name], "field required", "value_error.missing"))
        return None
    parsed = _parse(value, "%d/%m/%Y", ["query", name], errors)
    return parsed.date() if parsed else None


def _booking_times(
    fake: FakeGestaoDS, body: dict[str, Any], errors: list[FieldError]
) -> tuple[datetime | None, datetime | None]:
    bounds: list[datetime | None] = []
    for name in ("data_agendamento", "data_fim_agendamento"):
        if body.get(name) in (None, ""):
            bounds.append(None)
            continue
        parsed = _parse(body[name], "%d/%m/%Y %H:%M:%S", ["body", name], errors)
        bounds.append(parsed.replace(tzinfo=fake.tz) if parsed else None)
    start, end = bounds
    if start and end and end <= start:
        errors.append(
            (["body", "data_fim_agendamento"], "must be after data_agendamento", "value_error")
        )
    return start, end


def _check_token(fake: FakeGestaoDS, token: Any) -> None:
    if token != fake.token:
        raise FakeError(400, INVALID_TOKEN)


def _raise_if(errors: list[FieldError]) -> None:
    if errors:
        raise _invalid(*errors)


# -- response shapes ---------------------------------------------------------------------------


def _listagem_item(fake: FakeGestaoDS, item: FakeAppointment) -> dict[str, Any]:
    patient = fake.patients.get(item.cpf)
    return {
        "token": item.id,
        "data_agendamento": item.starts_at.strftime("%d/%m/%Y %H:%M"),
        "data_fim_agendamento": item.ends_at.strftime("%d/%m/%Y %H:%M"),
        "paciente": {
            "nome": patient.nome_completo if patient else None,
            "celular": patient.celular if patient else None,
            "cpf": item.cpf,
        },
        "medico": {"nome": CLINIC["medico"]},
        "confirmado": item.confirmado,
        "cancelado": item.cancelado,
        "faltou": False,
        "finalizado": False,
    }


def _patient_item(item: FakeAppointment) -> dict[str, Any]:
    """``paciente/agendamentos`` item: the Java fixture's fields, ISO-like datetimes."""
    return {
        "agendamento": item.id,
        "data_agendamento": item.starts_at.strftime("%Y-%m-%d %H:%M:%S"),
        "data_fim_agendamento": item.ends_at.strftime("%Y-%m-%d %H:%M:%S"),
        "confirmado": item.confirmado,
        "cancelado": item.cancelado,
        "profissional_nome": CLINIC["medico"],
        "procedimento_nome": "Primeira consulta" if item.primeiro_atendimento else "Consulta",
    }


def _detail_item(fake: FakeGestaoDS, item: FakeAppointment) -> dict[str, Any]:
    """``retornar-agendamento``: full wall-clock datetimes with seconds."""
    return {
        "agendamento": item.id,
        "data_agendamento": item.starts_at.strftime("%d/%m/%Y %H:%M:%S"),
        "data_fim_agendamento": item.ends_at.strftime("%d/%m/%Y %H:%M:%S"),
        "paciente": {"nome": fake.patient_name(item.cpf), "cpf": item.cpf},
        "medico": CLINIC["medico"],
        "confirmado": item.confirmado,
        "cancelado": item.cancelado,
        "motivo_cancelamento": item.motivo_cancelamento,
    }


def _apply_conflict_failure(fake: FakeGestaoDS, request: Request, start: datetime) -> None:
    """``conflict_next_booking``: another patient takes the slot just before this request."""
    rule = request.ctx.failure
    if rule is not None and rule.mode == "conflict_next_booking":
        if fake.is_free(start):
            fake.book_as_other(start)
        raise FakeError(400, SLOT_TAKEN)


# -- blueprint ---------------------------------------------------------------------------------


def create_gestaods_blueprint(fake: FakeGestaoDS) -> Blueprint:
    """Every §1.2 path for both prefixes (listagem only under ``/api/``) + control endpoints."""
    bp = Blueprint("gestaods_fake", strict_slashes=True)

    def api(handler: Callable[..., HTTPResponse]) -> Callable[..., Any]:
        """Errors → JSON answers; applies the failure mode matching the request, if any."""

        @wraps(handler)
        async def wrapped(request: Request, **params: str) -> HTTPResponse:
            rule = fake.take_failure(request.path)
            if rule is not None and rule.mode == "500":
                return json(INTERNAL_ERROR, status=500)
            if rule is not None and rule.mode == "422":
                detail = [{"loc": ["body"], "msg": "simulated error", "type": "value_error"}]
                return json({"detail": detail}, status=422)
            request.ctx.failure = rule
            if rule is not None and rule.mode == "late_commit":  # 504 now, applied after delay
                action = partial(_apply, request, params)
                fake.defer(action)
                asyncio.get_running_loop().call_later(rule.delay, fake.run_deferred, action)
                return json(GATEWAY_TIMEOUT, status=504)
            response = _apply(request, params)
            if rule is not None and rule.mode == "slow":  # after the change: committed but late
                await asyncio.sleep(rule.delay)
            if rule is not None and rule.mode == "error_after_commit":
                return json(INTERNAL_ERROR, status=500)
            return response

        def _apply(request: Request, params: dict[str, str]) -> HTTPResponse:
            try:
                return handler(request, **params)
            except FakeError as error:
                return json(error.body, status=error.status)

        return wrapped

    def find_patient(request: Request, token: str, cpf: str) -> HTTPResponse:
        _raise_if(_cpf_errors(cpf, ["path", "cpf"]))
        _check_token(fake, token)
        patient = fake.patients.get(cpf)
        if patient is None:
            raise FakeError(400, PATIENT_NOT_FOUND)
        return json({"data": patient.as_json(), "status": 200})

    def register_patient(request: Request) -> HTTPResponse:
        body = _body(request)
        errors = _require(body, "nome_completo", "cpf", "email", "token")
        if body.get("cpf"):
            errors += _cpf_errors(body["cpf"], ["body", "cpf"])
        if body.get("email") and "@" not in str(body["email"]):
            errors.append(
                (["body", "email"], "value is not a valid email address", "value_error.email")
            )
        birth = None
        if body.get("nascimento"):
            parsed = _parse(body["nascimento"], "%d/%m/%Y", ["body", "nascimento"], errors)
            birth = parsed.date() if parsed else None
        _raise_if(errors)
        _check_token(fake, body["token"])
        patient = fake.register({**body, "nascimento": birth})
        return json({"data": patient.as_json(), "status": 201}, status=201)

    def available_days(request: Request, token: str) -> HTTPResponse:
        errors: list[FieldError] = []
        first = _query_date(request, "data", errors, required=False)
        _raise_if(errors)
        _check_token(fake, token)
        window = fake.days_window(first or fake.today)
        data = [{"data": day.strftime("%d/%m/%Y"), "disponivel": free} for day, free in window]
        return json({"data": data, "status": 200})

    def available_times(request: Request, token: str) -> HTTPResponse:
        errors: list[FieldError] = []
        day = _query_date(request, "data", errors, required=False)
        _raise_if(errors)
        _check_token(fake, token)
        times = [start.strftime("%H:%M:%S") for start in fake.free_times(day or fake.today)]
        return json({"tempo_intervalo": SLOT_MINUTES, "data": times, "status": 200})

    def get_appointment(request: Request) -> HTTPResponse:
        errors = [
            (["query", name], "field required", "value_error.missing")
            for name in ("token", "agendamento")
            if not request.args.get(name)
        ]
        _raise_if(errors)
        _check_token(fake, request.args.get("token"))
        appointment = fake.get(request.args.get("agendamento"))
        return json({"data": _detail_item(fake, appointment), "status": 200})

    def book(request: Request) -> HTTPResponse:
        body = _body(request)
        errors = _require(body, "data_agendamento", "data_fim_agendamento", "cpf", "token")
        if body.get("cpf"):
            errors += _cpf_errors(body["cpf"], ["body", "cpf"])
        first_visit = body.get("primeiro_atendimento", False)
        if not isinstance(first_visit, bool):
            errors.append(
                (
                    ["body", "primeiro_atendimento"],
                    "value could not be parsed to a boolean",
                    "type_error.bool",
                )
            )
        start, _ = _booking_times(fake, body, errors)
        _raise_if(errors)
        assert start is not None  # a missing or invalid data_agendamento is in errors
        _check_token(fake, body["token"])
        _apply_conflict_failure(fake, request, start)
        appointment = fake.book(body["cpf"], start, first_visit)
        return json({"data": {"agendamento": appointment.id}, "status": 201}, status=201)

    def reschedule(request: Request) -> HTTPResponse:
        body = _body(request)
        errors = _require(body, "data_agendamento", "data_fim_agendamento", "token", "agendamento")
        start, _ = _booking_times(fake, body, errors)
        _raise_if(errors)
        assert start is not None  # a missing or invalid data_agendamento is in errors
        _check_token(fake, body["token"])
        _apply_conflict_failure(fake, request, start)
        appointment = fake.reschedule(str(body["agendamento"]), start)
        return json({"data": {"agendamento": appointment.id}, "status": 200})

    def patient_appointments(request: Request) -> HTTPResponse:
        body = _body(request)
        errors = _require(body, "cpf", "token")
        if body.get("cpf"):
            errors += _cpf_errors(body["cpf"], ["body", "cpf"])
        _raise_if(errors)
        _check_token(fake, body["token"])
        if body["cpf"] not in fake.patients:
            raise FakeError(400, PATIENT_NOT_FOUND)
        items = [_patient_item(item) for item in fake.appointments_of(body["cpf"])]
        return json({"data": items, "status": 200})

    def update_appointment(request: Request) -> HTTPResponse:
        body = _body(request)
        errors = _require(body, "token", "agendamento")
        cancel, confirm = body.get("cancelado") is True, body.get("confirmado") is True
        if not errors and not (cancel or confirm):
            errors.append((["body"], "confirmado or cancelado must be true", "value_error"))
        _raise_if(errors)
        _check_token(fake, body["token"])
        fake.update_status(
            str(body["agendamento"]),
            confirm=confirm,
            cancel=cancel,
            reason=body.get("motivo_cancelamento"),
        )
        return json({"message": "Agendamento atualizado com sucesso", "status": 200})

    def timezone_label(request: Request, token: str) -> HTTPResponse:
        _check_token(fake, token)
        return json(TIMEZONE_LABEL)

    def clinic_info(request: Request, token: str) -> HTTPResponse:
        _check_token(fake, token)
        return json({"data": CLINIC, "status": 200})

    def listing(request: Request, token: str) -> HTTPResponse:
        errors: list[FieldError] = []
        first = _query_date(request, "data_inicial", errors, required=True)
        last = _query_date(request, "data_final", errors, required=True)
        _raise_if(errors)
        assert first is not None and last is not None  # required: a missing date is in errors
        _check_token(fake, token)
        items = [_listagem_item(fake, item) for item in fake.appointments_between(first, last)]
        return json({"data": items, "status": 200})

    routes: list[tuple[Callable[..., HTTPResponse], str, str]] = [
        (find_patient, "GET", "paciente/<token>/<cpf>/"),
        (register_patient, "POST", "paciente/cadastrar/"),
        (patient_appointments, "POST", "paciente/agendamentos/"),
        (update_appointment, "PUT", "paciente/agendamentos/"),
        (available_days, "GET", "agendamento/dias-disponiveis/<token>"),
        (available_times, "GET", "agendamento/horarios-disponiveis/<token>"),
        (get_appointment, "GET", "agendamento/retornar-agendamento/"),
        (book, "POST", "agendamento/agendar/"),
        (reschedule, "PUT", "agendamento/reagendar/"),
        (timezone_label, "GET", "agendamento/retornar-fuso-horario/<token>"),
        (clinic_info, "GET", "dados-agendamento/<token>/"),
    ]
    for env, prefix in PREFIXES.items():
        for handler, method, path in routes:
            name = f"{env}_{handler.__name__}"
            bp.add_route(api(handler), prefix + path, methods=[method], name=name)
    bp.add_route(api(listing), "/api/dados-agendamento/listagem/<token>", name="listing")
    _add_control_routes(bp, fake)
    return bp


def _add_control_routes(bp: Blueprint, fake: FakeGestaoDS) -> None:
    async def state(request: Request) -> HTTPResponse:
        return json(fake.snapshot())

    async def reset(request: Request) -> HTTPResponse:
        fake.reset()
        return json({"ok": True})

    async def failures(request: Request) -> HTTPResponse:
        """``{"mode": …, "count": 1, "delay": 0, "path": null}``; ``"mode": "none"`` clears."""
        body = request.json or {}
        if body.get("mode") in (None, "none", "clear"):
            fake.clear_failures()
            return json({"ok": True, "failures": []})
        rule = FailureRule(
            mode=str(body["mode"]),
            count=int(body.get("count", 1)),
            delay=float(body.get("delay", 0.0)),
            path=body.get("path"),
        )
        try:
            fake.add_failure(rule)
        except ValueError as error:
            return json({"message": str(error)}, status=400)
        return json({"ok": True, "failures": fake.snapshot()["failures"]})

    async def commit_late(request: Request) -> HTTPResponse:
        """Apply now the requests ``late_commit`` answered and has not applied yet."""
        return json({"applied": fake.run_deferred()})

    async def book_other(request: Request) -> HTTPResponse:
        """``{"starts_at": "dd/mm/yyyy HH:MM:SS" | ISO, "cpf"?: …}``: book as another patient."""
        body = request.json or {}
        text = str(body.get("starts_at", ""))
        try:
            start = _control_datetime(text, fake.tz)
            appointment = fake.book_as_other(start, body.get("cpf"))
        except ValueError:
            return json({"message": f"bad starts_at {text!r}"}, status=400)
        except FakeError as error:
            return json(error.body, status=error.status)
        return json({"data": appointment.as_state(), "status": 201}, status=201)

    bp.add_route(state, f"{CONTROL_PREFIX}/state", methods=["GET"], name="control_state")
    bp.add_route(reset, f"{CONTROL_PREFIX}/reset", methods=["POST"], name="control_reset")
    bp.add_route(failures, f"{CONTROL_PREFIX}/failures", methods=["POST"], name="control_failures")
    bp.add_route(book_other, f"{CONTROL_PREFIX}/book", methods=["POST"], name="control_book")
    bp.add_route(
        commit_late, f"{CONTROL_PREFIX}/commit-late", methods=["POST"], name="control_commit_late"
    )


def _control_datetime(text: str, tz: ZoneInfo) -> datetime:
    try:
        moment = datetime.strptime(text, "%d/%m/%Y %H:%M:%S")
    except ValueError:
        moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment.astimezone(tz)


def create_app(fake: FakeGestaoDS, name: str = "gestaods_sandbox") -> Sanic:
    """A Sanic app serving only the GestãoDS fake (standalone runs and tests)."""
    app = Sanic(name)
    app.config.ACCESS_LOG = False  # access lines would carry CPFs and tokens from the paths
    app.blueprint(create_gestaods_blueprint(fake))
    return app


def main(argv: list[str] | None = None) -> None:
    from clinicbot.settings import SANDBOX_GESTAODS_TOKEN, get_settings

    parser = argparse.ArgumentParser(description="Run the GestãoDS fake alone.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--token", default=SANDBOX_GESTAODS_TOKEN)
    parser.add_argument("--today", type=date.fromisoformat, help="freeze the agenda at this day")
    args = parser.parse_args(argv)
    fake = FakeGestaoDS(args.token, get_settings().clinic_tz, today=args.today)
    create_app(fake).run(host=args.host, port=args.port, access_log=False, workers=1)


if __name__ == "__main__":
    main()
