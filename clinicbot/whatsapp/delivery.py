"""The delivery worker: sends the outbox's rows through each provider's sender.

In the path of a message: after :func:`clinicbot.whatsapp.outbox.enqueue_text`, and before the
provider's sender (``zapi/sender.py``, ``meta/sender.py``) and client. There is one worker per
rasa process (:func:`get_delivery_worker`); each provider's connector adds its sender to it and
starts it with the server. It delivers every channel's rows, including those other processes
enqueued (reminders and waiting-list offers from the clinic service):

- per phone in enqueue order: only the oldest unfinished row of a phone is ever eligible;
- exactly once across processes: a row is claimed (``pending`` → ``sending``) as
  :mod:`clinicbot.db.claims` does; a claim whose process died expires after :data:`LEASE` and
  the row is retried;
- retries while the error is transient (5xx, timeout, Z-API's intermittent "client-token is not
  configured"), waiting 1, 2, 4 … seconds (±20 % jitter) up to ``OUTBOX_RETRY_MAX_SECONDS``,
  for as long as the retry budget (``OUTBOX_RETRY_HOURS`` from when the row was queued) and the
  row's ``deliver_by`` allow, so an outage of hours delays messages instead of losing them;
- then, or at once when the provider refuses the message for good, the row is ``dead``: the
  operators are alerted (:mod:`clinicbot.alerts`) and ``python -m clinicbot.cli outbox resend``
  puts it back in the queue.

A notification's message is reported to :mod:`clinicbot.services.notifications.delivery` when
the provider accepts it or the outbox gives up, in the same transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol

from sqlalchemy import exists, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import aliased

from clinicbot.alerts import DeadLetter, alert_dead_letter
from clinicbot.db.claims import claim_with, lock_candidates
from clinicbot.db.engine import get_engine, session_scope
from clinicbot.db.models import OutboxMessage
from clinicbot.db.types import utcnow
from clinicbot.monitoring import OUTBOX_DELIVERIES
from clinicbot.pii import mask_phone
from clinicbot.services.notifications.delivery import record_delivery
from clinicbot.settings import Settings, get_settings
from clinicbot.whatsapp.db_thread import run_db
from clinicbot.whatsapp.outbox import update_log_line

logger = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)  # longer than any send's HTTP timeout
UNFINISHED = ("pending", "sending")
_OUTBOX = OutboxMessage.__table__


@dataclass(frozen=True)
class OutgoingMessage:
    """An outbox row claimed for one delivery attempt, as a sender receives it.

    ``give_up_at``: the end of its retry budget or its ``deliver_by``, whichever comes first.
    """

    id: int
    channel: str
    phone: str
    text: str
    options: list[dict[str, Any]] | None
    attempts: int
    give_up_at: datetime
    clinic_id: int = 1  # whose number sends it


class DeliveryFailed(Exception):
    """A sender could not deliver; ``retryable`` says whether trying again may succeed."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class DeliveryExpired(DeliveryFailed):
    """The row's time is up: it is not sent at all."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


class Sender(Protocol):
    """One provider's way out: what a connector adds to the worker for its channel."""

    async def send(self, message: OutgoingMessage) -> str:
        """Deliver ``message``; the provider's message id. Raises :class:`DeliveryFailed`."""

    async def close(self) -> None:
        """Release the provider client's connections."""


