"""The outbox and its delivery worker on both backends: enqueue, per-phone order, retries,
statuses, exactly once."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from clinicbot.db.engine import session_scope
from clinicbot.db.models import Conversation, ConversationMessage, OutboxMessage
from clinicbot.db.types import utcnow
from clinicbot.whatsapp.delivery import DeliveryFailed, DeliveryWorker, OutgoingMessage
from clinicbot.whatsapp.outbox import apply_status, enqueue_text, last_sent_was_menu

PHONE = "5531988887777"
OTHER = "5531977776666"


class RecordingSender:
    """Accepts messages (their provider id is ``ext-<outbox id>``) after scripted failures."""

    def __init__(self, failures: list[DeliveryFailed] | None = None) -> None:
        self.sent: list[OutgoingMessage] = []
        self.failures = list(failures or [])

    async def send(self, message: OutgoingMessage) -> str:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(message)
        return f"ext-{message.id}"


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


def test_gives_up_after_max_attempts(engine: Engine) -> None:
    enqueue(engine, PHONE, "oi")
    failures = [DeliveryFailed("timeout", retryable=True) for _ in range(5)]
    worker = DeliveryWorker(
        {"zapi": RecordingSender(failures)}, engine=engine, max_attempts=3, retry_max_seconds=0.0
    )
    drain(worker)
    [row] = rows(engine)
    assert (row.status, row.attempts) == ("failed", 3)
    assert log_rows(engine)[0].status == "failed"


def test_permanent_error_fails_at_once(engine: Engine) -> None:
    enqueue(engine, PHONE, "oi")
    sender = RecordingSender([DeliveryFailed("HTTP 400 invalid phone", retryable=False)])
    drain(DeliveryWorker({"zapi": sender}, engine=engine))
    [row] = rows(engine)
    assert (row.status, row.attempts) == ("failed", 1)


def test_backoff_waits_before_the_next_attempt(engine: Engine) -> None:
    enqueue(engine, PHONE, "oi")
    sender = RecordingSender([DeliveryFailed("HTTP 502", retryable=True)])
    worker = DeliveryWorker({"zapi": sender}, engine=engine, retry_max_seconds=30.0)
    asyncio.run(worker.run_once())
    assert asyncio.run(worker.run_once()) == 0  # not due yet
    [row] = rows(engine)
    assert timedelta(seconds=0.5) < row.next_attempt_at - utcnow() < timedelta(seconds=2)


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
