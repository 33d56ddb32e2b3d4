"""``/api/v1/waiting-list``: list, add, remove and position, through the WaitingListService."""

from __future__ import annotations

from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json
from sqlalchemy import select

from clinicbot.api import fields
from clinicbot.api.endpoint import endpoint, engine_of, json_body, run_sync
from clinicbot.api.keys import Caller
from clinicbot.api.pagination import entity_page, page_args
from clinicbot.api.problems import bad_request, not_found
from clinicbot.api.services import api_services
from clinicbot.db.models import WAITING_LIST_PERIODS, WAITING_LIST_STATUSES, WaitingList

NOT_WAITING = not_found(
    "This phone is not on the waiting list.", "Esse telefone não está na lista de espera."
)


def entry_item(row: WaitingList) -> dict[str, Any]:
    return {
        "id": row.id,
        "phone": row.phone,
        "cpf": row.cpf,
        "patient_name": row.patient_name,
        "specialty": row.specialty,
        "preferred_date_from": row.preferred_date_from.isoformat(),
        "preferred_date_to": row.preferred_date_to.isoformat(),
        "preferred_period": row.preferred_period,
        "priority": row.priority,
        "status": row.status,
        "offered_slot_starts_at": (
            row.offered_slot_starts_at.isoformat() if row.offered_slot_starts_at else None
        ),
        "offer_expires_at": row.offer_expires_at.isoformat() if row.offer_expires_at else None,
        "created_at": row.created_at.isoformat(),
    }


def waitlist_blueprint() -> Blueprint:
    bp = Blueprint("api_waitlist", url_prefix="/api/v1/waiting-list")

    @bp.get("/")
    @endpoint("read")
    async def list_entries(request: Request, caller: Caller) -> HTTPResponse:
        after, limit = page_args(request.args)
        query = select(WaitingList)
        if status := request.args.get("status"):
            query = query.where(
                WaitingList.status == fields.choice(status, "status", WAITING_LIST_STATUSES, "")
            )
        engine = engine_of(request)
        return json(
            await run_sync(entity_page, engine, query, WaitingList.id, after, limit, entry_item)
        )

    @bp.post("/")
    @endpoint("write")
    async def add(request: Request, caller: Caller) -> HTTPResponse:
        body = json_body(request)
        phone = fields.phone(body.get("phone"))
        cpf = fields.cpf(body.get("cpf"))
        name = fields.optional_text(body.get("patient_name"), "patient_name")
        specialty = fields.optional_text(body.get("specialty"), "specialty", 100)
        period = fields.choice(
            body.get("preferred_period"), "preferred_period", WAITING_LIST_PERIODS, "any"
        )
        date_from = fields.day(body["date_from"], "date_from") if body.get("date_from") else None
        date_to = fields.day(body["date_to"], "date_to") if body.get("date_to") else None
        if date_from and date_to and date_to < date_from:
            raise bad_request(
                "date_to: must not be before date_from.",
                "date_to: não pode ser antes de date_from.",
                invalid_field="date_to",
            )
        service = api_services(request).waiting_list
        joined = await run_sync(
            lambda: service.join(
                phone=phone,
                cpf=cpf,
                name=name,
                date_from=date_from,
                date_to=date_to,
                period=period,
                specialty=specialty,
                source="api",
            )
        )
        result = {
            "id": joined.entry_id,
            "phone": phone,
            "position": joined.position,
            "already_waiting": joined.already_waiting,
        }
        return json(result, status=200 if joined.already_waiting else 201)

    @bp.get("/<phone>/position")
    @endpoint("read")
    async def position(request: Request, caller: Caller, phone: str) -> HTTPResponse:
        digits = fields.phone(phone)
        place = await run_sync(api_services(request).waiting_list.position, digits)
        if place is None:
            raise NOT_WAITING
        return json({"phone": digits, "position": place})

    @bp.delete("/<phone>")
    @endpoint("write")
    async def remove(request: Request, caller: Caller, phone: str) -> HTTPResponse:
        digits = fields.phone(phone)
        if not await run_sync(api_services(request).waiting_list.leave, digits):
            raise NOT_WAITING
        return json({"phone": digits, "removed": True})

    return bp
