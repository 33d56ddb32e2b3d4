"""Signed webhook deliveries to the example CRM receiver: the signature verifies, an outage is
retried with backoff and delivered afterwards, a replay is the same event, past the budget a
delivery is dead and alerted. Real HTTP, real database, the project clock moved (no sleeps)."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from clinicbot import clock
from clinicbot.alerts import DeadLetter, add_alert_hook
from clinicbot.db.engine import session_scope
from clinicbot.db.models import WebhookDelivery
from clinicbot.integrations import signing
from clinicbot.integrations.events import emit_event
from clinicbot.integrations.subscriptions import create_subscription
from clinicbot.integrations.webhooks import WebhookWorker, replay_delivery
from examples.crm_receiver import Receiver, Rejected, verify
from tests.integrations.schemas import assert_valid_envelope
from tests.support.stack import free_port

PHONE = "5531988887777"
HANDOFF = {"handoff_id": 7, "phone": PHONE, "reason": "pediu atendente"}


class RunningReceiver:
    """The example receiver served on ``port``, started and stopped at will."""

    def __init__(self, secret: str, port: int) -> None:
        self.receiver = Receiver(secret)
        self.port = port
        self._server = None

    def start(self) -> None:
        self._server = self.receiver.server("127.0.0.1", self.port)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@pytest.fixture
def moved_clock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "clock"
    clock.set_clock_file(path, clock.now())
    monkeypatch.setenv("CLOCK_FILE", str(path))
    yield path


def advance(path: Path, seconds: float) -> None:
    clock.set_clock_file(path, clock.now() + timedelta(seconds=seconds))


@pytest.fixture
def subscribed(engine: Engine) -> Iterator[RunningReceiver]:
    port = free_port()
    with session_scope(engine) as session:
        created = create_subscription(
            session, url=f"http://127.0.0.1:{port}/hooks", event_types=["handoff.requested"]
        )
    running = RunningReceiver(created["secret"], port)
    yield running
    running.stop()


def run_once(worker: WebhookWorker) -> int:
    """One pass of the worker, as the clinic service runs it (its own HTTP session)."""

    async def once() -> int:
        async with aiohttp.ClientSession() as http:
            return await worker.run_once(http)

    return asyncio.run(once())


def deliveries(engine: Engine) -> list[WebhookDelivery]:
    with session_scope(engine) as session:
        query = select(WebhookDelivery).order_by(WebhookDelivery.id)
        return list(session.execute(query).scalars())


def emit(engine: Engine, event_type: str = "handoff.requested") -> str:
    with session_scope(engine) as session:
        return emit_event(session, event_type, HANDOFF)


def test_a_signed_delivery_verified_by_the_example_receiver(
    engine: Engine, subscribed: RunningReceiver
) -> None:
    subscribed.start()
    event_id = emit(engine)
    emit(engine, "handoff.resolved")  # not subscribed: no delivery
    worker = WebhookWorker(engine)
    assert run_once(worker) == 1
    [event] = subscribed.receiver.received
    assert event["id"] == event_id and event["data"] == HANDOFF
    assert_valid_envelope(event)
    [row] = deliveries(engine)
    assert (row.status, row.attempts, row.last_status_code) == ("delivered", 1, 200)
    assert run_once(worker) == 0


def test_an_outage_is_retried_with_backoff_then_delivered(
    engine: Engine, subscribed: RunningReceiver, moved_clock: Path
) -> None:
    event_id = emit(engine)
    worker = WebhookWorker(engine, retry_max_seconds=4)
    for attempt in (1, 2, 3):  # the receiver is down: 1, 2, 4 s (±20 %) between attempts
        assert run_once(worker) == 1
        [row] = deliveries(engine)
        assert (row.status, row.attempts) == ("pending", attempt)
        assert "ClientConnectorError" in row.last_error
        wait = (row.next_attempt_at - clock.now()).total_seconds()
        assert 0.8 * 2 ** (attempt - 1) - 0.1 <= wait <= 1.2 * 2 ** (attempt - 1)
        assert run_once(worker) == 0  # not due yet
        advance(moved_clock, wait + 0.01)
    subscribed.start()
    assert run_once(worker) == 1
    [row] = deliveries(engine)
    assert (row.status, row.attempts, row.last_error) == ("delivered", 4, None)
    assert [event["id"] for event in subscribed.receiver.received] == [event_id]

    with session_scope(engine) as session:  # a replay: same event, new delivery id
        replay_id = replay_delivery(session, row.delivery_id)
    assert run_once(worker) == 1
    assert [d.status for d in deliveries(engine)] == ["delivered", "delivered"]
    assert deliveries(engine)[1].delivery_id == replay_id
    assert len(subscribed.receiver.received) == 1  # the receiver de-duplicated it


def test_past_the_budget_a_delivery_is_dead_and_alerted(
    engine: Engine, subscribed: RunningReceiver, moved_clock: Path
) -> None:
    letters: list[DeadLetter] = []
    remove = add_alert_hook(letters.append)
    try:
        emit(engine)
        worker = WebhookWorker(engine, retry_budget=timedelta(minutes=10))
        assert run_once(worker) == 1
        advance(moved_clock, 11 * 60)
        assert run_once(worker) == 1
    finally:
        remove()
    [row] = deliveries(engine)
    assert row.status == "dead" and "budget" in row.last_error
    assert [(letter.kind, letter.row_id) for letter in letters] == [("webhook", row.id)]


def test_the_receiver_refuses_forged_and_stale_deliveries() -> None:
    secret, body = "whsec_test", json.dumps({"id": "evt_1"}).encode()
    now = int(clock.now().timestamp())
    headers = signing.headers(
        secret, now, body, event_id="evt_1", event_type="handoff.requested", delivery_id="dlv_1"
    )
    assert verify(secret, headers, body, now=now)["id"] == "evt_1"
    with pytest.raises(Rejected, match="signature"):
        verify("whsec_other", headers, body, now=now)
    with pytest.raises(Rejected, match="signature"):
        verify(secret, headers, body.replace(b"evt_1", b"evt_2"), now=now)
    with pytest.raises(Rejected, match="5-minute"):
        verify(secret, headers, body, now=now + 5 * 60 + 1)
    stale = signing.headers(
        secret, now - 301, body, event_id="evt_1", event_type="x", delivery_id="dlv_1"
    )
    with pytest.raises(Rejected, match="5-minute"):
        verify(secret, stale, body, now=now)
    assert os.path.exists(Path(__file__).parents[2] / "examples" / "crm_receiver.py")


def test_production_never_posts_to_an_internal_address(
    engine: Engine, subscribed: RunningReceiver
) -> None:
    subscribed.start()  # made before production mode: its URL is http://127.0.0.1:…
    emit(engine)
    worker = WebhookWorker(engine, public_only=True)
    assert run_once(worker) == 1
    [row] = deliveries(engine)
    assert (row.status, row.attempts) == ("pending", 1)
    assert "not a public address" in row.last_error
    assert subscribed.receiver.received == []
