"""From a stored inbound message to a Rasa turn, exactly once, in arrival order per patient.

In the path of a message: the last stop on the way in. The connector
(:mod:`clinicbot.whatsapp.connector`) calls :meth:`TurnRunner.accept` inside the webhook
request: the message is stored in the inbox (or recognised as a redelivery) before the webhook
is acknowledged, and its turn runs afterwards in the background, after the patient's earlier
ones (:mod:`clinicbot.whatsapp.ordering`), with a :class:`WhatsAppOutput` that puts the answers
in the outbox. Messages stored but never processed (crash, restart) are picked up by
:meth:`TurnRunner.recover`, at start and then every :data:`RECOVERY_INTERVAL` seconds.

A turn that fails (the database or Redis restarting, the action server down or erroring, Rasa
raising: :mod:`clinicbot.rasa.turn_failures` makes Rasa's hidden failures raise) runs again,
after waits that grow from ``TURN_RETRY_INITIAL_SECONDS`` to ``TURN_RETRY_MAX_SECONDS``, the
patient's later messages waiting behind it. After ``TURN_RETRY_ATTEMPTS`` attempts the message
is dead: the patient gets one apology and the operators an alert (:mod:`clinicbot.alerts`).
Answers a failed attempt had already enqueued are not enqueued twice
(:mod:`clinicbot.whatsapp.rasa_output`).

Abuse limits: a message over the patient's rate limit (:mod:`clinicbot.whatsapp.throttle`), or
arriving while the patient already has ``max_queued`` turns waiting, is stored ``throttled``
and gets no turn; Rasa reads at most :data:`NLU_MAX_CHARS` characters of a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from rasa.core.channels.channel import UserMessage
from sqlalchemy.engine import Engine
from tenacity import AsyncRetrying, RetryCallState, stop_after_attempt, wait_exponential_jitter

from clinicbot.alerts import DeadLetter, alert_dead_letter
from clinicbot.db.types import utcnow
from clinicbot.messages.defaults import CHANNEL_ONLY_TEXT
from clinicbot.messages.rendering import render
from clinicbot.messages.satisfaction import answered_survey
from clinicbot.pii import mask_phone, mask_text
from clinicbot.rasa.turn_failures import strict_turn
from clinicbot.settings import Settings
from clinicbot.tenancy.context import acting_for
from clinicbot.tenancy.senders import sender_id
from clinicbot.tenancy.sessions import clinic_session
from clinicbot.whatsapp import inbox
from clinicbot.whatsapp.db_thread import run_db
from clinicbot.whatsapp.events import InboundEvent
from clinicbot.whatsapp.ordering import SerialDispatcher
from clinicbot.whatsapp.outbox import last_sent_was_menu
from clinicbot.whatsapp.rasa_output import WhatsAppOutput
from clinicbot.whatsapp.throttle import RateLimit

logger = logging.getLogger(__name__)

RECOVERY_INTERVAL = 60.0
# Periodic recovery leaves fresh messages to the request that stored them.
RECOVERY_MIN_AGE = timedelta(seconds=60)
# WhatsApp's own limit for a text; anything longer is cut before the NLU reads it.
NLU_MAX_CHARS = 4096

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


@dataclass(frozen=True)
class TurnRetry:
    """How often a failing turn runs, and how long it waits in between (exponential from
    ``initial_seconds``, up to ``max_seconds``, plus up to ``initial_seconds`` of jitter)."""

    attempts: int = 6
    initial_seconds: float = 5.0
    max_seconds: float = 120.0

    @classmethod
    def from_settings(cls, settings: Settings) -> TurnRetry:
        return cls(
            settings.turn_retry_attempts,
            settings.turn_retry_initial_seconds,
            settings.turn_retry_max_seconds,
        )


def describe(error: BaseException) -> str:
    """An error as stored and logged: its type and text, personal data masked."""
    return mask_text(f"{type(error).__name__}: {error}")[:500]


class TurnRunner:
    """Runs one channel's stored messages through Rasa (``on_new_message``).

    ``wake`` is the delivery worker's: called after answers are enqueued. ``rate_limit`` and
    ``max_queued`` (turns per patient, running or waiting) bound what one phone can ask for.
    """

    def __init__(
        self,
        channel: str,
        output_class: type[WhatsAppOutput],
        on_new_message: OnNewMessage,
        *,
        engine: Engine,
        wake: Callable[[], None],
        retry: TurnRetry = TurnRetry(),
        rate_limit: RateLimit | None = None,
        max_queued: int | None = None,
    ) -> None:
        self.channel = channel
        self._output_class = output_class
        self._on_new_message = on_new_message
        self._engine = engine
        self._wake = wake
        self._retry = retry
        self._rate_limit = rate_limit
        self._in_order = SerialDispatcher(max_queued)
        self._recovery: asyncio.Task[None] | None = None
        self._scheduled: set[int] = set()  # stored message ids with a turn queued or running

    async def accept(self, event: InboundEvent) -> str:
        """Store ``event`` and schedule its turn: ``accepted``, ``throttled`` (stored, no turn)
        or ``duplicate`` (a redelivery)."""
        queue_full = self._in_order.is_full(sender_id(event.clinic_id, event.phone))
        stored = await run_db(
            inbox.store_inbound,
            self.channel,
            event,
            self._engine,
            rate_limit=self._rate_limit,
            queue_full=queue_full,
        )
        if stored is None:
            logger.info("%s duplicate delivery of %s ignored", self.channel, event.message_id)
            return "duplicate"
        if stored.throttled:
            why = "the patient's turn queue is full" if queue_full else "over the rate limit"
            self._log_throttled(event, why)
            self._wake()  # the notice, when this message enqueued it
            return "throttled"
        logger.info(
            "%s %s from %s (%s)",
            self.channel,
            event.reason,
            mask_phone(event.phone),
            event.message_id,
        )
        if not self._submit(stored):  # the queue filled up while the message was being stored
            await run_db(inbox.mark_throttled, stored, self._engine)
            self._log_throttled(event, "the patient's turn queue is full")
            return "throttled"
        return "accepted"

    def _log_throttled(self, event: InboundEvent, why: str) -> None:
        logger.warning(
            "%s %s from %s (%s) stored but not answered: %s",
            self.channel,
            event.reason,
            mask_phone(event.phone),
            event.message_id,
            why,
        )

    def start(self) -> None:
        """Replay what a previous run left behind, then keep checking in the background."""
        if self._recovery is None:
            self._recovery = asyncio.get_running_loop().create_task(self._recover_forever())

    async def stop(self) -> None:
        if self._recovery is not None:
            self._recovery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._recovery
            self._recovery = None

    async def recover(self, min_age: timedelta = timedelta(0)) -> int:
        """Run the turns of stored messages that never ran or died (at least ``min_age`` old);
        give up on those too old to answer. How many were replayed."""
        for stored in await run_db(inbox.expired, self.channel, self._engine):
            if await run_db(inbox.claim, stored, self._engine):
                await self._give_up(stored, "not answered within the replay window")
        rows = await run_db(inbox.pending, self.channel, self._engine, min_age=min_age)
        for stored in rows:
            self._submit(stored)
        if rows:
            logger.info("%s: replaying %d stored message(s)", self.channel, len(rows))
        return len(rows)

    async def _recover_forever(self) -> None:
        min_age = timedelta(0)
        while True:
            try:
                await self.recover(min_age)
            except Exception:
                logger.exception("%s: recovery pass failed", self.channel)
            min_age = RECOVERY_MIN_AGE
            await asyncio.sleep(RECOVERY_INTERVAL)

    def output(self, stored: inbox.StoredInbound | None = None) -> WhatsAppOutput:
        return self._output_class(
            self._wake,
            engine=self._engine,
            in_reply_to=stored.external_id if stored else None,
            received_at=stored.created_at if stored else None,
        )

    def _submit(self, stored: inbox.StoredInbound) -> bool:
        """Schedule the turn of ``stored`` once (recovery may find a message its request just
        scheduled); False when the patient's queue is full (a replayed message then waits for
        the next recovery pass)."""
        if stored.id in self._scheduled:
            return True

        async def process_once() -> None:
            try:
                await self._process(stored)
            finally:
                self._scheduled.discard(stored.id)

        if self._in_order.submit(sender_id(stored.clinic_id, stored.phone), process_once) is None:
            return False
        self._scheduled.add(stored.id)
        return True

    async def _process(self, stored: inbox.StoredInbound) -> None:
        """Claim ``stored`` and run its turn (nothing when another worker has it), retrying
        failures; after the last attempt it is dead."""
        answered = False  # then only recording the outcome is left to retry

        async def before_retry(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            delay = state.next_action.sleep if state.next_action else 0.0
            logger.warning(
                "%s turn of %s failed (attempt %d), again in %.1f s: %s",
                self.channel,
                stored.external_id,
                stored.attempts + state.attempt_number,
                delay,
                describe(error) if error else "?",
            )
            if answered or error is None:
                return
            retry_at = utcnow() + timedelta(seconds=delay)
            try:
                await run_db(inbox.retry_later, stored, retry_at, describe(error), self._engine)
            except Exception:  # the database is down too: the claim goes stale, recovery retries
                logger.warning("%s: could not record the retry of %s", self.channel, stored.id)

        try:
            async for attempt in self._retrying(stored, before_retry):
                with attempt:
                    if not answered:
                        if not await run_db(inbox.claim, stored, self._engine):
                            return  # another worker has it or had it, or an earlier one waits
                        await self._run_turn(stored)
                        answered = True
                    await run_db(inbox.finish, stored, self._engine)
        except Exception as error:
            if answered:  # left "processing": recovery takes it over once the claim is stale
                logger.error("%s: turn of %s ran, recording it failed", self.channel, stored.id)
                return
            await self._give_up(stored, describe(error))
        await self._submit_next(stored)

    async def _submit_next(self, stored: inbox.StoredInbound) -> None:
        """Run the patient's next message, which another process may have stored and been
        refused while this one's turn ran (several rasa instances behind a load balancer)."""
        try:
            following = await run_db(inbox.next_in_line, stored, self._engine)
        except Exception:  # the database is down: recovery finds the message later
            logger.warning("%s: could not look for the message after %s", self.channel, stored.id)
            return
        if following is not None:
            self._submit(following)

    def _retrying(
        self, stored: inbox.StoredInbound, before_retry: Callable[[RetryCallState], Any]
    ) -> AsyncRetrying:
        retry = self._retry
        return AsyncRetrying(
            stop=stop_after_attempt(max(1, retry.attempts - stored.attempts)),
            wait=wait_exponential_jitter(
                initial=retry.initial_seconds,
                max=retry.max_seconds,
                jitter=retry.initial_seconds,
            ),
            before_sleep=before_retry,
            reraise=True,
        )

    async def _give_up(self, stored: inbox.StoredInbound, reason: str) -> None:
        """Dead letter: one apology to the patient, an alert to the operators."""
        try:
            dead = await run_db(inbox.give_up, stored, reason, self._engine)
        except Exception:  # the database is down: recovery tries again later
            logger.exception("%s: could not give up on %s", self.channel, stored.id)
            return
        if dead:
            self._wake()
            alert_dead_letter(DeadLetter("inbound", stored.id, self.channel, stored.phone, reason))

    async def _run_turn(self, stored: inbox.StoredInbound) -> None:
        output = self.output(stored)
        if stored.unsupported:
            logger.info("%s message without text (%s): only text is read", self.channel, stored.id)
            await output.send_text_message(
                sender_id(stored.clinic_id, stored.phone),
                await run_db(self._only_text_reply, stored),
            )
            return
        if await run_db(self._answered_survey, stored):
            self._wake()  # the survey's next question or thanks is in the outbox
            return
        metadata = {
            "channel": self.channel,
            "clinic_id": stored.clinic_id,  # its dates are read on the clinic's wall clock
            "message_id": stored.external_id,
            "options_offered": await run_db(self._menu_offered, stored),
        }
        for key in ("reply_id", "reference_id", "edited"):
            if key in stored.data:
                metadata[key] = stored.data[key]
        message = UserMessage(
            text=self._nlu_text(stored),
            output_channel=output,
            sender_id=sender_id(stored.clinic_id, stored.phone),
            input_channel=self.channel,
            message_id=stored.external_id,
            metadata=metadata,
        )
        with strict_turn():
            await self._on_new_message(message)

    def _only_text_reply(self, stored: inbox.StoredInbound) -> str:
        with clinic_session(stored.clinic_id, self._engine) as session:
            return render(session, CHANNEL_ONLY_TEXT, {}, phone=stored.phone).text

    def _answered_survey(self, stored: inbox.StoredInbound) -> bool:
        """Whether the message answered a satisfaction survey (read without Rasa)."""
        with acting_for(stored.clinic_id):  # run_db's thread does not inherit the context
            return answered_survey(
                self._engine,
                phone=stored.phone,
                text=stored.text,
                message_id=stored.external_id,
                channel=self.channel,
            )

    def _nlu_text(self, stored: inbox.StoredInbound) -> str:
        """The message's text, cut at :data:`NLU_MAX_CHARS` (the stored row keeps it whole)."""
        if len(stored.text) <= NLU_MAX_CHARS:
            return stored.text
        logger.warning(
            "%s %s from %s: %d characters, only the first %d are read",
            self.channel,
            stored.external_id,
            mask_phone(stored.phone),
            len(stored.text),
            NLU_MAX_CHARS,
        )
        return stored.text[:NLU_MAX_CHARS]

    def _menu_offered(self, stored: inbox.StoredInbound) -> bool:
        """Whether the patient was answering a menu (the same for every attempt of the turn)."""
        with clinic_session(stored.clinic_id, self._engine) as session:
            return last_sent_was_menu(
                session, stored.phone, self.channel, not_replying_to=stored.external_id
            )
