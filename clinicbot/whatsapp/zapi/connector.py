"""Rasa channel connector for WhatsApp through Z-API (``credentials.yml`` names ``ZapiInput``).

In the path of a message: the first stop on the way in. Webhook: ``POST /webhooks/zapi/webhook``
(or ``…/webhook/<ZAPI_WEBHOOK_SECRET>``). Every request is authenticated (the ``z-api-token``
header equal to the instance token, and/or the secret path segment; then the ``instanceId``),
parsed (:mod:`clinicbot.whatsapp.zapi.parsing`), and stored before it is acknowledged; the Rasa
turn runs afterwards (:mod:`clinicbot.whatsapp.turns`) and the answers go through the outbox to
:class:`~clinicbot.whatsapp.zapi.sender.ZapiSender`. Rasa's stock connectors hold the HTTP
request open for the whole turn, and gateways retry slow webhooks.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime
from typing import Any

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from clinicbot.db.engine import session_scope
from clinicbot.settings import Settings, get_settings
from clinicbot.tenancy.delivery import ClinicSenders
from clinicbot.tenancy.registry import ClinicConfig, clinic_for_zapi_instance
from clinicbot.whatsapp.connector import WhatsAppInput
from clinicbot.whatsapp.db_thread import run_db
from clinicbot.whatsapp.delivery import DeliveryWorker, Sender
from clinicbot.whatsapp.events import InboundEvent, InboundKind, MalformedPayload
from clinicbot.whatsapp.rasa_output import WhatsAppOutput
from clinicbot.whatsapp.turns import OnNewMessage, TurnRunner
from clinicbot.whatsapp.webhook import read_json, same_secret
from clinicbot.whatsapp.zapi.parsing import parse_callback
from clinicbot.whatsapp.zapi.sender import ZapiSender

logger = logging.getLogger(__name__)


class ZapiOutput(WhatsAppOutput):
    channel = "zapi"


class ZapiInput(WhatsAppInput):
    """Receives Z-API webhooks: messages, delivery/status and connection callbacks."""

    output_class = ZapiOutput

    @classmethod
    def name(cls) -> str:
        return "zapi"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> ZapiInput:
        settings = get_settings()
        credentials = credentials or {}
        return cls(
            instance_id=credentials.get("instance_id") or settings.zapi_instance_id,
            instance_token=credentials.get("instance_token") or settings.zapi_instance_token,
            webhook_secret=credentials.get("webhook_secret") or settings.zapi_webhook_secret,
            settings=settings,
        )

    def __init__(
        self,
        instance_id: str,
        instance_token: str,
        webhook_secret: str = "",
        *,
        settings: Settings | None = None,
        worker: DeliveryWorker | None = None,
    ) -> None:
        super().__init__(settings, worker)
        self.instance_id = instance_id
        self.instance_token = instance_token
        self.webhook_secret = webhook_secret
        self.connection: dict[str, Any] = {"state": "unknown", "since": None}

    def make_sender(self) -> Sender:
        return ClinicSenders(ZapiSender.from_settings, self.settings, self.worker.engine)

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        webhook, turns = self.webhook_blueprint(on_new_message)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok", "connection": self.connection})

        @webhook.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> HTTPResponse:
            return await self._receive(request, turns, path_secret=None)

        @webhook.route("/webhook/<secret>", methods=["POST"], stream=True)
        async def receive_with_secret(request: Request, secret: str) -> HTTPResponse:
            return await self._receive(request, turns, path_secret=secret)

        return webhook

    def _auth_problem(
        self, request: Request, path_secret: str | None, instance_token: str
    ) -> str | None:
        """Why the request is not from the clinic's Z-API instance, or None."""
        header = request.headers.get("z-api-token")
        if self.webhook_secret:
            if not same_secret(path_secret, self.webhook_secret):
                return "missing or wrong secret path segment"
            if header is not None and not same_secret(header, instance_token):
                return "wrong z-api-token header"
            return None
        if path_secret is not None:
            return "secret path segment not configured"
        if not same_secret(header, instance_token):
            return "missing or wrong z-api-token header"
        return None

    def _clinic_of(self, instance_id: str) -> ClinicConfig | None:
        """The active clinic of this Z-API instance: the default clinic's is the configured
        one (``ZAPI_INSTANCE_ID`` or the credentials), any other is looked up in ``clinics``."""
        settings = dataclasses.replace(
            self.settings,
            zapi_instance_id=self.instance_id,
            zapi_instance_token=self.instance_token,
        )
        with session_scope(self.worker.engine) as session:
            return clinic_for_zapi_instance(session, instance_id, settings)

    async def _receive(
        self, request: Request, turns: TurnRunner, path_secret: str | None
    ) -> HTTPResponse:
        """The webhook's ``instanceId`` selects the clinic, whose instance token authenticates
        the request. A request naming no active clinic's instance is checked against the
        default clinic's token: 401 when that fails too (nothing is revealed to a stranger),
        else 404 (a gateway of ours pointing at an unknown or disabled instance)."""
        body = await self.read_webhook_body(request)
        if body is None:
            return response.json({"error": "payload too large"}, status=413)
        malformed: MalformedPayload | None = None  # answered once the sender is authenticated
        try:
            payload = read_json(body)
        except MalformedPayload as error:
            payload, malformed = None, error
        instance_id = payload.get("instanceId") if isinstance(payload, dict) else None
        clinic = await run_db(self._clinic_of, instance_id if isinstance(instance_id, str) else "")
        token = clinic.zapi_instance_token if clinic is not None else self.instance_token
        problem = self._auth_problem(request, path_secret, token)
        if problem:
            logger.warning(
                "zapi webhook from %s rejected: %s (clinic %s)",
                request.remote_addr or request.ip,
                problem,
                clinic.slug if clinic is not None else "unknown",
            )
            return response.json({"error": "unauthorized"}, status=401)
        try:
            if malformed is not None:
                raise malformed
            event = parse_callback(payload)
        except MalformedPayload as error:
            logger.warning("zapi webhook rejected: malformed body (%s)", error)
            return response.json({"error": "malformed payload"}, status=400)
        if clinic is None:
            logger.warning("zapi webhook rejected: unknown instanceId %.40r", instance_id)
            return response.json({"error": "unknown instance"}, status=404)
        event = dataclasses.replace(event, clinic_id=clinic.id)
        return response.json({"status": await self._handle(event, turns)})

    async def _handle(self, event: InboundEvent, turns: TurnRunner) -> str:
        outcome = await self.handle_event(event, turns)
        if outcome is not None:
            return outcome
        if event.kind is InboundKind.CONNECTION:
            self._record_connection(event)
            return "recorded"
        logger.info("zapi callback ignored: %s", event.reason)
        return "ignored"

    def _record_connection(self, event: InboundEvent) -> None:
        since = event.moment.isoformat() if isinstance(event.moment, datetime) else None
        self.connection = {"state": event.reason, "since": since}
        if event.reason == "disconnected":
            logger.warning("zapi instance disconnected: %s", event.data.get("error") or "no reason")
        else:
            logger.info("zapi instance connected")
