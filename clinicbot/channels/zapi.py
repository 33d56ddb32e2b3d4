"""Rasa channel connector for WhatsApp through Z-API.

Webhook: ``POST /webhooks/zapi/webhook``. The request is authenticated, parsed, de-duplicated and
acknowledged at once; the Rasa turn runs afterwards in the background, in arrival order per
patient, and the answers go out through Z-API's ``send-text`` / ``send-option-list``. (Rasa's
stock connectors hold the HTTP request open for the whole turn, and gateways retry slow webhooks.)
"""

from __future__ import annotations

import hmac
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from clinicbot.channels.formatting import numbered_menu, split_message
from clinicbot.channels.serial import SerialDispatcher
from clinicbot.channels.zapi_inbound import (
    InboundEvent,
    InboundKind,
    parse_callback,
)
from clinicbot.pii import mask_phone
from clinicbot.settings import get_settings
from clinicbot.zapi import ZapiClient, ZapiError, ZapiOption

logger = logging.getLogger(__name__)

ONLY_TEXT_REPLY = (
    "Por enquanto só consigo ler mensagens de texto 🙂 Pode me escrever o que precisa?"
)
MAX_LIST_OPTIONS = 10  # WhatsApp's limit for rows in one list message


class RecentIds:
    """The last ``capacity`` message ids seen, to drop a webhook delivered twice."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity

    def seen_before(self, message_id: str) -> bool:
        """Record ``message_id``; True when it was already recorded."""
        if message_id in self._ids:
            return True
        self._ids[message_id] = None
        if len(self._ids) > self._capacity:
            self._ids.popitem(last=False)
        return False


class ZapiOutput(OutputChannel):
    """Sends the assistant's answers to one Z-API instance."""

    @classmethod
    def name(cls) -> str:
        return "zapi"

    def __init__(self, client: ZapiClient, menus_offered: dict[str, bool]) -> None:
        self._client = client
        self._menus_offered = menus_offered

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        self._menus_offered[recipient_id] = False
        for part in split_message(text):
            await self._client.send_text(recipient_id, part)

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        """A numbered menu; as a WhatsApp option list when it fits, else as numbered text."""
        menu = numbered_menu(text, buttons)
        if not 0 < len(buttons) <= MAX_LIST_OPTIONS:
            await self.send_text_message(recipient_id, menu)
        else:
            options = [
                ZapiOption(
                    id=str(button.get("payload") or index),
                    title=str(button.get("title", ""))[:24],
                    description=str(button.get("title", ""))[24:72],
                )
                for index, button in enumerate(buttons, 1)
            ]
            try:
                await self._client.send_option_list(
                    recipient_id, menu, title="Opções", button_label="Ver opções", options=options
                )
            except ZapiError as error:
                if error.retryable:
                    raise
                logger.info("option list refused (%s); sending numbered text", error.status)
                await self.send_text_message(recipient_id, menu)
        self._menus_offered[recipient_id] = True


class ZapiInput(InputChannel):
    """Receives Z-API webhooks (``ReceivedCallback`` and the status callbacks)."""

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
            client=ZapiClient.from_settings(settings),
        )

    def __init__(self, instance_id: str, instance_token: str, client: ZapiClient) -> None:
        self.instance_id = instance_id
        self.instance_token = instance_token
        self.client = client
        self.dispatcher = SerialDispatcher()
        self.recent_ids = RecentIds()
        # Whether the last answer to a phone was a numbered menu: NLU reads "segunda" as the
        # second option then, and as Monday otherwise.
        self.menus_offered: dict[str, bool] = {}

    def get_output_channel(self) -> OutputChannel:
        return ZapiOutput(self.client, self.menus_offered)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint(f"zapi_webhook_{id(self)}", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            return await self._receive(request, on_new_message)

        return webhook

    async def _receive(
        self, request: Request, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> HTTPResponse:
        if not self._authenticated(request):
            logger.warning("zapi webhook rejected: bad or missing z-api-token")
            return response.json({"error": "unauthorized"}, status=401)
        try:
            payload = request.json
            event = parse_callback(payload)
        except Exception as error:  # invalid JSON raises inside sanic's request.json
            logger.warning("zapi webhook rejected: malformed body (%s)", error)
            return response.json({"error": "malformed payload"}, status=400)
        if payload.get("instanceId") not in (None, self.instance_id):
            logger.warning("zapi webhook rejected: unknown instanceId")
            return response.json({"error": "unknown instance"}, status=403)

        if event.kind in (InboundKind.STATUS, InboundKind.IGNORED):
            logger.debug("zapi callback %s: %s", event.kind.value, event.reason)
            return response.json({"status": event.kind.value})
        if event.message_id and self.recent_ids.seen_before(event.message_id):
            logger.info("zapi duplicate delivery of %s ignored", event.message_id)
            return response.json({"status": "duplicate"})

        logger.info(
            "zapi %s from %s (%s)", event.kind.value, mask_phone(event.phone), event.message_id
        )
        self.dispatcher.submit(event.phone, lambda: self._handle(event, on_new_message))
        return response.json({"status": "accepted"})

    def _authenticated(self, request: Request) -> bool:
        token = request.headers.get("z-api-token", "")
        return bool(self.instance_token) and hmac.compare_digest(token, self.instance_token)

    async def _handle(
        self, event: InboundEvent, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> None:
        output = self.get_output_channel()
        if event.kind is InboundKind.UNSUPPORTED:
            await output.send_text_message(event.phone, ONLY_TEXT_REPLY)
            return
        metadata = {
            "channel": "zapi",
            "message_id": event.message_id,
            "options_offered": self.menus_offered.get(event.phone, False),
        }
        await on_new_message(
            UserMessage(
                text=event.text,
                output_channel=output,
                sender_id=event.phone,
                input_channel=self.name(),
                message_id=event.message_id or None,
                metadata=metadata,
            )
        )
