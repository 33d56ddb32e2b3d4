"""Rasa event broker that writes NLU results into the message log (``conversation_messages``).

Configured in ``endpoints.yml`` (``event_broker: type: clinicbot.rasa.event_broker.
MessageLogBroker``). Rasa publishes a turn's events when it saves the tracker, after the answers
were enqueued; for each ``user`` event from a WhatsApp channel the broker stores the intent, the
classifier's own prediction and its confidence on the inbound message and on the answers to it,
and the intent as the conversation's ``last_intent``. When the fallback classifier replaced a
low-confidence prediction with ``nlu_fallback``, the prediction and its real confidence come
from the intent ranking (the fallback's own "confidence" is just its threshold): the dashboard's
review of such messages needs both. Every event also goes to
:class:`~clinicbot.rasa.outcomes.OutcomeTracker`, whose changes (the conversation's outcome, the
booking funnel, a goodbye closing it) run in the events' order on a thread of their own:
bookkeeping must not delay the WhatsApp database thread, where the turn's answers wait to be
delivered.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from asyncio import AbstractEventLoop
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rasa.core.brokers.broker import EventBroker
from rasa.utils.endpoints import EndpointConfig
from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from clinicbot.db.engine import session_scope
from clinicbot.db.models import (
    Conversation,
    ConversationMessage,
    ConversationMessageKey,
    OutboxMessage,
)
from clinicbot.rasa.outcomes import Change, OutcomeTracker
from clinicbot.services.nlu_review import FALLBACK_INTENT
from clinicbot.whatsapp.db_thread import run_db

logger = logging.getLogger(__name__)

LOGGED_CHANNELS = ("zapi", "meta")
_OUTCOMES_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clinicbot-outcomes")
_LOG = ConversationMessage.__table__
_OUTBOX = OutboxMessage.__table__


def nlu_result(parse_data: dict[str, Any]) -> tuple[str | None, str | None, float | None]:
    """``(intent, predicted_intent, confidence)`` of a ``user`` event's ``parse_data``.

    ``predicted_intent`` is the classifier's best intent other than the fallback, and
    ``confidence`` its confidence; both equal the event's intent when no fallback happened.
    """
    intent = parse_data.get("intent") or {}
    name, confidence = intent.get("name"), intent.get("confidence")
    if name != FALLBACK_INTENT:
        return name, name, confidence
    for ranked in parse_data.get("intent_ranking") or []:
        if ranked.get("name") and ranked["name"] != FALLBACK_INTENT:
            return name, ranked["name"], ranked.get("confidence")
    return name, None, confidence


def record_intent(
    channel: str,
    external_id: str,
    intent: str | None,
    confidence: float | None,
    engine: Engine | None = None,
    predicted_intent: str | None = None,
) -> bool:
    """Store the NLU result for the message ``external_id`` and its answers.

    ``predicted_intent`` defaults to ``intent`` unless that is the fallback.
    """
    intent = (intent or "")[:64] or None
    predicted = (predicted_intent or "")[:64] or (intent if intent != FALLBACK_INTENT else None)
    values = {"intent": intent, "predicted_intent": predicted, "confidence": confidence}
    with session_scope(engine) as session:
        key = session.get(ConversationMessageKey, (channel, external_id))
        if key is None:
            return False
        session.execute(
            update(_LOG)
            .where(_LOG.c.id == key.message_id, _LOG.c.created_at == key.created_at)
            .values(**values)
        )
        answers = session.execute(
            select(_OUTBOX.c.log_message_id, _OUTBOX.c.log_created_at).where(
                _OUTBOX.c.in_reply_to == external_id, _OUTBOX.c.channel == channel
            )
        ).all()
        for log_id, created_at in answers:
            session.execute(
                update(_LOG)
                .where(_LOG.c.id == log_id, _LOG.c.created_at == created_at)
                .values(**values)
            )
        conversation_id = session.execute(
            select(_LOG.c.conversation_id).where(
                _LOG.c.id == key.message_id, _LOG.c.created_at == key.created_at
            )
        ).scalar()
        if conversation_id is not None and values["intent"]:
            session.execute(
                update(Conversation)
                .where(Conversation.id == conversation_id)
                .values(last_intent=values["intent"])
            )
    return True


def apply_change(change: Change, engine: Engine | None = None) -> None:
    """Run one of :class:`OutcomeTracker`'s changes in its own transaction."""
    with session_scope(engine) as session:
        change(session)


async def _run_outcome(function: Callable[..., None], *args: Any, **kwargs: Any) -> None:
    """``function`` on the outcomes thread (one thread: the events' order is kept)."""
    call = functools.partial(function, *args, **kwargs)
    await asyncio.get_running_loop().run_in_executor(_OUTCOMES_THREAD, call)


class MessageLogBroker(EventBroker):
    """Writes in the background (the database thread); :meth:`close` waits for the writes."""

    def __init__(self, engine: Engine | None = None) -> None:
        self._engine = engine
        self._pending: set[asyncio.Task[Any]] = set()
        self._outcomes = OutcomeTracker()

    @classmethod
    async def from_endpoint_config(
        cls, broker_config: EndpointConfig, event_loop: AbstractEventLoop | None = None
    ) -> MessageLogBroker:
        return cls()

    def publish(self, event: dict[str, Any]) -> None:
        message_id = event.get("message_id")
        if (
            event.get("event") == "user"
            and event.get("input_channel") in LOGGED_CHANNELS
            and message_id
        ):
            intent, predicted, confidence = nlu_result(event.get("parse_data") or {})
            record = functools.partial(record_intent, predicted_intent=predicted)
            args = (event["input_channel"], str(message_id), intent, confidence)
            self._write(run_db, record, *args, what="the intent")
        change = self._outcomes.change_for(event)
        if change is not None:
            self._write(_run_outcome, apply_change, change, what="the conversation's outcome")

    def _write(
        self, runner: Callable[..., Awaitable[Any]], function: Any, *args: Any, what: str
    ) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # called outside the server (scripts): write synchronously
            function(*args, engine=self._engine)
            return
        task = loop.create_task(self._record(runner, function, *args, what=what))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _record(
        self, runner: Callable[..., Awaitable[Any]], function: Any, *args: Any, what: str
    ) -> None:
        try:
            await runner(function, *args, engine=self._engine)
        except Exception:
            logger.exception("message log: could not store %s", what)

    async def close(self) -> None:
        if self._pending:
            await asyncio.wait(list(self._pending))
