"""The outbox and its delivery worker on both backends: enqueue, per-phone order, retries that
outlast an outage, dead letters and their resending, statuses, exactly once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from clinicbot.alerts import DeadLetter, add_alert_hook
from clinicbot.db.engine import session_scope
from clinicbot.db.models import Conversation, ConversationMessage, OutboxMessage
from clinicbot.db.types import utcnow
from clinicbot.settings import PROJECT_ROOT
from clinicbot.whatsapp.delivery import DeliveryFailed, DeliveryWorker, OutgoingMessage
from clinicbot.whatsapp.outbox import (
    REPLY_SHELF_LIFE,
    apply_status,
    enqueue_text,
    last_sent_was_menu,
    resend_dead,
)
from clinicbot.whatsapp.rasa_output import WhatsAppOutput

PHONE = "5531988887777"
OTHER = "5531977776666"


class RecordingSender:
    """Accepts messages (their provider id is ``ext-<outbox id>``) after scripted failures;
    ``down`` fails every call with HTTP 500 until lifted."""

    def __init__(self, failures: list[DeliveryFailed] | None = None) -> None:
        self.sent: list[OutgoingMessage] = []
        self.failures = list(failures or [])
        self.down = False
        self.calls = 0

    async def send(self, message: OutgoingMessage) -> str:
        self.calls += 1
        if self.down:
            raise DeliveryFailed("HTTP 500", retryable=True)
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(message)
        return f"ext-{message.id}"


@pytest.fixture
def alerts() -> Iterator[list[DeadLetter]]:
    """The dead letters this test's workers report."""
    received: list[DeadLetter] = []
    remove = add_alert_hook(received.append)
    yield received
    remove()


def dead_letters_counted(channel: str = "zapi") -> float:
    labels = {"kind": "outbox", "channel": channel}
    return REGISTRY.get_sample_value("clinicbot_dead_letters_total", labels) or 0.0


def enqueue(engine: Engine, phone: str, text: str, **kwargs) -> int | None:
    with session_scope(engine) as session:
        return enqueue_text(session, phone, text, **kwargs)


def rows(engine: Engine) -> list[OutboxMessage]:
    with session_scope(engine) as session:
        return list(session.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars())


def log_rows(engine: Engine) -> list[ConversationMessage]:
    with session_scope(engine) as session:
        query = select(ConversationMessage).order_by(ConversationMessage.id)
        return list(session.execute(query).scalars())


def drain(worker: DeliveryWorker) -> int:
    async def run() -> int:
        total = 0
        while (sent := await worker.run_once()) > 0:
            total += sent
        return total

    return asyncio.run(run())


def test_enqueue_logs_the_message_in_the_callers_transaction(engine: Engine) -> None:
    options = [{"id": "1", "title": "terça, 01/12"}]
    with session_scope(engine) as session:
        first = enqueue_text(session, "+55 (31) 8888-7777", "Escolha:\n1. terça", options=options)
    assert first is not None
    [row] = rows(engine)
    assert (row.phone, row.status, row.options, row.attempts) == (PHONE, "pending", options, 0)
    [log] = log_rows(engine)
    assert (log.direction, log.status, log.text, log.channel) == ("out", "queued", row.text, "zapi")
    assert (row.log_message_id, row.log_created_at) == (log.id, log.created_at)
    with session_scope(engine) as session:
        conversation = session.get(Conversation, log.conversation_id)
        assert conversation.phone == PHONE
        assert last_sent_was_menu(session, "553188887777", "zapi")


def test_rolled_back_transaction_enqueues_nothing(engine: Engine) -> None:
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        enqueue_text(session, PHONE, "Lembrete")
        raise RuntimeError("the reminder job failed")
    assert rows(engine) == [] and log_rows(engine) == []


def test_dedupe_key_enqueues_once(engine: Engine) -> None:
    assert enqueue(engine, PHONE, "Lembrete", dedupe_key="reminder:42:24h") is not None
    assert enqueue(engine, PHONE, "Lembrete", dedupe_key="reminder:42:24h") is None
    assert len(rows(engine)) == 1 and len(log_rows(engine)) == 1


def test_delivers_in_order_per_phone(engine: Engine) -> None:
    for text in ("um", "dois", "três"):
        enqueue(engine, PHONE, text)
    enqueue(engine, OTHER, "outro")
    sender = RecordingSender()
    assert drain(DeliveryWorker({"zapi": sender}, engine=engine)) == 4
    assert [m.text for m in sender.sent if m.phone == PHONE] == ["um", "dois", "três"]
    assert all(row.status == "sent" and row.external_message_id for row in rows(engine))
    assert {log.status for log in log_rows(engine)} == {"sent"}


