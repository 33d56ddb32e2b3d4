"""Tolerant parsing of GestãoDS response bodies.

The public evidence disagrees on several shapes (see ``third_party_apis.md`` §1.4), so every
function here accepts all the variants seen in working clients:

* envelope ``{"data": …, "status": 200}`` or the bare payload;
* patient as an object or a list, name under ``nome_completo`` or ``nome``;
* "not found" as HTTP 404 or as a 200/400 body whose message says so;
* the new appointment id under ``agendamento``, ``token`` or ``id``, top level or under ``data``;
* appointment lists as an array, ``{"data": [...]}`` or ``{"agendamentos": [...]}``;
* free times as ``"HH:MM:SS"`` strings or ``{"hora_inicio": ...}`` objects.
"""

from __future__ import annotations

from datetime import date, time
from typing import Any
from zoneinfo import ZoneInfo

from clinicbot.gestaods import models
from clinicbot.gestaods.dates import parse_date, parse_datetime, parse_time
from clinicbot.gestaods.models import Appointment, Patient
from clinicbot.ptbr.cpf import cpf_digits
from clinicbot.ptbr.text import fold_accents

_ID_KEYS = ("agendamento", "token", "id")
_NOT_FOUND_WORDS = ("nao encontrad", "not found", "inexistente", "nao existe")
_CONFLICT_WORDS = ("indisponivel", "ocupado", "conflito", "ja agendado", "passad")
_LIST_KEYS = ("data", "agendamentos", "items", "results")


def unwrap(body: Any) -> Any:
    """The payload inside ``{"data": …}``, or the body itself."""
    if isinstance(body, dict) and "data" in body:
        return body["data"]
    return body


def message_of(body: Any) -> str:
    """The human-readable message of an error body (``message`` or a string ``detail``)."""
    if isinstance(body, dict):
        for key in ("message", "mensagem", "detail", "erro", "error"):
            if isinstance(body.get(key), str):
                return body[key]
    if isinstance(body, str):
        return body
    return ""


def effective_status(http_status: int, body: Any) -> int:
    """The HTTP status, or the body's ``status`` when a 2xx carries an application error."""
    if 200 <= http_status < 300 and isinstance(body, dict):
        inner = body.get("status")
        if isinstance(inner, int) and inner >= 400:
            return inner
    return http_status


def says_not_found(status: int, body: Any) -> bool:
    return status == 404 or any(word in fold_accents(message_of(body)) for word in _NOT_FOUND_WORDS)


def says_conflict(status: int, body: Any) -> bool:
    return status == 409 or any(word in fold_accents(message_of(body)) for word in _CONFLICT_WORDS)


def says_invalid_token(status: int, body: Any) -> bool:
    return status in (401, 403) or (status == 400 and "token" in fold_accents(message_of(body)))


def says_already_registered(status: int, body: Any) -> bool:
    text = fold_accents(message_of(body))
    return status == 409 or "ja cadastrad" in text or "ja existe" in text


def validation_detail(body: Any) -> Any:
    return body.get("detail") if isinstance(body, dict) else body


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def _name(value: Any) -> str | None:
    """A name given either as a string or as an object with ``nome``."""
    if isinstance(value, dict):
        return _text(value.get("nome") or value.get("nome_completo"))
    return _text(value)


