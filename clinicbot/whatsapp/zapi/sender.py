"""Delivers outbox rows through Z-API: ``send-text``, or ``send-option-list`` for menus.

In the path of a message: the delivery worker (:mod:`clinicbot.whatsapp.delivery`) hands each
``zapi`` row to :class:`ZapiSender`, which calls
:class:`~clinicbot.whatsapp.zapi.client.ZapiClient`.
"""

from __future__ import annotations

import logging

from clinicbot.services.api_log import record_in_background
from clinicbot.services.templates import LIST_BUTTON, LIST_TITLE
from clinicbot.settings import Settings
from clinicbot.whatsapp.delivery import DeliveryFailed, OutgoingMessage
from clinicbot.whatsapp.zapi.client import ZapiClient
from clinicbot.whatsapp.zapi.errors import ZapiError
from clinicbot.whatsapp.zapi.messages import ZapiOption

logger = logging.getLogger(__name__)

MAX_LIST_OPTIONS = 10  # WhatsApp's limit for rows in one list message


class ZapiSender:
    """``delay_typing`` (1–15 s, 0 = off) shows "digitando…" before each text."""

    def __init__(self, client: ZapiClient, delay_typing: int = 0) -> None:
        if delay_typing and not 1 <= delay_typing <= 15:
            raise ValueError(f"ZAPI_DELAY_TYPING must be 0 (off) or 1-15 s, got {delay_typing}")
        self._client = client
        self._delay_typing = delay_typing or None

    @classmethod
    def from_settings(cls, settings: Settings) -> ZapiSender:
        client = ZapiClient.from_settings(settings, on_call=record_in_background)
        return cls(client, settings.zapi_delay_typing)

    async def close(self) -> None:
        await self._client.close()

    async def send(self, message: OutgoingMessage) -> str:
        try:
            if message.options and len(message.options) <= MAX_LIST_OPTIONS:
                return await self._send_list(message)
            return await self._client.send_text(message.phone, message.text, self._delay_typing)
        except ZapiError as error:
            raise DeliveryFailed(str(error), retryable=error.retryable) from error

    async def _send_list(self, message: OutgoingMessage) -> str:
        """A WhatsApp option list; its numbered text when Z-API refuses lists for this chat."""
        options = [
            ZapiOption(
                id=str(option.get("id") or index),
                title=str(option.get("title", ""))[:24],
                description=str(option.get("description") or str(option.get("title", ""))[24:72]),
            )
            for index, option in enumerate(message.options or [], 1)
        ]
        try:
            return await self._client.send_option_list(
                message.phone, message.text, LIST_TITLE, LIST_BUTTON, options
            )
        except ZapiError as error:
            if error.retryable:
                raise
            logger.info("option list refused (HTTP %s); sending numbered text", error.status)
            return await self._client.send_text(message.phone, message.text, self._delay_typing)
