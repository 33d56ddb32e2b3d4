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

import dataclasses
import logging
from typing import Any

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from clinicbot.db.engine import session_scope
from clinicbot.settings import Settings, get_settings
from clinicbot.tenancy.delivery import ClinicSenders
from clinicbot.tenancy.registry import ClinicConfig, clinic_for_meta_phone
from clinicbot.whatsapp.connector import WhatsAppInput
from clinicbot.whatsapp.db_thread import run_db
from clinicbot.whatsapp.delivery import DeliveryWorker, Sender
from clinicbot.whatsapp.events import InboundEvent, MalformedPayload
from clinicbot.whatsapp.meta.parsing import parse_webhook, phone_number_ids
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
        engine = self.worker.engine
        return ClinicSenders(
            lambda settings: MetaSender.from_settings(settings, engine), self.settings, engine
        )

    def _clinics_of(self, numbers: set[str]) -> dict[str, ClinicConfig | None]:
        """The active clinic of each phone number id (the default clinic's is the configured
        one, ``META_PHONE_NUMBER_ID`` or the credentials; others from ``clinics``)."""
        settings = dataclasses.replace(
            self.settings,
            meta_phone_number_id=self.phone_number_id,
            meta_app_secret=self.app_secret,
            meta_verify_token=self.verify_token,
        )
        with session_scope(self.worker.engine) as session:
            return {number: clinic_for_meta_phone(session, number, settings) for number in numbers}

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
        """Each change's ``phone_number_id`` selects its clinic, whose app secret must have
        signed the body (the default clinic's when it names none: 401 when that fails). Then a
        number no active clinic has is a 404."""
        body = await self.read_webhook_body(request)
        if body is None:
            return response.json({"error": "payload too large"}, status=413)
        malformed: MalformedPayload | None = None  # answered once the signature is checked
        payload: Any = None
        try:
            payload = read_json(body)
            parse_webhook(payload)  # the shape, before anything is looked up
            numbers = phone_number_ids(payload)
        except MalformedPayload as error:
            malformed, numbers = error, set()
        clinics = await run_db(self._clinics_of, numbers)
        signature = request.headers.get("x-hub-signature-256")
        secrets = {clinic.meta_app_secret for clinic in clinics.values() if clinic is not None}
        if not all(is_valid(body, signature, secret) for secret in secrets or {self.app_secret}):
            logger.warning(
                "meta webhook from %s rejected: missing or wrong X-Hub-Signature-256",
                request.remote_addr or request.ip,
            )
            return response.json({"error": "invalid signature"}, status=401)
        if malformed is not None:
            logger.warning("meta webhook rejected: malformed body (%s)", malformed)
            return response.json({"error": "malformed payload"}, status=400)
        unknown = sorted(number for number, clinic in clinics.items() if clinic is None)
        if unknown:
            logger.warning("meta webhook rejected: unknown phone_number_id %.40r", unknown[0])
            return response.json({"error": "unknown phone number"}, status=404)
        events = [
            dataclasses.replace(event, clinic_id=clinic.id)
            for number, clinic in sorted(clinics.items())
            if clinic is not None
            for event in parse_webhook(payload, number)
            if event.reason != "other phone number"
        ]
        if not clinics:  # no change for a phone number: only events to ignore
            events = parse_webhook(payload, self.phone_number_id)
        outcomes = [await self._handle(event, turns) for event in events]
        return response.json({"status": "ok", "events": outcomes})

    async def _handle(self, event: InboundEvent, turns: TurnRunner) -> str:
        outcome = await self.handle_event(event, turns)
        if outcome is None:
            logger.info("meta event ignored: %s", event.reason)
            return "ignored"
        return outcome
