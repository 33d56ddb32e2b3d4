"""The webhook worker: delivers integration events to the CRMs' endpoints, signed, with retries.

It runs in the clinic service (:func:`install_webhook_worker`) and follows the WhatsApp outbox's
rules (:mod:`clinicbot.whatsapp.delivery`):

- a delivery is claimed (``pending`` → ``sending``, guarded UPDATE, ``FOR UPDATE SKIP LOCKED``
  on PostgreSQL) with a lease, so any number of clinic-service instances deliver each once; a
  claim whose process died expires after :data:`LEASE`;
- any answer but a 2xx, a timeout or a connection error is retried after 1, 2, 4 … seconds
  (±20 % jitter) up to ``WEBHOOK_RETRY_MAX_SECONDS``, for ``WEBHOOK_RETRY_HOURS`` from when it
  was queued; then it is ``dead`` and the operators are alerted (:mod:`clinicbot.alerts`);
- every attempt is signed afresh (:mod:`clinicbot.integrations.signing`) with the time it is
  sent, so a receiver that refuses old timestamps still accepts a late retry.

:func:`replay_delivery` queues an event again for its subscription (a new delivery id, the same
event id: receivers de-duplicate on the event id).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import aiohttp
from sanic import Sanic
from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from clinicbot.alerts import DeadLetter, alert_dead_letter
from clinicbot.db.claims import claim_with, lock_candidates
from clinicbot.db.engine import make_engine, session_scope
from clinicbot.db.models import IntegrationEvent, WebhookDelivery, WebhookSubscription
from clinicbot.db.types import utcnow
from clinicbot.integrations import signing
from clinicbot.integrations.destinations import (
    NonPublicDestination,
    refuse_non_public_host,
    webhook_http_session,
)
from clinicbot.integrations.events import envelope, new_id
from clinicbot.settings import Settings, is_production
from clinicbot.whatsapp.delivery import backoff_seconds

logger = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)  # longer than any attempt's timeout
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=10)
_DELIVERIES = WebhookDelivery.__table__


@dataclass(frozen=True)
class Attempt:
    """A claimed delivery: where to post what, and when to give up."""

    id: int
    delivery_id: str
    url: str
    secret: str
    event_id: str
    event_type: str
    body: bytes
    attempts: int
    give_up_at: datetime


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    status_code: int | None = None
    error: str = ""


class WebhookWorker:
    """Claims due deliveries, posts them, records each outcome."""

    def __init__(
        self,
        engine: Engine,
        *,
        retry_budget: timedelta = timedelta(hours=72),
        retry_max_seconds: float = 600.0,
        batch_size: int = 20,
        public_only: bool = False,
    ) -> None:
        self.engine = engine
        self.public_only = public_only
        self._retry_budget = retry_budget
        self._retry_max_seconds = retry_max_seconds
        self._batch_size = batch_size

    @classmethod
    def from_settings(cls, settings: Settings, engine: Engine) -> WebhookWorker:
        return cls(
            engine,
            retry_budget=timedelta(hours=settings.webhook_retry_hours),
            retry_max_seconds=settings.webhook_retry_max_seconds,
            public_only=is_production(),
        )

    async def run_once(self, http: aiohttp.ClientSession) -> int:
        """One pass; how many deliveries were attempted (0: nothing was due)."""
        loop = asyncio.get_running_loop()
        claimed = await loop.run_in_executor(None, self._claim)
        if not claimed:
            return 0
        outcomes = await asyncio.gather(*(self._post(http, attempt) for attempt in claimed))
        dead = await loop.run_in_executor(
            None, self._record, list(zip(claimed, outcomes, strict=True))
        )
        for letter in dead:
            alert_dead_letter(letter)
        return len(claimed)

    async def run_forever(self, http: aiohttp.ClientSession, poll_seconds: float = 1.0) -> None:
        while True:
            try:
                progressed = await self.run_once(http)
            except Exception:
                logger.exception("webhook pass failed")
                progressed = 0
            if not progressed:
                await asyncio.sleep(poll_seconds)

    async def _post(self, http: aiohttp.ClientSession, attempt: Attempt) -> Outcome:
        if utcnow() >= attempt.give_up_at:
            return Outcome(False, error="retry budget spent")
        if self.public_only:
            try:
                refuse_non_public_host(urlsplit(attempt.url).hostname or "")
            except NonPublicDestination as error:
                return Outcome(False, error=str(error.strerror))
        timestamp = int(utcnow().timestamp())
        headers = signing.headers(
            attempt.secret,
            timestamp,
            attempt.body,
            event_id=attempt.event_id,
            event_type=attempt.event_type,
            delivery_id=attempt.delivery_id,
        )
        try:
            async with http.post(
                attempt.url, data=attempt.body, headers=headers, timeout=REQUEST_TIMEOUT
            ) as answer:
                await answer.read()
                if 200 <= answer.status < 300:
                    return Outcome(True, answer.status)
                return Outcome(False, answer.status, f"HTTP {answer.status}")
        except asyncio.TimeoutError:
            return Outcome(False, error="timeout")
        except aiohttp.ClientError as error:
            return Outcome(False, error=type(error).__name__ + (f": {error}" if str(error) else ""))

    def _claim(self) -> list[Attempt]:
        now = utcnow()
        with session_scope(self.engine) as session:
            session.execute(
                update(_DELIVERIES)
                .where(_DELIVERIES.c.status == "sending", _DELIVERIES.c.claimed_until < now)
                .values(status="pending")
            )
            query = (
                select(WebhookDelivery)
                .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
                .order_by(WebhookDelivery.id)
                .limit(self._batch_size)
            )
            claimed = []
            rows = session.execute(lock_candidates(session, query)).scalars().all()
            for row in rows:
                taken = claim_with(
                    session,
                    update(_DELIVERIES)
                    .where(_DELIVERIES.c.id == row.id, _DELIVERIES.c.status == "pending")
                    .values(
                        status="sending",
                        claimed_until=now + LEASE,
                        attempts=_DELIVERIES.c.attempts + 1,
                    ),
                )
                if taken:
                    claimed.append(self._attempt(session, row))
            return claimed

    def _attempt(self, session: Session, row: WebhookDelivery) -> Attempt:
        event = session.get(IntegrationEvent, row.event_id)
        subscription = session.get(WebhookSubscription, row.subscription_id)
        body = json.dumps(envelope(event), ensure_ascii=False, separators=(",", ":")).encode()
        return Attempt(
            id=row.id,
            delivery_id=row.delivery_id,
            url=subscription.url,
            secret=subscription.secret,
            event_id=event.event_id,
            event_type=event.event_type,
            body=body,
            attempts=row.attempts + 1,
            give_up_at=row.queued_at + self._retry_budget,
        )

    def _record(self, results: list[tuple[Attempt, Outcome]]) -> list[DeadLetter]:
        now = utcnow()
        dead = []
        with session_scope(self.engine) as session:
            for attempt, outcome in results:
                row = session.get(WebhookDelivery, attempt.id)
                if row is None or row.status != "sending":
                    continue
                row.claimed_until = None
                row.last_status_code = outcome.status_code
                if outcome.delivered:
                    row.status, row.delivered_at, row.last_error = "delivered", now, None
                    continue
                row.last_error = outcome.error[:500]
                if now < attempt.give_up_at:
                    row.status = "pending"
                    wait = timedelta(
                        seconds=backoff_seconds(attempt.attempts, self._retry_max_seconds)
                    )
                    row.next_attempt_at = min(now + wait, attempt.give_up_at)
                    logger.info(
                        "webhook delivery %s: attempt %d failed (%s), retrying",
                        attempt.delivery_id,
                        attempt.attempts,
                        outcome.error,
                    )
                    continue
                row.status = "dead"
                dead.append(DeadLetter("webhook", attempt.id, "webhook", "", row.last_error))
        return dead


def replay_delivery(session: Session, delivery_id: str, *, clinic_id: int = 1) -> str | None:
    """Queue the event of ``delivery_id`` again for its subscription; the new delivery's id,
    or None when the clinic has no such delivery."""
    original = session.execute(
        select(WebhookDelivery).where(
            WebhookDelivery.delivery_id == delivery_id, WebhookDelivery.clinic_id == clinic_id
        )
    ).scalar_one_or_none()
    if original is None:
        return None
    now = utcnow()
    replay = WebhookDelivery(
        clinic_id=clinic_id,
        delivery_id=new_id("dlv"),
        event_id=original.event_id,
        subscription_id=original.subscription_id,
        status="pending",
        next_attempt_at=now,
        queued_at=now,
    )
    session.add(replay)
    session.flush()
    return str(replay.delivery_id)


def install_webhook_worker(app: Sanic) -> None:
    """Deliver webhooks while the clinic service runs (unless ``WEBHOOKS_ENABLED`` is off)."""
    settings: Settings = app.ctx.settings
    if not settings.webhooks_enabled:
        return

    @app.after_server_start
    async def start_webhooks(app: Sanic, _loop: object) -> None:
        engine = make_engine(settings.database_url)
        worker = WebhookWorker.from_settings(settings, engine)
        app.ctx.webhook_engine = engine
        app.ctx.webhook_http = webhook_http_session(public_only=worker.public_only)
        app.ctx.webhook_task = asyncio.get_running_loop().create_task(
            worker.run_forever(app.ctx.webhook_http)
        )

    @app.before_server_stop
    async def stop_webhooks(app: Sanic, _loop: object) -> None:
        app.ctx.webhook_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await app.ctx.webhook_task
        await app.ctx.webhook_http.close()
        app.ctx.webhook_engine.dispose()
