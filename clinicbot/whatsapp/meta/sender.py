"""Delivers outbox rows through the Cloud API, respecting the 24-hour customer-service window.

In the path of a message: the delivery worker (:mod:`clinicbot.whatsapp.delivery`) hands each
``meta`` row to :class:`MetaSender`, which checks the window
(:mod:`clinicbot.whatsapp.meta.service_window`) and calls
:class:`~clinicbot.whatsapp.meta.client.MetaClient`.

Inside the window: text, or an interactive list for menus. Outside it (a reminder to someone who
has not written for a day): the configured template with the text as its one body parameter;
without a template the row fails at once (retrying cannot open the window).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from clinicbot.services.api_log import record_in_background
from clinicbot.services.templates import LIST_BUTTON
from clinicbot.settings import Settings
from clinicbot.tenancy.sessions import clinic_session
from clinicbot.whatsapp.db_thread import run_db
from clinicbot.whatsapp.delivery import DeliveryFailed, OutgoingMessage
from clinicbot.whatsapp.meta.client import MetaClient
from clinicbot.whatsapp.meta.errors import MetaError
from clinicbot.whatsapp.meta.service_window import in_service_window

MAX_LIST_ROWS = 10


def _row(index: int, option: dict[str, Any]) -> dict[str, str]:
    row = {"id": str(option.get("id") or index), "title": str(option.get("title", ""))[:24]}
    if option.get("description"):
        row["description"] = str(option["description"])[:72]
    return row


class MetaSender:
    def __init__(
        self,
        client: MetaClient,
        template_name: str,
        template_language: str,
        engine: Engine | None = None,
    ) -> None:
        self._client = client
        self._engine = engine
        self._template_name = template_name
        self._template_language = template_language

    @classmethod
    def from_settings(cls, settings: Settings, engine: Engine | None = None) -> MetaSender:
        return cls(
            MetaClient.from_settings(settings, on_call=record_in_background),
            settings.meta_template_name,
            settings.meta_template_language,
            engine,
        )

    async def close(self) -> None:
        await self._client.close()

    async def send(self, message: OutgoingMessage) -> str:
        try:
            if not await run_db(self._window_open, message.phone, message.clinic_id):
                return await self._send_template(message)
            if message.options and len(message.options) <= MAX_LIST_ROWS:
                rows = [_row(index, option) for index, option in enumerate(message.options, 1)]
                return await self._client.send_list(message.phone, message.text, LIST_BUTTON, rows)
            return await self._client.send_text(message.phone, message.text)
        except MetaError as error:
            raise DeliveryFailed(str(error), retryable=error.retryable) from error

    def _window_open(self, phone: str, clinic_id: int) -> bool:
        """Whether the patient wrote to this clinic's number in the last 24 hours."""
        with clinic_session(clinic_id, self._engine) as session:
            return in_service_window(session, phone, "meta")

    async def _send_template(self, message: OutgoingMessage) -> str:
        if not self._template_name:
            raise DeliveryFailed(
                "outside the 24-hour window and META_TEMPLATE_NAME is not set", retryable=False
            )
        return await self._client.send_template(
            message.phone, self._template_name, self._template_language, [message.text]
        )
