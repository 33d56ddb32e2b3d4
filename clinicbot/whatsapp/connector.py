"""What the WhatsApp connectors share: the channel runtime, the webhook's lifecycle, and the
handling of a parsed event (a message for Rasa, or a delivery status for the outbox)."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from rasa.core.channels.channel import InputChannel, OutputChannel
from sanic import Blueprint

from clinicbot.channels.dbthread import run_db
from clinicbot.channels.inbound import InboundEvent, InboundKind
from clinicbot.channels.outbox import apply_status
from clinicbot.channels.output import WhatsAppOutput
from clinicbot.channels.pipeline import InboundPipeline, OnNewMessage
from clinicbot.channels.runtime import ChannelRuntime, get_runtime
from clinicbot.db.engine import session_scope

logger = logging.getLogger(__name__)


class StoredWebhookChannel(InputChannel):
    """A connector whose messages are stored, acknowledged, then run through Rasa in order."""

    output_class: ClassVar[type[WhatsAppOutput]]

    def __init__(self, runtime: ChannelRuntime | None = None) -> None:
        self._runtime = runtime
        self.pipeline: InboundPipeline | None = None

    @property
    def runtime(self) -> ChannelRuntime:
        if self._runtime is None:
            self._runtime = get_runtime()
        return self._runtime

    def get_output_channel(self) -> OutputChannel:
        """For messages Rasa sends on its own (``trigger_intent``): through the outbox too."""
        return self.output_class(self.runtime.worker.wake, engine=self.runtime.engine)

    def webhook_blueprint(self, on_new_message: OnNewMessage) -> tuple[Blueprint, InboundPipeline]:
        """A blueprint that starts and stops the runtime and the pipeline with the server."""
        pipeline = InboundPipeline(self.name(), self.output_class, self.runtime, on_new_message)
        self.pipeline = pipeline
        webhook = Blueprint(f"{self.name()}_webhook_{id(self)}", __name__)

        @webhook.listener("after_server_start")
        async def start(*_: Any) -> None:
            self.runtime.start()
            pipeline.start()

        @webhook.listener("before_server_stop")
        async def stop(*_: Any) -> None:
            await pipeline.stop()
            await self.runtime.stop()

        return webhook, pipeline

    async def handle_event(self, event: InboundEvent, pipeline: InboundPipeline) -> str | None:
        """Messages go to the pipeline, statuses to the outbox; None for anything else."""
        if event.kind in (InboundKind.MESSAGE, InboundKind.UNSUPPORTED):
            return "accepted" if await pipeline.accept(event) else "duplicate"
        if event.kind is InboundKind.STATUS and event.status is not None:
            update = event.status
            changed = await run_db(
                self._apply_status, update.external_ids, update.status, update.error
            )
            logger.info("%s %s: %d message(s) updated", self.name(), update.status, changed)
            return "recorded"
        return None

    def _apply_status(self, ids: tuple[str, ...], status: str, error: str) -> int:
        with session_scope(self.runtime.engine) as session:
            return apply_status(session, self.name(), ids, status, error)
