"""A patient's LGPD rights over the API: export of the conversation history, and erasure.

Erasure is the staff endpoint's (``DELETE /staff/patients/<phone>``): rasa pauses the
conversation first (waiting for a turn in flight), then :func:`erase_patient` deletes it all.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json
from sqlalchemy import select

from clinicbot.api import fields
from clinicbot.api.endpoint import endpoint, engine_of, run_sync
from clinicbot.api.keys import Caller
from clinicbot.api.pagination import entity_page, page_args
from clinicbot.api.problems import Problem
from clinicbot.db.engine import session_scope
from clinicbot.db.models import ConversationMessage
from clinicbot.pii import mask_phone
from clinicbot.services.erasure import erase_patient, has_conversation
from clinicbot.services.handoff import pause_in_rasa
from clinicbot.tenancy.senders import sender_id

logger = logging.getLogger(__name__)


def message_item(row: ConversationMessage) -> dict[str, Any]:
    return {
        "id": row.id,
        "conversation_id": row.conversation_id,
        "direction": row.direction,
        "text": row.text,
        "intent": row.intent,
        "channel": row.channel,
        "status": row.status,
        "created_at": row.created_at.isoformat(),
    }


def _assistant_busy(status: int, english: str, portuguese: str) -> Problem:
    return Problem(
        status,
        "assistant-unavailable",
        ("Assistant unavailable", "Assistente indisponível"),
        (english, portuguese),
        headers={"Retry-After": "5"},
    )


def patients_blueprint() -> Blueprint:
    bp = Blueprint("api_patients", url_prefix="/api/v1/patients")

    @bp.get("/<phone>/conversations")
    @endpoint("admin")
    async def export(request: Request, caller: Caller, phone: str) -> HTTPResponse:
        digits = fields.phone(phone)
        after, limit = page_args(request.args)
        query = select(ConversationMessage).where(ConversationMessage.phone == digits)
        engine = engine_of(request)
        return json(
            await run_sync(
                entity_page, engine, query, ConversationMessage.id, after, limit, message_item
            )
        )

    @bp.delete("/<phone>")
    @endpoint("admin")
    async def erase(request: Request, caller: Caller, phone: str) -> HTTPResponse:
        digits = fields.phone(phone)
        engine = engine_of(request)
        if await run_sync(has_conversation, engine, digits):
            try:
                await pause_in_rasa(
                    request.app.ctx.http,
                    request.app.ctx.settings,
                    sender_id(caller.clinic_id, digits),
                )
            except asyncio.TimeoutError:
                raise _assistant_busy(
                    504,
                    "A conversation turn is still running; try again.",
                    "Um turno da conversa ainda está em andamento; tente de novo.",
                ) from None
            except aiohttp.ClientConnectionError:
                logger.warning("API erasure of %s: rasa is not running", mask_phone(digits))
            except aiohttp.ClientError:
                raise _assistant_busy(
                    502,
                    "The assistant did not answer; try again.",
                    "O assistente não respondeu; tente de novo.",
                ) from None

        def run() -> dict[str, int]:
            with session_scope(engine) as session:
                return erase_patient(session, digits)

        return json({"phone": digits, "erased": await run_sync(run)})

    return bp