def test_a_failing_head_holds_back_the_phones_later_messages(engine: Engine) -> None:
    enqueue(engine, PHONE, "primeira")
    enqueue(engine, PHONE, "segunda")
    enqueue(engine, OTHER, "outro")
    sender = RecordingSender([DeliveryFailed("HTTP 500", retryable=True)])
    worker = DeliveryWorker({"zapi": sender}, engine=engine, retry_max_seconds=0.0)
    asyncio.run(worker.run_once())
    first, second, other = rows(engine)
    assert (first.status, first.attempts, first.last_error) == ("pending", 1, "HTTP 500")
    assert second.status == "pending" and other.status in ("sent", "pending")
    drain(worker)
    assert [m.text for m in sender.sent if m.phone == PHONE] == ["primeira", "segunda"]


def test_retries_through_an_outage_of_hours_and_delivers_once(
    engine: Engine, jump_clock: Callable[[timedelta], None]
) -> None:
    enqueue(engine, PHONE, "Qual dia prefere?")
    sender = RecordingSender()
    sender.down = True
    worker = DeliveryWorker({"zapi": sender}, engine=engine, retry_max_seconds=0.0)
    for _ in range(12):  # more attempts than the old limit of 8 (about 2 minutes)
        asyncio.run(worker.run_once())
    jump_clock(timedelta(hours=3))
    asyncio.run(worker.run_once())
    [row] = rows(engine)
    assert (row.status, row.attempts, row.last_error) == ("pending", 13, "HTTP 500")
    sender.down = False
    drain(worker)
    assert [m.text for m in sender.sent] == ["Qual dia prefere?"]
    [row] = rows(engine)
    assert (row.status, row.attempts) == ("sent", 14)
    assert log_rows(engine)[0].status == "sent"


def test_dead_when_the_retry_budget_is_spent_and_the_operators_are_alerted(
    engine: Engine, jump_clock: Callable[[timedelta], None], alerts: list[DeadLetter]
) -> None:
    enqueue(engine, PHONE, "Lembrete")
    sender = RecordingSender()
    sender.down = True
    worker = DeliveryWorker(
        {"zapi": sender}, engine=engine, retry_budget=timedelta(hours=2), retry_max_seconds=0.0
    )
    counted = dead_letters_counted()
    asyncio.run(worker.run_once())
    jump_clock(timedelta(hours=1, minutes=59))
    asyncio.run(worker.run_once())
    assert rows(engine)[0].status == "pending"
    jump_clock(timedelta(minutes=2))
    drain(worker)
    [row] = rows(engine)
    assert row.status == "dead" and sender.calls == 2  # given up without a third try
    assert row.last_error.startswith("not delivered by ")
    assert row.last_error.endswith("; last error: HTTP 500")
    assert log_rows(engine)[0].status == "dead"
    assert alerts == [DeadLetter("outbox", row.id, "zapi", PHONE, row.last_error)]
    assert dead_letters_counted() == counted + 1


def test_nothing_is_sent_after_its_deliver_by(
    engine: Engine, jump_clock: Callable[[timedelta], None], alerts: list[DeadLetter]
) -> None:
    enqueue(engine, PHONE, "Lembrete da consulta", deliver_by=utcnow() + timedelta(minutes=30))
    enqueue(engine, PHONE, "Depois")
    sender = RecordingSender([DeliveryFailed("timeout", retryable=True)])
    worker = DeliveryWorker({"zapi": sender}, engine=engine, retry_max_seconds=3600.0)
    asyncio.run(worker.run_once())
    [first, _] = rows(engine)
    assert first.next_attempt_at <= first.deliver_by  # the wait is cut to the deadline
    jump_clock(timedelta(minutes=31))
    drain(worker)
    first, second = rows(engine)
    assert (first.status, second.status) == ("dead", "sent")
    assert [m.text for m in sender.sent] == ["Depois"]  # the dead head no longer blocks
    assert [letter.row_id for letter in alerts] == [first.id]


