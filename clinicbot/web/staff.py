"""Staff endpoints: see who asked for a person, and hand a conversation back to the assistant.

Each clinic's staff have their own bearer token (:mod:`clinicbot.web.staff_auth`): every
endpoint acts for that clinic only, so another clinic's patients are not found.

Every failure of a dependency is a JSON answer staff can act on, never a 500: rasa refusing or
unreachable → 502, rasa too slow → 504, the database down → 503.
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from clinicbot.db.engine import session_scope
from clinicbot.db.models import ConversationDashboard
from clinicbot.pii import mask_phone
from clinicbot.ptbr.phones import normalize_phone
from clinicbot.services.erasure import erase_patient, has_conversation
from clinicbot.services.handoff import (
    OPEN_STATUSES,
    close_handoff,
    handoff_state,
    pause_in_rasa,
    resume_in_rasa,
)
from clinicbot.services.templates import BACK_TO_BOT
from clinicbot.settings import Settings
from clinicbot.tenancy.senders import sender_id
from clinicbot.web.database import service_engine
from clinicbot.web.staff_auth import for_staff, staff_clinic_id

logger = logging.getLogger(__name__)

TRY_AGAIN = "the handoff stays open; try again"


def staff_blueprint() -> Blueprint:
    staff = Blueprint("staff", url_prefix="/staff")

    @staff.get("/handoffs")
    @for_staff
    async def open_handoffs(request: Request) -> HTTPResponse:
        with session_scope(service_engine(request.app)) as session:
            rows = session.execute(
                select(ConversationDashboard)
                .where(ConversationDashboard.status.in_(OPEN_STATUSES))
                .order_by(ConversationDashboard.created_at)
            ).scalars()
            handoffs = [
                {
                    "phone": row.phone,
                    "status": row.status,
                    "reason": row.reason,
                    "since": row.created_at.isoformat(),
                }
                for row in rows
            ]
        return json({"handoffs": handoffs})

    @staff.post("/handoffs/<phone>/resume")
    @for_staff
    async def resume(request: Request, phone: str) -> HTTPResponse:
        """Let the assistant answer this phone again, then close the handoff.

        In that order, so that a failure leaves the handoff open for staff to try again; once
        it is done, doing it again answers 200 with ``already_resumed``.
        """
        phone = normalize_phone(phone)
        settings: Settings = request.app.ctx.settings
        engine = service_engine(request.app)
        try:
            state = handoff_state(phone, engine)
        except SQLAlchemyError as error:
            return _database_down(error)
        if state is None:
            return json({"error": "this phone never asked for a person"}, status=404)
        if state == "closed":
            return json({"resumed": phone, "already_resumed": True})
        try:
            await resume_in_rasa(request.app.ctx.http, settings, _conversation(phone))
        except asyncio.TimeoutError:
            logger.error("rasa did not answer the resume of %s in time", mask_phone(phone))
            return json({"error": f"the assistant did not answer in time; {TRY_AGAIN}"}, status=504)
        except aiohttp.ClientError as error:
            logger.error("could not resume %s in rasa: %s", mask_phone(phone), error)
            return json({"error": f"the assistant did not answer; {TRY_AGAIN}"}, status=502)
        try:
            close_handoff(phone, engine)
        except SQLAlchemyError as error:
            return _database_down(error)
        logger.info("assistant resumed for %s; handoff closed", mask_phone(phone))
        return json({"resumed": phone, "notice": BACK_TO_BOT})

    @staff.delete("/patients/<phone>")
    @for_staff
    async def erase(request: Request, phone: str) -> HTTPResponse:
        """Erase everything the assistant holds about a patient (LGPD); GestãoDS is untouched.

        The conversation is paused in rasa first, which waits for a turn in flight: otherwise
        that turn would save the history again right after it was erased.
        """
        phone = normalize_phone(phone)
        engine = service_engine(request.app)
        try:
            in_rasa = has_conversation(engine, phone)
        except SQLAlchemyError as error:
            return _database_down(error)
        try:
            if in_rasa:
                await pause_in_rasa(
                    request.app.ctx.http, request.app.ctx.settings, _conversation(phone)
                )
        except asyncio.TimeoutError:
            logger.error("erasure of %s: a turn is still running", mask_phone(phone))
            return json({"error": "a conversation turn is still running; try again"}, status=504)
        except aiohttp.ClientConnectionError:
            logger.warning(
                "erasure of %s: rasa is not running, no turn in flight", mask_phone(phone)
            )
        except aiohttp.ClientError as error:
            logger.error("erasure of %s: rasa refused the pause: %s", mask_phone(phone), error)
            return json({"error": "the assistant did not answer; try again"}, status=502)
        try:
            with session_scope(engine) as session:
                erased = erase_patient(session, phone)
        except SQLAlchemyError as error:
            return _database_down(error)
        return json({"erased": erased})

    return staff


def _database_down(error: SQLAlchemyError) -> HTTPResponse:
    logger.error("staff request: database unavailable: %s", type(error).__name__)
    return json({"error": f"the database is unavailable; {TRY_AGAIN}"}, status=503)


def _conversation(phone: str) -> str:
    """The rasa conversation of ``phone`` with the clinic acted for."""
    return sender_id(staff_clinic_id(), phone)
