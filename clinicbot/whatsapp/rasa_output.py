"""Rasa output channel for WhatsApp: the assistant's answers go into the outbox.

Nothing is sent from inside the Rasa turn: answers are enqueued (durable, ordered per phone) and
the process's outbox worker is woken to deliver them, so an outage of the gateway delays
answers instead of losing them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from rasa.core.channels.channel import OutputChannel
from sqlalchemy.engine import Engine

from clinicbot.channels.dbthread import run_db
from clinicbot.channels.formatting import numbered_menu, split_message
from clinicbot.channels.outbox import enqueue_text
from clinicbot.db.engine import session_scope
from clinicbot.db.types import utcnow


class WhatsAppOutput(OutputChannel):
    """Enqueues answers for one channel; ``in_reply_to``/``received_at`` link them to a message."""

    channel = "whatsapp"

    @classmethod
    def name(cls) -> str:
        return cls.channel

    def __init__(
        self,
        wake: Callable[[], None],
        *,
        engine: Engine | None = None,
        in_reply_to: str | None = None,
        received_at: datetime | None = None,
    ) -> None:
        self._wake = wake
        self._engine = engine
        self._in_reply_to = in_reply_to
        self._received_at = received_at

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self._enqueue(recipient_id, split_message(text))

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        """A numbered menu: a WhatsApp list where the channel can, its numbered text otherwise."""
        options = [
            {"id": str(button.get("payload") or index), "title": str(button.get("title", ""))}
            for index, button in enumerate(buttons, 1)
        ]
        await self._enqueue(recipient_id, split_message(numbered_menu(text, buttons)), options)

    async def _enqueue(
        self, phone: str, parts: list[str], options: list[dict[str, Any]] | None = None
    ) -> None:
        if not parts:
            return
        latency_ms = None
        if self._received_at is not None:
            latency_ms = int((utcnow() - self._received_at).total_seconds() * 1000)

        def write() -> None:
            with session_scope(self._engine) as session:
                for index, part in enumerate(parts, 1):
                    enqueue_text(
                        session,
                        phone,
                        part,
                        channel=self.channel,
                        options=options if index == len(parts) else None,
                        in_reply_to=self._in_reply_to,
                        latency_ms=latency_ms,
                    )

        await run_db(write)
        self._wake()


class ZapiOutput(WhatsAppOutput):
    channel = "zapi"


class MetaOutput(WhatsAppOutput):
    channel = "meta"
