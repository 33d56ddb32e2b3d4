"""Sending due notifications: once, at their time, never at night, retried when sending fails."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from clinicbot.db.engine import session_scope
from clinicbot.db.models import Notification
from clinicbot.gestaods.client import GestaoDSClient
from clinicbot.sandbox.gestaods_fake import FakeGestaoDS
from clinicbot.services.notifications.composing import APPOINTMENT_MESSAGES
from clinicbot.services.notifications.dispatch import NotificationDispatcher
from clinicbot.services.notifications.replies import pending_reply
from clinicbot.whatsapp.outbox import resend_dead
from tests.services.notify_support import (
    MARINA,
    POLICY,
    START,
    FrozenClock,
    add_appointments,
    at,
    book,
    deliver,
    outbox,
    scheduled,
)

PATIENTS = 60


def test_reminder_is_sent_once_at_its_time(
    engine: Engine,
    agenda: GestaoDSClient,
    clock: FrozenClock,
    fake: FakeGestaoDS,
    dispatcher: NotificationDispatcher,
) -> None:
    book(engine, agenda, fake, clock, at(2, 10))
    clock.set(at(1, 9, 59))
    assert dispatcher.dispatch_due() == {}
    clock.set(at(1, 10))
    assert dispatcher.dispatch_due() == {"queued": 1}
    clock.advance(seconds=30)
    assert dispatcher.dispatch_due() == {}

    [message] = outbox(engine)
    assert message.phone == MARINA[1]
    assert message.text.startswith(
        "Oi, Marina! 😊 Passando para lembrar da sua consulta amanhã, quarta-feira, 12/03, "
        "às 10:00."
    )
    assert "Responda *sim* para confirmar" in message.text
    assert [status for *_, status in scheduled(engine)] == ["queued", "pending"]
    assert deliver(engine) == 1
    assert [status for *_, status in scheduled(engine)] == ["sent", "pending"]


def test_a_reminder_counts_as_sent_when_the_provider_accepted_it(
    engine: Engine,
    agenda: GestaoDSClient,
    clock: FrozenClock,
    fake: FakeGestaoDS,
    dispatcher: NotificationDispatcher,
) -> None:
    appointment = book(engine, agenda, fake, clock, at(2, 10))
    clock.set(at(1, 10))
    dispatcher.dispatch_due()

    def reminder() -> Notification:
        with session_scope(engine) as session:
            return (
                session.execute(select(Notification).order_by(Notification.scheduled_for))
                .scalars()
                .first()
            )

    def answerable() -> bool:
        with session_scope(engine) as session:
            return pending_reply(session, MARINA[1], clock()) is not None

    assert (reminder().status, reminder().sent_at) == ("queued", None)
    assert not answerable()  # not on the patient's phone yet

    deliver(engine, accept=False)
    assert reminder().status == "failed" and "not on WhatsApp" in reminder().last_error
    [message] = outbox(engine)
    assert (message.status, message.deliver_by) == ("dead", appointment.starts_at)
    assert not answerable()

    with session_scope(engine) as session:
        assert resend_dead(session, outbox_id=message.id).requeued == [message.id]
    deliver(engine)
    assert reminder().status == "sent" and reminder().sent_at is not None
    assert answerable()


def test_nothing_is_sent_during_quiet_hours(
    engine: Engine,
    agenda: GestaoDSClient,
    clock: FrozenClock,
    fake: FakeGestaoDS,
    dispatcher: NotificationDispatcher,
) -> None:
    book(engine, agenda, fake, clock, at(2, 10))
    clock.set(at(1, 22))  # the service was down at 10:00: the 24 h reminder is overdue at night
    assert dispatcher.dispatch_due() == {}
    clock.set(at(2, 7, 59))
    assert dispatcher.dispatch_due() == {}
    assert outbox(engine) == []
    clock.set(at(2, 8))
    # The overdue one is superseded by the 2 h one: one reminder, not two at once.
    assert dispatcher.dispatch_due() == {"canceled": 1, "queued": 1}
    assert len(outbox(engine)) == 1


def test_a_failing_send_is_retried_then_marked_failed(
    engine: Engine,
    agenda: GestaoDSClient,
    clock: FrozenClock,
    fake: FakeGestaoDS,
    dispatcher: NotificationDispatcher,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    book(engine, agenda, fake, clock, at(2, 10))

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("outbox down for 5531988887777")

    monkeypatch.setattr("clinicbot.services.notifications.dispatch.enqueue_text", broken)
    clock.set(at(1, 10))
    assert dispatcher.dispatch_due() == {"pending": 1}
    with session_scope(engine) as session:
        row = session.execute(select(Notification).order_by(Notification.id)).scalars().first()
        assert row.attempts == 1
        assert "5531988887777" not in row.last_error
        assert row.scheduled_for == clock() + timedelta(minutes=5)
    for _ in range(4):
        clock.advance(hours=1)
        dispatcher.dispatch_due()
    with session_scope(engine) as session:
        row = session.execute(select(Notification).order_by(Notification.id)).scalars().first()
        assert (row.status, row.attempts) == ("failed", 5)


def test_two_scheduler_instances_send_each_notification_exactly_once(
    engine: Engine, second_engine: Engine, clock: FrozenClock
) -> None:
    add_appointments(engine, PATIENTS, START + timedelta(days=7), confirmation=True)
    instances = [
        NotificationDispatcher(APPOINTMENT_MESSAGES, engine=db, policy=POLICY, clock=clock)
        for db in (engine, second_engine)
    ]
    barrier = threading.Barrier(len(instances))
    results: list[Counter[str]] = [Counter() for _ in instances]

    def run(index: int) -> None:
        barrier.wait()
        for _ in range(4):  # small batches, so the two keep meeting on the same rows
            results[index].update(instances[index].dispatch_due(limit=20))

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(instances))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    with session_scope(engine) as session:
        due = session.execute(
            select(Notification.status, Notification.attempts).where(
                Notification.kind == "confirmation"
            )
        ).all()
    messages = outbox(engine)
    assert len(due) == PATIENTS
    assert set(due) == {("queued", 1)}
    assert len(messages) == PATIENTS
    assert len({message.dedupe_key for message in messages}) == PATIENTS
    assert sum(result["queued"] for result in results) == PATIENTS


def test_a_kind_without_a_composer_stays_pending_and_says_why(
    engine: Engine, clock: FrozenClock
) -> None:
    with session_scope(engine) as session:
        session.add(
            Notification(
                kind="waitlist_offer",
                phone=MARINA[1],
                scheduled_for=clock(),
                payload={},
                dedupe_key="waitlist_offer:test",
            )
        )
    appointments_only = NotificationDispatcher(
        APPOINTMENT_MESSAGES, engine=engine, policy=POLICY, clock=clock
    )
    assert appointments_only.dispatch_due() == {"pending": 1}
    with session_scope(engine) as session:
        row = session.execute(select(Notification)).scalar_one()
        assert "no composer for waitlist_offer" in row.last_error
    assert outbox(engine) == []