def test_permanent_error_is_dead_at_once(engine: Engine, alerts: list[DeadLetter]) -> None:
    enqueue(engine, PHONE, "oi")
    sender = RecordingSender([DeliveryFailed("HTTP 400 invalid phone", retryable=False)])
    drain(DeliveryWorker({"zapi": sender}, engine=engine))
    [row] = rows(engine)
    assert (row.status, row.attempts, row.last_error) == ("dead", 1, "HTTP 400 invalid phone")
    assert len(alerts) == 1


def test_a_broken_alert_hook_does_not_stop_the_others(
    engine: Engine, alerts: list[DeadLetter]
) -> None:
    def broken(_letter: DeadLetter) -> None:
        raise RuntimeError("pager down")

    remove = add_alert_hook(broken)
    try:
        enqueue(engine, PHONE, "oi")
        sender = RecordingSender([DeliveryFailed("HTTP 400", retryable=False)])
        drain(DeliveryWorker({"zapi": sender}, engine=engine))
    finally:
        remove()
    assert rows(engine)[0].status == "dead" and len(alerts) == 1


def test_resend_puts_dead_rows_back_with_a_fresh_budget(
    engine: Engine, jump_clock: Callable[[timedelta], None]
) -> None:
    enqueue(engine, PHONE, "primeira")
    enqueue(engine, PHONE, "lembrete", deliver_by=utcnow() + timedelta(hours=1))
    enqueue(engine, OTHER, "outro")
    sender = RecordingSender()
    sender.down = True
    worker = DeliveryWorker(
        {"zapi": sender}, engine=engine, retry_budget=timedelta(hours=1), retry_max_seconds=0.0
    )
    asyncio.run(worker.run_once())
    jump_clock(timedelta(hours=2))
    drain(worker)
    assert {row.status for row in rows(engine)} == {"dead"}

    with session_scope(engine) as session:
        resent = resend_dead(session, phone="+55 (31) 98888-7777")
    first, reminder, other = rows(engine)
    assert (resent.requeued, resent.too_late) == ([first.id], [reminder.id])
    assert (first.status, first.attempts, reminder.status, other.status) == (
        "pending",
        0,
        "dead",
        "dead",
    )
    assert first.queued_at > first.created_at + timedelta(hours=1)
    sender.down = False
    drain(worker)
    assert [m.text for m in sender.sent] == ["primeira"]
    assert log_rows(engine)[0].status == "sent"
    with session_scope(engine) as session:
        assert resend_dead(session, outbox_id=first.id).requeued == []  # sent: not dead