def _first(item: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if item.get(key) not in (None, ""):
            return item[key]
    return None


def parse_patient(body: Any) -> Patient | None:
    """A patient from an object, a one-element list, or either inside ``data``/``paciente``."""
    data = unwrap(body)
    if isinstance(data, list):
        data = next((item for item in data if isinstance(item, dict)), None)
    if isinstance(data, dict) and isinstance(data.get("paciente"), dict):
        data = data["paciente"]
    if not isinstance(data, dict):
        return None
    name = _text(_first(data, "nome_completo", "nome", "nome_paciente"))
    cpf = _text(data.get("cpf"))
    if not name and not cpf:
        return None
    birth = _text(_first(data, "nascimento", "data_nascimento"))
    try:
        birth_date = parse_date(birth) if birth else None
    except ValueError:
        birth_date = None
    return Patient(
        cpf=cpf_digits(cpf or ""),
        name=name or "",
        id=_text(_first(data, "id", "codigo", "paciente_id")),
        email=_text(data.get("email")),
        phone=_text(_first(data, "celular", "telefone", "whatsapp")),
        birth_date=birth_date,
    )


def mentions(body: Any, word: str) -> bool:
    """Whether the body's message contains ``word`` (accent- and case-insensitive)."""
    return word in fold_accents(message_of(body))


def parse_appointment_id(body: Any, ignore: tuple[str, ...] = ()) -> str | None:
    """The id of a new appointment: ``agendamento``, ``token`` or ``id``, top level or in ``data``.

    ``ignore`` lists values that cannot be the id (the agenda token echoed back as ``token``).
    """
    for container in (unwrap(body), body):
        if not isinstance(container, dict):
            continue
        for key in _ID_KEYS:
            value = container.get(key)
            if isinstance(value, dict):
                value = _first(value, *_ID_KEYS)
            if isinstance(value, bool) or not isinstance(value, (str, int)):
                continue
            if value != "" and str(value) not in ignore:
                return str(value)
    return None


def _items(body: Any) -> list[Any]:
    data = unwrap(body)
    return data if isinstance(data, list) else []


def parse_available_days(body: Any) -> list[date]:
    """Days whose ``disponivel`` is true, in the order given (unparsable entries skipped)."""
    days = []
    for item in _items(body):
        if isinstance(item, dict) and item.get("disponivel") is True and item.get("data"):
            try:
                days.append(parse_date(str(item["data"])))
            except ValueError:
                continue
    return days


def parse_available_times(body: Any) -> tuple[list[time], int | None]:
    """Free start times and ``tempo_intervalo`` (minutes; ``None`` when absent)."""
    times = []
    for item in _items(body):
        text = _first(item, "hora_inicio", "horario", "hora") if isinstance(item, dict) else item
        try:
            times.append(parse_time(str(text)))
        except ValueError:
            continue
    interval = body.get("tempo_intervalo") if isinstance(body, dict) else None
    try:
        minutes = int(interval) if interval not in (None, "") else None
    except (TypeError, ValueError):
        minutes = None
    return times, minutes


def appointment_status(item: dict[str, Any]) -> str:
    """The status booleans (or a status string) mapped to :mod:`models` constants."""
    flags = (
        ("cancelado", models.CANCELED),
        ("faltou", models.NO_SHOW),
        ("finalizado", models.COMPLETED),
        ("confirmado", models.CONFIRMED),
    )
    for key, status in flags:
        if item.get(key) is True:
            return status
    text = fold_accents(str(item.get("status") or item.get("situacao") or ""))
    for key, status in flags:
        if text.startswith(key[:6]):
            return status
    return models.SCHEDULED


def parse_appointment(item: Any, tz: ZoneInfo, default_id: str | None = None) -> Appointment | None:
    """One appointment item (listagem, paciente/agendamentos or retornar-agendamento shapes)."""
    if not isinstance(item, dict):
        return None
    appointment_id = (
        _text(_first(item, "agendamento", "token", "id", "agendamento_id")) or default_id
    )
    start = _text(_first(item, "data_agendamento", "data_hora", "data_inicio", "inicio"))
    if start and len(start) <= 10 and item.get("hora_inicio"):
        start = f"{start} {item['hora_inicio']}"
    if not appointment_id or isinstance(item.get("agendamento"), dict) or not start:
        return None
    end = _text(_first(item, "data_fim_agendamento", "data_fim", "fim"))
    patient_item = item.get("paciente")
    patient: dict[str, Any] = patient_item if isinstance(patient_item, dict) else {}
    try:
        starts_at = parse_datetime(start, tz)
        ends_at = parse_datetime(end, tz) if end else None
    except ValueError:
        return None
    return Appointment(
        id=appointment_id,
        starts_at=starts_at,
        ends_at=ends_at,
        status=appointment_status(item),
        professional=_name(
            _first(item, "profissional_nome", "medico_nome", "profissional", "medico")
        ),
        procedure=_name(_first(item, "procedimento_nome", "procedimento")),
        patient_name=_text(_first(patient, "nome", "nome_completo"))
        or _text(_first(item, "paciente_nome", "nome_paciente")),
        patient_cpf=_text(patient.get("cpf") or item.get("cpf")),
    )


def parse_appointment_list(body: Any, tz: ZoneInfo) -> list[Appointment]:
    """Appointments from an array, ``{"data": [...]}``, ``{"agendamentos": [...]}`` or nested."""
    items: Any = body
    for _ in range(2):  # at most {"data": {"agendamentos": [...]}}
        if isinstance(items, dict):
            items = next((items[key] for key in _LIST_KEYS if key in items), [])
    if not isinstance(items, list):
        return []
    parsed = (parse_appointment(item, tz) for item in items)
    return [appointment for appointment in parsed if appointment is not None]


def parse_single_appointment(
    body: Any, tz: ZoneInfo, default_id: str | None = None
) -> Appointment | None:
    """``retornar-agendamento``: the object, inside ``data``/``agendamento``, or a 1-item list."""
    data = unwrap(body)
    if isinstance(data, dict) and isinstance(data.get("agendamento"), dict):
        data = data["agendamento"]
    if isinstance(data, list):
        data = data[0] if data else None
    return parse_appointment(data, tz, default_id)
