"""``/api/v1/appointments``: list, book, reschedule, cancel, through the bot's BookingService.

The same rules as the conversation: only the slots the bot would offer can be booked (free in
the agenda, at least ``BOOKING_MIN_LEAD_MINUTES`` away), reminders are scheduled, a freed slot
goes to the waiting list, and each change emits its CRM event (``source: "api"``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json
from sqlalchemy import select

from clinicbot.api import fields
from clinicbot.api.endpoint import endpoint, engine_of, json_body, run_sync
from clinicbot.api.keys import Caller
from clinicbot.api.pagination import entity_page, page_args
from clinicbot.api.problems import Problem, conflict, not_found, unavailable
from clinicbot.api.services import api_services
from clinicbot.db.engine import session_scope
from clinicbot.db.models import APPOINTMENT_STATUSES, Appointment
from clinicbot.gestaods.errors import (
    AppointmentNotFound,
    GestaoDSError,
    GestaoDSUnavailable,
    SlotUnavailable,
    ValidationError,
)
from clinicbot.services.booking import BookingService

CANCELED_BY_API = "Cancelada pela clínica via API"
T = TypeVar("T")

SLOT_TAKEN = conflict(
    "slot-unavailable",
    "That time is not free in the agenda (taken, too soon or outside office hours).",
    "Esse horário não está livre na agenda (ocupado, próximo demais ou fora do expediente).",
)


def appointment_item(row: Appointment) -> dict[str, Any]:
    return {
        "id": row.gestaods_id,
        "phone": row.phone,
        "cpf": row.cpf,
        "patient_name": row.patient_name,
        "starts_at": row.starts_at.isoformat(),
        "ends_at": row.ends_at.isoformat(),
        "status": row.status,
        "professional": row.professional,
        "first_visit": bool(row.first_visit),
        "created_at": row.created_at.isoformat(),
    }


def _agenda_call(call: Callable[[], T]) -> T:
    """Run a GestãoDS call, its errors as problems."""
    try:
        return call()
    except SlotUnavailable:
        raise SLOT_TAKEN from None
    except AppointmentNotFound:
        raise not_found(
            "No such appointment in the agenda.", "Essa consulta não existe na agenda."
        ) from None
    except ValidationError as error:
        raise Problem(
            422,
            "agenda-refused",
            ("Refused by the agenda", "Recusado pela agenda"),
            (f"The agenda refused the request: {error}", f"A agenda recusou o pedido: {error}"),
        ) from None
    except GestaoDSUnavailable:
        raise unavailable(
            "The clinic's agenda is unavailable; try again.",
            "A agenda da clínica está indisponível; tente de novo.",
        ) from None
    except GestaoDSError as error:
        raise Problem(
            502,
            "agenda-error",
            ("Agenda error", "Erro da agenda"),
            (
                f"The agenda answered with an error: {error}",
                f"A agenda respondeu com erro: {error}",
            ),
        ) from None


def _check_bookable(booking: BookingService, starts_at: datetime) -> None:
    """Only what the bot would offer: a free start time at least the minimum lead away."""
    local = starts_at.astimezone(booking.agenda.tz)
    if starts_at not in booking.bookable_times(local.date()):
        raise SLOT_TAKEN


def _stored(request: Request, appointment_id: str) -> Appointment:
    with session_scope(engine_of(request)) as session:
        row = session.execute(
            select(Appointment).where(Appointment.gestaods_id == appointment_id)
        ).scalar_one_or_none()
    if row is None:
        raise not_found(
            "No appointment with this id was made or seen by the assistant.",
            "Nenhuma consulta com esse id foi marcada ou vista pelo assistente.",
        )
    return row


def _stored_item(request: Request, appointment_id: str) -> dict[str, Any]:
    return appointment_item(_stored(request, appointment_id))


def appointments_blueprint() -> Blueprint:
    bp = Blueprint("api_appointments", url_prefix="/api/v1/appointments")

    @bp.get("/")
    @endpoint("read")
    async def list_appointments(request: Request, caller: Caller) -> HTTPResponse:
        after, limit = page_args(request.args)
        query = select(Appointment)
        if phone := request.args.get("phone"):
            query = query.where(Appointment.phone == fields.phone(phone))
        if cpf := request.args.get("cpf"):
            query = query.where(Appointment.cpf == fields.cpf(cpf))
        if status := request.args.get("status"):
            query = query.where(
                Appointment.status == fields.choice(status, "status", APPOINTMENT_STATUSES, "")
            )
        if start := request.args.get("from"):
            query = query.where(Appointment.starts_at >= fields.instant(start, "from"))
        if end := request.args.get("to"):
            query = query.where(Appointment.starts_at < fields.instant(end, "to"))
        engine = engine_of(request)
        return json(
            await run_sync(
                entity_page, engine, query, Appointment.id, after, limit, appointment_item
            )
        )

    @bp.post("/")
    @endpoint("write")
    async def book(request: Request, caller: Caller) -> HTTPResponse:
        body = json_body(request)
        phone = fields.phone(body.get("phone"))
        cpf = fields.cpf(body.get("cpf"))
        starts_at = fields.instant(body.get("starts_at"), "starts_at")
        name = fields.optional_text(body.get("patient_name"), "patient_name")
        first_visit = bool(body.get("first_visit", False))
        booking = api_services(request).booking

        def run() -> dict[str, Any]:
            _agenda_call(lambda: _check_bookable(booking, starts_at))
            booked = _agenda_call(
                lambda: booking.book(
                    phone=phone,
                    cpf=cpf,
                    starts_at=starts_at,
                    patient_name=name,
                    first_visit=first_visit,
                    source="api",
                )
            )
            return _stored_item(request, booked.id)

        return json(await run_sync(run), status=201)

    @bp.post("/<appointment_id>/reschedule")
    @endpoint("write")
    async def reschedule(request: Request, caller: Caller, appointment_id: str) -> HTTPResponse:
        body = json_body(request)
        starts_at = fields.instant(body.get("starts_at"), "starts_at")
        booking = api_services(request).booking

        def run() -> dict[str, Any]:
            current = _stored(request, appointment_id)
            if current.status not in ("scheduled", "confirmed"):
                raise conflict(
                    "appointment-not-active",
                    f"The appointment is {current.status}.",
                    f"A consulta está com status {current.status}.",
                )
            _agenda_call(lambda: _check_bookable(booking, starts_at))
            moved = _agenda_call(
                lambda: booking.reschedule(
                    phone=current.phone,
                    cpf=current.cpf,
                    appointment_id=appointment_id,
                    starts_at=starts_at,
                    source="api",
                )
            )
            return _stored_item(request, moved.id)

        return json(await run_sync(run))

    @bp.post("/<appointment_id>/cancel")
    @endpoint("write")
    async def cancel(request: Request, caller: Caller, appointment_id: str) -> HTTPResponse:
        body = json_body(request)
        reason = fields.optional_text(body.get("reason"), "reason", 500) or CANCELED_BY_API
        booking = api_services(request).booking

        def run() -> dict[str, Any]:
            _agenda_call(
                lambda: booking.cancel(appointment_id=appointment_id, reason=reason, source="api")
            )
            return {"id": appointment_id, "status": "canceled", "reason": reason}

        return json(await run_sync(run))

    return bp
