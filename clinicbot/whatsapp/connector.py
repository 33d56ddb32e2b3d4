"""The base of the WhatsApp connectors (Rasa input channels) and the handling of their events.

In the path of a message: a provider's connector (``zapi/connector.py``, ``meta/connector.py``)
receives the webhook, checks that it comes from the provider, reads a body of bounded size
(:mod:`clinicbot.whatsapp.webhook`) and parses it into events; then
:meth:`WhatsAppInput.handle_event` sends a message on to the turn runner
(:mod:`clinicbot.whatsapp.turns`) and a delivery status to the outbox. On the way out, each
connector adds its provider's sender to the process's delivery worker
(:mod:`clinicbot.whatsapp.delivery`) and starts the worker with the server.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from rasa.core.channels.channel import InputChannel, OutputChannel
from sanic import Blueprint, Sanic
from sanic.request import Request

from clinicbot.db.engine import session_scope
from clinicbot.monitoring import INBOUND_MESSAGES, add_metrics_route
from clinicbot.rasa import schema_checks
from clinicbot.rasa.turn_failures import raise_tracker_store_errors
from clinicbot.settings import Settings, get_settings
from clinicbot.whatsapp.db_thread import run_db
from clinicbot.whatsapp.delivery import DeliveryWorker, Sender, get_delivery_worker
from clinicbot.whatsapp.events import InboundEvent, InboundKind
from clinicbot.whatsapp.outbox import apply_status
from clinicbot.whatsapp.rasa_output import WhatsAppOutput
from clinicbot.whatsapp.throttle import RateLimit
from clinicbot.whatsapp.turns import OnNewMessage, TurnRetry, TurnRunner
from clinicbot.whatsapp.webhook import read_body

logger = logging.getLogger(__name__)


class WhatsAppInput(InputChannel):
    """A connector whose messages are stored, acknowledged, then run through Rasa in order.

    A provider subclasses it with its ``output_class``, its webhook routes (:meth:`blueprint`,
    built on :meth:`webhook_blueprint`) and its sender (:meth:`make_sender`). ``settings`` and
    ``worker`` default to the process's own.
    """

    output_class: ClassVar[type[WhatsAppOutput]]

    def __init__(
        self, settings: Settings | None = None, worker: DeliveryWorker | None = None
    ) -> None:
        self.settings = settings or get_settings()
        self._worker = worker

    @property
    def worker(self) -> DeliveryWorker:
        if self._worker is None:
            self._worker = get_delivery_worker()
        return self._worker

    def make_sender(self) -> Sender:
        """The provider's sender, which the delivery worker uses for this channel's rows."""
        raise NotImplementedError

    def get_output_channel(self) -> OutputChannel:
        """For messages Rasa sends on its own (``trigger_intent``): through the outbox too."""
        return self.output_class(self.worker.wake, engine=self.worker.engine)

    def webhook_blueprint(self, on_new_message: OnNewMessage) -> tuple[Blueprint, TurnRunner]:
        """A blueprint that starts and stops the delivery worker and the turns with the server."""
        worker = self.worker
        worker.add_sender(self.name(), self.make_sender())
        turns = TurnRunner(
            self.name(),
            self.output_class,
            on_new_message,
            engine=worker.engine,
            wake=worker.wake,
            retry=TurnRetry.from_settings(self.settings),
            rate_limit=RateLimit.from_settings(self.settings),
            max_queued=self.settings.max_queued_turns,
        )
        webhook = Blueprint(f"{self.name()}_webhook_{id(self)}", __name__)
        if self.settings.monitoring_enabled:  # rasa's process metrics (loopback; not in nginx)
            add_metrics_route(webhook)

        @webhook.listener("after_server_start")
        async def start(app: Sanic, *_: Any) -> None:
            # A database error while loading a conversation fails the turn (which is retried)
            # instead of answering from an empty conversation.
            raise_tracker_store_errors(getattr(app.ctx, "agent", None))
            # Each custom action's answer is checked against a schema checked once, not per call.
            schema_checks.install()
            worker.start()
            turns.start()

        @webhook.listener("before_server_stop")
        async def stop(*_: Any) -> None:
            await turns.stop()
            await worker.stop()

        return webhook, turns

    async def read_webhook_body(self, request: Request) -> bytes | None:
        """The webhook's raw body; None (and a log line) when over ``WEBHOOK_MAX_BYTES``: the
        connector answers 413 without reading the rest. Its routes are streaming ones."""
        limit = self.settings.webhook_max_bytes
        body = await read_body(request, limit)
        if body is None:
            logger.warning(
                "%s webhook from %s rejected: body over %d bytes",
                self.name(),
                request.remote_addr or request.ip,
                limit,
            )
        return body

    async def handle_event(self, event: InboundEvent, turns: TurnRunner) -> str | None:
        """Messages go to the turns, statuses to the outbox; None for anything else."""
        if event.kind in (InboundKind.MESSAGE, InboundKind.UNSUPPORTED):
            result = await turns.accept(event)
            INBOUND_MESSAGES.labels(self.name(), result).inc()
            return result
        if event.kind is InboundKind.STATUS and event.status is not None:
            update = event.status
            changed = await run_db(
                self._apply_status, update.external_ids, update.status, update.error
            )
            logger.info("%s %s: %d message(s) updated", self.name(), update.status, changed)
            return "recorded"
        return None

    def _apply_status(self, ids: tuple[str, ...], status: str, error: str) -> int:
        with session_scope(self.worker.engine) as session:
            return apply_status(session, self.name(), ids, status, error)
