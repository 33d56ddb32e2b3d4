"""Rasa output channel for WhatsApp: the assistant's answers go into the outbox.

In the path of a message: the first stop on the way out. Rasa hands each answer of a turn to
:class:`WhatsAppOutput`, which shapes it for WhatsApp (:mod:`clinicbot.whatsapp.formatting`),
adds it to the outbox (:func:`clinicbot.whatsapp.outbox.enqueue_text`) and wakes the delivery
worker. Nothing is sent from inside the Rasa turn: answers are durable and ordered per phone,
so an outage of the gateway delays answers instead of losing them.

The answers to a patient's message are keyed by that message and their position in the turn, so
a turn that failed halfway and runs again (:mod:`clinicbot.whatsapp.turns`) does not enqueue
what it had already said; they are worth delivering for
:data:`~clinicbot.whatsapp.outbox.REPLY_SHELF_LIFE` after the message.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from rasa.core.channels.channel import OutputChannel
from sqlalchemy.engine import Engine

from clinicbot.db.types import utcnow
from clinicbot.tenancy.senders import split_sender_id
from clinicbot.tenancy.sessions import clinic_session
from clinicbot.whatsapp.db_thread import run_db
from clinicbot.whatsapp.formatting import numbered_menu, split_message
from clinicbot.whatsapp.outbox import REPLY_SHELF_LIFE, enqueue_text


class WhatsAppOutput(OutputChannel):
    """Enqueues answers for one channel; ``in_reply_to``/``received_at`` link them to a message.

    Each provider's connector module subclasses it with its ``channel`` name.
    """

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
        self._enqueued = 0  # messages of this turn so far

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
        self, recipient_id: str, parts: list[str], options: list[dict[str, Any]] | None = None
    ) -> None:
        """``recipient_id`` is Rasa's sender id: the clinic's and the patient's phone."""
        if not parts:
            return
        clinic_id, phone = split_sender_id(recipient_id)
        latency_ms = deliver_by = None
        if self._received_at is not None:
            latency_ms = int((utcnow() - self._received_at).total_seconds() * 1000)
            deliver_by = self._received_at + REPLY_SHELF_LIFE
        first = self._enqueued
        self._enqueued += len(parts)

        def write() -> None:
            with clinic_session(clinic_id, self._engine) as session:
                for index, part in enumerate(parts, 1):
                    enqueue_text(
                        session,
                        phone,
                        part,
                        channel=self.channel,
                        dedupe_key=self._reply_key(first + index),
                        options=options if index == len(parts) else None,
                        in_reply_to=self._in_reply_to,
                        latency_ms=latency_ms,
                        deliver_by=deliver_by,
                    )

        await run_db(write)
        self._wake()

    def _reply_key(self, position: int) -> str | None:
        """The outbox key of the turn's ``position``-th message (None outside a turn)."""
        if self._in_reply_to is None:
            return None
        return f"reply:{self.channel}:{self._in_reply_to}:{position}"