def test_resend_command(engine: Engine) -> None:
    enqueue(engine, PHONE, "um")
    enqueue(engine, OTHER, "dois")
    sender = RecordingSender([DeliveryFailed("HTTP 400", retryable=False) for _ in range(2)])
    drain(DeliveryWorker({"zapi": sender}, engine=engine))
    first, second = rows(engine)
    env = {**os.environ, "DATABASE_URL": engine.url.render_as_string(hide_password=False)}

    def resend(*args: str) -> str:
        command = [sys.executable, "-m", "clinicbot.cli", "outbox", "resend", *args]
        done = subprocess.run(
            command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert resend("--id", str(second.id)).startswith(
        f"1 message(s) back in the queue: [{second.id}]"
    )
    assert [row.status for row in rows(engine)] == ["dead", "pending"]
    assert resend("--all-dead").startswith(f"1 message(s) back in the queue: [{first.id}]")
    assert resend("--all-dead").startswith("0 message(s)")
    drain(DeliveryWorker({"zapi": sender}, engine=engine))
    assert sorted(m.text for m in sender.sent) == ["dois", "um"]


def test_answers_to_a_message_are_keyed_by_turn_position_and_expire_with_the_window(
    engine: Engine,
) -> None:
    received_at = utcnow() - timedelta(seconds=2)

    def turn_attempt(*texts: str) -> None:
        output = WhatsAppOutput(
            lambda: None, engine=engine, in_reply_to="3EB0IN", received_at=received_at
        )
        for text in texts:
            asyncio.run(output.send_text_message(PHONE, text))

    turn_attempt("Um momento…")  # the turn failed after its first answer
    turn_attempt("Um momento…", "Qual dia prefere?")  # and ran again
    replies = rows(engine)
    assert [row.text for row in replies] == ["Um momento…", "Qual dia prefere?"]
    assert [row.dedupe_key for row in replies] == [
        "reply:whatsapp:3EB0IN:1",
        "reply:whatsapp:3EB0IN:2",
    ]
    assert {row.deliver_by for row in replies} == {received_at + REPLY_SHELF_LIFE}
    assert {row.in_reply_to for row in replies} == {"3EB0IN"}


def test_backoff_waits_before_the_next_attempt_and_is_capped(engine: Engine) -> None:
    enqueue(engine, PHONE, "oi")
    enqueue(engine, OTHER, "oi")
    with session_scope(engine) as session:  # OTHER's message has failed 19 times already
        session.execute(
            update(OutboxMessage).where(OutboxMessage.phone == OTHER).values(attempts=19)
        )
    sender = RecordingSender([DeliveryFailed("HTTP 502", retryable=True) for _ in range(2)])
    worker = DeliveryWorker({"zapi": sender}, engine=engine, retry_max_seconds=600.0)
    asyncio.run(worker.run_once())
    assert asyncio.run(worker.run_once()) == 0  # not due yet
    first, other = rows(engine)
    now = utcnow()
    assert timedelta(seconds=0.5) < first.next_attempt_at - now < timedelta(seconds=2)
    assert timedelta(minutes=7) < other.next_attempt_at - now <= timedelta(minutes=12)


def test_an_abandoned_claim_is_taken_over(engine: Engine) -> None:
    enqueue(engine, PHONE, "oi")
    with session_scope(engine) as session:
        session.execute(
            update(OutboxMessage).values(status="sending", claimed_until=utcnow() - timedelta(1))
        )
    sender = RecordingSender()
    drain(DeliveryWorker({"zapi": sender}, engine=engine))
    assert [m.text for m in sender.sent] == ["oi"]


def test_statuses_only_move_forward(engine: Engine) -> None:
    enqueue(engine, PHONE, "oi")
    drain(DeliveryWorker({"zapi": RecordingSender()}, engine=engine))
    [row] = rows(engine)
    ids = [row.external_message_id]
    with session_scope(engine) as session:
        assert apply_status(session, "zapi", ids, "read") == 1
        assert apply_status(session, "zapi", ids, "delivered") == 0
        assert apply_status(session, "zapi", ids, "failed", "late error") == 0
        assert apply_status(session, "meta", ids, "read") == 0  # another channel's id space
        assert apply_status(session, "zapi", ["unknown"], "read") == 0
    assert rows(engine)[0].status == "read"
    assert log_rows(engine)[0].status == "read"


def test_failed_delivery_callback_marks_a_sent_message(engine: Engine) -> None:
    enqueue(engine, PHONE, "oi")
    drain(DeliveryWorker({"zapi": RecordingSender()}, engine=engine))
    with session_scope(engine) as session:
        apply_status(session, "zapi", [rows(engine)[0].external_message_id], "failed", "no phone")
    [row] = rows(engine)
    assert (row.status, row.last_error) == ("failed", "no phone")


WORKER_SCRIPT = """
import asyncio, os, sys
from clinicbot.whatsapp.delivery import DeliveryWorker
from clinicbot.db.engine import make_engine

class FileSender:
    async def send(self, message):
        with open(sys.argv[2], "a") as out:
            out.write(f"{message.id} {message.phone} {message.text}\\n")
        await asyncio.sleep(0.001)
        return f"ext-{message.id}-{os.getpid()}"

async def main():
    worker = DeliveryWorker({"zapi": FileSender()}, engine=make_engine(sys.argv[1]), batch_size=5)
    idle = 0
    while idle < 3:
        idle = 0 if await worker.run_once() else idle + 1
        await asyncio.sleep(0.01)

asyncio.run(main())
"""


def test_two_processes_deliver_each_message_exactly_once(engine: Engine, tmp_path: Path) -> None:
    phones = [f"55319888{index:05d}" for index in range(6)]
    with session_scope(engine) as session:
        for number in range(10):
            for phone in phones:
                enqueue_text(session, phone, f"msg {number}")
    out = tmp_path / "sent.txt"
    url = engine.url.render_as_string(hide_password=False)
    workers = [
        subprocess.Popen([sys.executable, "-c", WORKER_SCRIPT, url, str(out)]) for _ in range(2)
    ]
    for worker in workers:
        assert worker.wait(timeout=120) == 0
    lines = out.read_text().splitlines()
    ids = [line.split()[0] for line in lines]
    assert len(ids) == 60 and len(set(ids)) == 60
    for phone in phones:
        texts = [line.split(" ", 2)[2] for line in lines if line.split()[1] == phone]
        assert texts == [f"msg {number}" for number in range(10)]
    assert {row.status for row in rows(engine)} == {"sent"}