class DeliveryWorker:
    """Delivers pending outbox rows through one :class:`Sender` per channel."""

    def __init__(
        self,
        senders: Mapping[str, Sender] | None = None,
        *,
        engine: Engine | None = None,
        retry_budget: timedelta = timedelta(hours=24),
        retry_max_seconds: float = 600.0,
        batch_size: int = 20,
    ) -> None:
        self._senders = dict(senders or {})
        self.engine = engine or get_engine()
        self._retry_budget = retry_budget
        self._retry_max_seconds = retry_max_seconds
        self._batch_size = batch_size
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, engine: Engine | None = None) -> DeliveryWorker:
        return cls(
            engine=engine,
            retry_budget=timedelta(hours=settings.outbox_retry_hours),
            retry_max_seconds=settings.outbox_retry_max_seconds,
        )

    def add_sender(self, channel: str, sender: Sender) -> None:
        """Deliver ``channel``'s rows through ``sender`` (a row without a sender fails)."""
        self._senders[channel] = sender

    def wake(self) -> None:
        """Deliver now rather than at the next poll (called after enqueueing)."""
        self._wake.set()

    def start(self) -> None:
        """Deliver in the background of the running loop (once, however many callers)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self.run_forever())
            logger.info("delivery worker started")

    async def stop(self) -> None:
        """Stop delivering and close the senders' clients."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for sender in self._senders.values():
            await sender.close()

    async def run_once(self) -> int:
        """One pass: claim each phone's next deliverable row and try to send it.

        Returns how many rows were attempted (sent, rescheduled or dead); 0 means nothing was
        due.
        """
        claimed = await run_db(self._claim)
        if not claimed:
            return 0
        failures = [
            failure
            for failure in await asyncio.gather(
                *(self._deliver_and_record(message) for message in claimed),
                return_exceptions=True,
            )
            if failure is not None
        ]
        if failures:
            raise failures[0]
        return len(claimed)

    async def _deliver_and_record(self, message: OutgoingMessage) -> None:
        """Send one row and record its outcome at once, not after the batch's slowest send: a
        process killed between the provider's answer and this record sends the row again once
        its lease expires, so that window must stay as short as one database write."""
        outcome = await self._deliver(message)
        OUTBOX_DELIVERIES.labels(message.channel, _attempt_result(outcome)).inc()
        for letter in await run_db(self._record, [(message, outcome)]):
            alert_dead_letter(letter)

    async def run_forever(self, poll_seconds: float = 1.0) -> None:
        """Deliver until cancelled: again at once after progress, else on wake-up or poll."""
        while True:
            try:
                progressed = await self.run_once()
            except Exception:
                logger.exception("outbox pass failed")
                progressed = 0
            if progressed:
                continue
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), poll_seconds)
            self._wake.clear()

    async def _deliver(self, message: OutgoingMessage) -> str | DeliveryFailed:
        if utcnow() >= message.give_up_at:
            return DeliveryExpired(f"not delivered by {message.give_up_at:%Y-%m-%d %H:%M} UTC")
        sender = self._senders.get(message.channel)
        if sender is None:
            return DeliveryFailed(f"no sender for channel {message.channel}", retryable=False)
        try:
            return await sender.send(message)
        except DeliveryFailed as error:
            return error
        except Exception as error:  # a bug in a sender must not wedge the phone's queue
            logger.exception("outbox sender %s crashed", message.channel)
            return DeliveryFailed(repr(error), retryable=True)

    def _claim(self) -> list[OutgoingMessage]:
        now = utcnow()
        with session_scope(self.engine) as session:
            session.execute(  # claims whose process died: back in line
                update(_OUTBOX)
                .where(_OUTBOX.c.status == "sending", _OUTBOX.c.claimed_until < now)
                .values(status="pending")
            )
            earlier = aliased(OutboxMessage)
            candidates = (
                select(OutboxMessage)
                .where(
                    OutboxMessage.status == "pending",
                    OutboxMessage.next_attempt_at <= now,
                    ~exists().where(
                        earlier.channel == OutboxMessage.channel,
                        earlier.phone == OutboxMessage.phone,
                        earlier.clinic_id == OutboxMessage.clinic_id,
                        earlier.id < OutboxMessage.id,
                        earlier.status.in_(UNFINISHED),
                    ),
                )
                .order_by(OutboxMessage.id)
                .limit(self._batch_size)
            )
            candidates = lock_candidates(session, candidates, of=OutboxMessage)
            claimed = []
            for row in session.execute(candidates).scalars().all():
                taken = claim_with(
                    session,
                    update(_OUTBOX)
                    .where(_OUTBOX.c.id == row.id, _OUTBOX.c.status == "pending")
                    .values(
                        status="sending",
                        claimed_until=now + LEASE,
                        attempts=_OUTBOX.c.attempts + 1,
                    ),
                )
                if taken:
                    claimed.append(
                        OutgoingMessage(
                            row.id,
                            row.channel,
                            row.phone,
                            row.text,
                            row.options,
                            row.attempts + 1,
                            self._give_up_at(row),
                            row.clinic_id,
                        )
                    )
            return claimed

    def _give_up_at(self, row: OutboxMessage) -> datetime:
        budget_end: datetime = row.queued_at + self._retry_budget
        return min(budget_end, row.deliver_by) if row.deliver_by is not None else budget_end

    def _record(
        self, results: list[tuple[OutgoingMessage, str | DeliveryFailed]]
    ) -> list[DeadLetter]:
        """Store each attempt's outcome; the rows given up on, to alert about after commit."""
        now = utcnow()
        dead = []
        with session_scope(self.engine) as session:
            for message, outcome in results:
                row = session.get(OutboxMessage, message.id)
                if row is None or row.status != "sending":
                    continue
                row.claimed_until = None
                if isinstance(outcome, str):
                    row.status, row.external_message_id, row.sent_at = "sent", outcome, now
                    update_log_line(
                        session,
                        row.log_message_id,
                        row.log_created_at,
                        status="sent",
                        external_message_id=outcome,
                    )
                    record_delivery(session, row.dedupe_key, accepted=True, at=now)
                    continue
                if isinstance(outcome, DeliveryExpired) and row.last_error:
                    row.last_error = f"{outcome}; last error: {row.last_error}"[:500]
                else:
                    row.last_error = str(outcome)[:500]
                if outcome.retryable:
                    row.status = "pending"
                    backoff = timedelta(
                        seconds=backoff_seconds(message.attempts, self._retry_max_seconds)
                    )
                    row.next_attempt_at = min(now + backoff, message.give_up_at)
                    logger.info(
                        "outbox %d to %s: attempt %d failed, retrying (%s)",
                        message.id,
                        mask_phone(message.phone),
                        message.attempts,
                        outcome,
                    )
                    continue
                row.status = "dead"
                update_log_line(session, row.log_message_id, row.log_created_at, status="dead")
                record_delivery(
                    session, row.dedupe_key, accepted=False, at=now, error=row.last_error
                )
                dead.append(
                    DeadLetter("outbox", message.id, message.channel, message.phone, row.last_error)
                )
        return dead


@lru_cache(maxsize=1)
def get_delivery_worker() -> DeliveryWorker:
    """The one delivery worker of this process, shared by its connectors."""
    return DeliveryWorker.from_settings(get_settings())


def _attempt_result(outcome: str | DeliveryFailed) -> str:
    """``sent``, ``retry`` (sent again later) or ``failed`` (for good), for the counters."""
    if isinstance(outcome, str):
        return "sent"
    return "retry" if outcome.retryable else "failed"


def backoff_seconds(attempts: int, cap_seconds: float) -> float:
    """The wait after the ``attempts``-th failure: 1, 2, 4 … seconds up to ``cap_seconds``
    (±20 % jitter, so a recovered gateway is not hit by every queue at once)."""
    base = min(cap_seconds, 2.0 ** min(attempts - 1, 32))
    return base * random.uniform(0.8, 1.2)
