"""The sandbox WhatsApp simulator: a chat page that talks to the assistant through Z-API's path.

What the person types becomes a genuine Z-API ``ReceivedCallback`` posted to the rasa server's
Z-API webhook (with the instance's ``z-api-token`` header), exactly as Z-API would post it. The
assistant's answers go out through the Z-API client to the sandbox fake, and the page polls the
fake's record of delivered messages. Nothing here shortcuts the connector.

- ``GET  /simulator``: the page (static files under ``/simulator/static/``)
- ``GET  /simulator/api/status``: is the rasa server up?
- ``POST /simulator/api/send``: ``{"phone", "name"?, "text"}`` or ``{"phone", "name"?, "reply":
  {"type": "list"|"button", "id", "title", "referenceMessageId"?}}``
- ``GET  /simulator/api/messages?phone=…&after=<seq>``: messages delivered to that phone
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
from pathlib import Path
from typing import Any

import aiohttp
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json
from sanic.response import html as html_response

from clinicbot.pii import mask_phone
from clinicbot.services.clinic import load_clinic
from clinicbot.settings import Settings
from clinicbot.whatsapp.zapi.payloads import (
    button_reply_content,
    list_reply_content,
    received_callback,
    text_content,
)

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
# The WhatsApp number the sandbox instance pretends to be connected to.
SANDBOX_CONNECTED_PHONE = "551130001000"
WEBHOOK_PATH = "/webhooks/zapi/webhook"
# The connector may hold the webhook open for a whole Rasa turn; replies arrive by polling anyway.
WEBHOOK_TIMEOUT = aiohttp.ClientTimeout(total=60)
PROBE_TIMEOUT = aiohttp.ClientTimeout(total=2)
MAX_TEXT = 4096
_PHONE_DIGITS = re.compile(r"^\d{10,15}$")


class BadRequest(ValueError):
    """The page sent something the simulator cannot turn into a callback."""


def _phone(body: dict[str, Any]) -> str:
    phone = re.sub(r"\D", "", str(body.get("phone") or ""))
    if not _PHONE_DIGITS.match(phone):
        raise BadRequest("Telefone inválido: use DDI + DDD + número, por exemplo 5511987654321.")
    return phone


def _content(body: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The callback's content object and its ``referenceMessageId``."""
    reply = body.get("reply")
    if isinstance(reply, dict):
        reply_id, title = str(reply.get("id") or ""), str(reply.get("title") or "")
        if not reply_id or not title:
            raise BadRequest("Resposta sem id ou título.")
        reference = str(reply.get("referenceMessageId") or "") or None
        if reply.get("type") == "list":
            return list_reply_content(reply_id, title), reference
        if reply.get("type") == "button":
            return button_reply_content(reply_id, title), reference
        raise BadRequest("Tipo de resposta desconhecido.")
    text = str(body.get("text") or "").strip()
    if not text:
        raise BadRequest("Mensagem vazia.")
    if len(text) > MAX_TEXT:
        raise BadRequest(f"Mensagem longa demais (máximo {MAX_TEXT} caracteres).")
    return text_content(text), None


def build_callback(settings: Settings, body: Any) -> dict[str, Any]:
    """The ``ReceivedCallback`` Z-API would post for what the person did on the page."""
    if not isinstance(body, dict):
        raise BadRequest("Corpo da requisição inválido.")
    content, reference = _content(body)
    name = str(body.get("name") or "").strip()[:60]
    return received_callback(
        settings.zapi_instance_id,
        _phone(body),
        content,
        sender_name=name,
        connected_phone=SANDBOX_CONNECTED_PHONE,
        reference_message_id=reference,
    )


def _rasa_url(settings: Settings, path: str = "/") -> str:
    return f"http://127.0.0.1:{settings.rasa_port}{path}"


def simulator_blueprint() -> Blueprint:
    bp = Blueprint("simulator")
    bp.static("/simulator/static", str(STATIC_DIR), name="simulator_static")
    page = (STATIC_DIR / "simulator.html").read_text(encoding="utf-8")

    @bp.get("/simulator")
    async def simulator_page(request: Request) -> HTTPResponse:
        return html_response(page.replace("{{clinic_name}}", html.escape(load_clinic().name)))

    @bp.get("/simulator/api/status")
    async def status(request: Request) -> HTTPResponse:
        session: aiohttp.ClientSession = request.app.ctx.http
        try:
            async with session.get(_rasa_url(request.app.ctx.settings), timeout=PROBE_TIMEOUT):
                rasa_up = True
        except (aiohttp.ClientError, asyncio.TimeoutError):
            rasa_up = False
        return json({"rasa": "up" if rasa_up else "down", "clinicName": load_clinic().name})

    @bp.post("/simulator/api/send")
    async def send(request: Request) -> HTTPResponse:
        settings: Settings = request.app.ctx.settings
        try:
            callback = build_callback(settings, request.json)
        except BadRequest as error:
            return json({"error": "bad_request", "message": str(error)}, status=400)
        session: aiohttp.ClientSession = request.app.ctx.http
        masked = mask_phone(callback["phone"])
        try:
            async with session.post(
                _rasa_url(settings, WEBHOOK_PATH),
                json=callback,
                headers={"z-api-token": settings.zapi_instance_token},
                timeout=WEBHOOK_TIMEOUT,
            ) as response:
                webhook_status = response.status
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            reason = str(error) or type(error).__name__
            logger.warning("simulator: webhook for %s failed: %s", masked, reason)
            return json(
                {"error": "rasa_unavailable", "message": "O assistente está iniciando…"},
                status=503,
            )
        logger.info(
            "simulator: %s from %s → webhook HTTP %d", callback["messageId"], masked, webhook_status
        )
        answer = {
            "messageId": callback["messageId"],
            "momment": callback["momment"],
            "webhookStatus": webhook_status,
        }
        return json(answer, status=200 if webhook_status < 300 else 502)

    @bp.get("/simulator/api/messages")
    async def messages(request: Request) -> HTTPResponse:
        settings: Settings = request.app.ctx.settings
        params = {
            "phone": re.sub(r"\D", "", request.args.get("phone", "")),
            "after": request.args.get("after", "0"),
        }
        session: aiohttp.ClientSession = request.app.ctx.http
        url = f"{settings.zapi_base_url.rstrip('/')}/__sandbox/zapi/messages"
        try:
            async with session.get(url, params=params, timeout=PROBE_TIMEOUT) as response:
                return json(await response.json(content_type=None), status=response.status)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
            return json(
                {"error": "sandbox_unavailable", "message": "Sandbox do Z-API fora do ar."},
                status=502,
            )

    return bp
