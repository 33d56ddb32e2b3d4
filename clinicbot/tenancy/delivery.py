"""The outbox sends each message from its clinic's WhatsApp account.

:class:`ClinicSenders` is the delivery worker's sender for one channel: rows of the default
clinic go through the channel's sender built from the environment, as before; any other
clinic's through a sender built from that clinic's settings
(:meth:`~clinicbot.tenancy.registry.ClinicConfig.settings`), made on its first message and
kept while the process runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.engine import Engine

from clinicbot.db.engine import session_scope
from clinicbot.settings import Settings
from clinicbot.tenancy import DEFAULT_CLINIC_ID
from clinicbot.tenancy.registry import ClinicConfig, get_clinic
from clinicbot.whatsapp.db_thread import run_db
from clinicbot.whatsapp.delivery import DeliveryFailed, OutgoingMessage, Sender

logger = logging.getLogger(__name__)


class ClinicSenders:
    """A :class:`~clinicbot.whatsapp.delivery.Sender` choosing the sending clinic per row."""

    def __init__(
        self,
        build: Callable[[Settings], Sender],
        settings: Settings,
        engine: Engine | None = None,
    ) -> None:
        self._build = build
        self._settings = settings
        self._engine = engine
        self._senders: dict[int, Sender] = {DEFAULT_CLINIC_ID: build(settings)}

    async def send(self, message: OutgoingMessage) -> str:
        sender = self._senders.get(message.clinic_id)
        if sender is None:
            clinic = await run_db(self._clinic, message.clinic_id)
            if clinic is None or not clinic.active:
                raise DeliveryFailed(
                    f"clinic {message.clinic_id} is unknown or disabled", retryable=False
                )
            sender = self._senders.setdefault(
                message.clinic_id, self._build(clinic.settings(self._settings))
            )
        return await sender.send(message)

    def _clinic(self, clinic_id: int) -> ClinicConfig | None:
        with session_scope(self._engine) as session:
            return get_clinic(session, clinic_id, self._settings)

    async def close(self) -> None:
        for sender in self._senders.values():
            await sender.close()
