"""Staff endpoints: see who asked for a person, and hand a conversation back to the assistant."""

from __future__ import annotations

import hmac
import logging

import aiohttp
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json
from sqlalchemy import select

from clinicbot.db.engine import session_scope
from clinicbot.db.models import ConversationDashboard
from clinicbot.pii import mask_phone
from clinicbot.ptbr.phones import normalize_phone
from clinicbot.services.erasure import erase_patient
from clinicbot.services.handoff import OPEN_STATUSES, close_handoff
from clinicbot.services.templates import BACK_TO_BOT
from clinicbot.settings import Settings

logger = logging.getLogger(__name__)

# The listen marks where the assistant takes over again: without it the messages the patient
# sent to the staff meanwhile would read, to the policies, as one unanswered turn.
RESUME_EVENTS = [{"event": "resume"}, {"event": "action", "name": "action_listen"}]


def staff_blueprint() -> Blueprint:
    staff = Blueprint("staff", url_prefix="/staff")

    @staff.get("/handoffs")
    async def open_handoffs(request: Request) -> HTTPResponse:
        if denied := _deny(request):
            return denied
        with session_scope() as session:
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
    async def resume(request: Request, phone: str) -> HTTPResponse:
        """Close the handoff and let the assistant answer this phone again."""
        if denied := _deny(request):
            return denied
        phone = normalize_phone(phone)
        settings: Settings = request.app.ctx.settings
        if not close_handoff(phone):
            return json({"error": "no open handoff for this phone"}, status=404)
        url = f"http://127.0.0.1:{settings.rasa_port}/conversations/{phone}/tracker/events"
        params = {"token": settings.rasa_api_token, "output_channel": "latest"}
        try:
            async with request.app.ctx.http.post(
                url, params=params, json=RESUME_EVENTS, timeout=10
            ) as answer:
                answer.raise_for_status()
        except aiohttp.ClientError as error:
            logger.error("could not resume %s in rasa: %s", mask_phone(phone), error)
            return json({"error": "the assistant did not answer; try again"}, status=502)
        logger.info("handoff of %s closed; assistant resumed", mask_phone(phone))
        return json({"resumed": phone, "notice": BACK_TO_BOT})

    @staff.delete("/patients/<phone>")
    async def erase(request: Request, phone: str) -> HTTPResponse:
        """Erase everything the assistant holds about a patient (LGPD); GestãoDS is untouched."""
        if denied := _deny(request):
            return denied
        with session_scope() as session:
            erased = erase_patient(session, normalize_phone(phone))
        return json({"erased": erased})

    return staff


def _deny(request: Request) -> HTTPResponse | None:
    """401 unless the request carries ``Authorization: Bearer <STAFF_TOKEN>``."""
    expected = request.app.ctx.settings.staff_token
    given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    if not expected or not hmac.compare_digest(given, expected):
        return json({"error": "unauthorized"}, status=401)
    return None
