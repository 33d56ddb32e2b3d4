"""Rasa channel connector for Meta's WhatsApp Cloud API (``credentials.yml`` names ``MetaInput``).

In the path of a message: the first stop on the way in.

- ``GET  /webhooks/meta/webhook``: the subscription handshake (``hub.mode=subscribe``,
  ``hub.verify_token``) answered with ``hub.challenge`` as plain text, else 403.
- ``POST /webhooks/meta/webhook``: ``X-Hub-Signature-256`` checked over the raw body (401 and a
  log line when missing or wrong), then parsed (:mod:`clinicbot.whatsapp.meta.parsing`); each
  message is stored and acknowledged like Z-API's (:mod:`clinicbot.whatsapp.turns`) and each
  status updates the outbox.

Answers go through the outbox with ``channel="meta"``; :mod:`clinicbot.whatsapp.meta.sender`
switches to the configured template outside the 24-hour customer-service window.
"""

from __future__ import annotations

import logging
from typing import Any

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from clinicbot.settings import Settings, get_settings
from clinicbot.whatsapp.connector import WhatsAppInput
from clinicbot.whatsapp.delivery import DeliveryWorker, Sender
from clinicbot.whatsapp.events import InboundEvent, MalformedPayload
from clinicbot.whatsapp.meta.parsing import parse_webhook
from clinicbot.whatsapp.meta.sender import MetaSender
from clinicbot.whatsapp.meta.signature import is_valid
from clinicbot.whatsapp.rasa_output import WhatsAppOutput
from clinicbot.whatsapp.turns import OnNewMessage, TurnRunner
from clinicbot.whatsapp.webhook import read_json, same_secret

logger = logging.getLogger(__name__)


class MetaOutput(WhatsAppOutput):
    channel = "meta"


class MetaInput(WhatsAppInput):
    """Receives Cloud API webhooks: messages and statuses of one phone number."""

    output_class = MetaOutput

    @classmethod
    def name(cls) -> str:
        return "meta"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> MetaInput:
        settings = get_settings()
        credentials = credentials or {}
        return cls(
            app_secret=credentials.get("app_secret") or settings.meta_app_secret,
            verify_token=credentials.get("verify_token") or settings.meta_verify_token,
            phone_number_id=credentials.get("phone_number_id") or settings.meta_phone_number_id,
            settings=settings,
        )

    def __init__(
        self,
        app_secret: str,
        verify_token: str,
        phone_number_id: str,
        *,
        settings: Settings | None = None,
        worker: DeliveryWorker | None = None,
    ) -> None:
        super().__init__(settings, worker)
        self.app_secret = app_secret
        self.verify_token = verify_token
        self.phone_number_id = phone_number_id

    def make_sender(self) -> Sender:
        return MetaSender.from_settings(self.settings, self.worker.engine)

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        webhook, turns = self.webhook_blueprint(on_new_message)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            mode = request.args.get("hub.mode")
            token = request.args.get("hub.verify_token") or ""
            challenge = request.args.get("hub.challenge") or ""
            if mode == "subscribe" and same_secret(token, self.verify_token):
                return response.text(challenge)
            logger.warning("meta webhook verification refused (mode=%r)", mode)
            return response.text("forbidden", status=403)

        @webhook.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> HTTPResponse:
            return await self._receive(request, turns)

        return webhook

    async def _receive(self, request: Request, turns: TurnRunner) -> HTTPResponse:
        body = await self.read_webhook_body(request)
        if body is None:
            return response.json({"error": "payload too large"}, status=413)
        if not is_valid(body, request.headers.get("x-hub-signature-256"), self.app_secret):
            logger.warning(
                "meta webhook from %s rejected: missing or wrong X-Hub-Signature-256",
                request.remote_addr or request.ip,
            )
            return response.json({"error": "invalid signature"}, status=401)
        try:
            events = parse_webhook(read_json(body), self.phone_number_id)
        except MalformedPayload as error:
            logger.warning("meta webhook rejected: malformed body (%s)", error)
            return response.json({"error": "malformed payload"}, status=400)
        outcomes = [await self._handle(event, turns) for event in events]
        return response.json({"status": "ok", "events": outcomes})

    async def _handle(self, event: InboundEvent, turns: TurnRunner) -> str:
        outcome = await self.handle_event(event, turns)
        if outcome is None:
            logger.info("meta event ignored: %s", event.reason)
            return "ignored"
        return outcome
