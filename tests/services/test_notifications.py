"""Reminders, quiet hours and replies to reminders, against the GestãoDS fake over HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from clinicbot.db.engine import session_scope
from clinicbot.db.models import Appointment, MessageTemplate, Notification
from clinicbot.gestaods.client import GestaoDSClient
from clinicbot.sandbox.gestaods_fake import FakeGestaoDS
from clinicbot.services import templates
from clinicbot.services.notifications import (
    NotificationService,
    cancel_for_appointment,
    pending_reply,
    schedule_for_appointment,
)
from tests.services.notify_support import MARINA, POLICY, TZ, FrozenClock, at, book, outbox


def scheduled(engine: Engine) -> list[tuple[str, datetime, str]]:
    with session_scope(engine) as session:
        rows = session.execute(
            select(Notification.kind, Notification.scheduled_for, Notification.status).order_by(
                Notification.scheduled_for
            )
        ).all()
    return [(kind, when.astimezone(TZ), status) for kind, when, status in rows]


@pytest.mark.parametrize(
    ("moment", "quiet", "next_send"),
    [
        (at(0, 20, 59), False, at(0, 20, 59)),
        (at(0, 21), True, at(1, 8)),
        (at(0, 23, 30), True, at(1, 8)),
        (at(1, 3), True, at(1, 8)),
        (at(1, 8), False, at(1, 8)),
    ],
)
def test_quiet_hours(moment: datetime, quiet: bool, next_send: datetime) -> None:
    assert POLICY.is_quiet(moment) is quiet
    assert POLICY.next_sending_time(moment) == next_send


def test_reminders_are_planned_24h_and_2h_before_outside_quiet_hours(
    engine: Engine, agenda: GestaoDSClient, clock: FrozenClock, fake: FakeGestaoDS
) -> None:
    book(engine, agenda, fake, clock, at(2, 10))  # Wednesday 10:00: Tuesday 10:00, Wednesday 08:00
    book(engine, agenda, fake, clock, at(3, 8, 30))  # Thursday 08:30: the 2 h one would be 06:30
    assert scheduled(engine) == [
        ("reminder", at(1, 10), "pending"),
        ("reminder", at(2, 8), "pending"),
        ("reminder", at(2, 8, 30), "pending"),
    ]


def test_scheduling_twice_is_idempotent(
    engine: Engine, agenda: GestaoDSClient, clock: FrozenClock, fake: FakeGestaoDS
) -> None:
    appointment = book(engine, agenda, fake, clock, at(2, 10))
    with session_scope(engine) as session:
        again = schedule_for_appointment(
            session, session.get(Appointment, appointment.id), now=clock(), policy=POLICY
        )
    assert again == []
    assert len(scheduled(engine)) == 2


def test_reminder_is_sent_once_at_its_time(
    engine: Engine,
    agenda: GestaoDSClient,
    clock: FrozenClock,
    fake: FakeGestaoDS,
    notifications: NotificationService,
) -> None:
    book(engine, agenda, fake, clock, at(2, 10))
    clock.set(at(1, 9, 59))
    assert notifications.dispatch_due() == {}
    clock.set(at(1, 10))
    assert notifications.dispatch_due() == {"sent": 1}
    clock.advance(seconds=30)
    assert notifications.dispatch_due() == {}

    [message] = outbox(engine)
    assert message.phone == MARINA[1]
    assert message.text.startswith(
        "Oi, Marina! 😊 Passando para lembrar da sua consulta amanhã, quarta-feira, 12/03, "
        "às 10:00."
    )
    assert "Responda *sim* para confirmar" in message.text
    assert [status for *_, status in scheduled(engine)] == ["sent", "pending"]


def test_nothing_is_sent_during_quiet_hours(
    engine: Engine,
    agenda: GestaoDSClient,
    clock: FrozenClock,
    fake: FakeGestaoDS,
    notifications: NotificationService,
) -> None:
    book(engine, agenda, fake, clock, at(2, 10))
    clock.set(at(1, 22))  # the service was down at 10:00: the 24 h reminder is overdue at night
    assert notifications.dispatch_due() == {}
    clock.set(at(2, 7, 59))
    assert notifications.dispatch_due() == {}
    assert outbox(engine) == []
    clock.set(at(2, 8))
    # The overdue one is superseded by the 2 h one: one reminder, not two at once.
    assert notifications.dispatch_due() == {"canceled": 1, "sent": 1}
    assert len(outbox(engine)) == 1


def test_a_reminder_too_close_to_the_appointment_is_dropped(
    engine: Engine,
    agenda: GestaoDSClient,
    clock: FrozenClock,
    fake: FakeGestaoDS,
    notifications: NotificationService,
) -> None:
    book(engine, agenda, fake, clock, at(2, 10))
    clock.set(at(2, 9, 30))  # down from Tuesday morning until half an hour before
    assert notifications.dispatch_due() == {"canceled": 2}
    assert outbox(engine) == []


def test_texts_come_from_message_templates(
    engine: Engine,
    agenda: GestaoDSClient,
    clock: FrozenClock,
    fake: FakeGestaoDS,
    notifications: NotificationService,
) -> None:
    with session_scope(engine) as session:
        templates.seed_default_templates(session)
        templates.seed_default_templates(session)  # idempotent
        row = session.execute(
            select(MessageTemplate).where(MessageTemplate.key == templates.REMINDER)
        ).scalar_one()
        row.text = "{nome}, consulta {dia} às {hora}. Confirma? {desconhecido}"
    book(engine, agenda, fake, clock, at(2, 10))
    clock.set(at(1, 10))
    notifications.dispatch_due()
    assert outbox(engine)[0].text == (
        "Marina, consulta amanhã, quarta-feira, 12/03 às 10:00. Confirma? {desconhecido}"
    )


def test_canceling_the_appointment_drops_its_reminders(
    engine: Engine,
    agenda: GestaoDSClient,
    clock: FrozenClock,
    fake: FakeGestaoDS,
    notifications: NotificationService,
) -> None:
    appointment = book(engine, agenda, fake, clock, at(2, 10))
    with session_scope(engine) as session:
        stored = session.get(Appointment, appointment.id)
        stored.status = "canceled"
        assert cancel_for_appointment(session, stored, now=clock(), policy=POLICY, notify=True) == 2
    clock.set(at(1, 10))
    assert notifications.dispatch_due() == {"sent": 1}
    [message] = outbox(engine)
    assert message.text.startswith("Oi, Marina. Sua consulta de quarta-feira, 12/03, às 10:00")


def test_sim_to_a_reminder_confirms_in_gestaods(
    engine: Engine,
    agenda: GestaoDSClient,
    clock: FrozenClock,
    fake: FakeGestaoDS,
    notifications: NotificationService,
) -> None:
    appointment = book(engine, agenda, fake, clock, at(2, 10))
    clock.set(at(1, 10))
    notifications.dispatch_due()
    clock.advance(hours=5)  # the patient answers in the afternoon
    with session_scope(engine) as session:
        pending = pending_reply(session, MARINA[1], clock())
    assert pending is not None
    assert (pending.kind, pending.appointment_id) == ("reminder", appointment.id)

    answer = notifications.answer_reminder(agenda, MARINA[1], confirmed=True)

    assert answer.status == "confirmed"
    assert fake.get(appointment.gestaods_id).confirmado is True
    with session_scope(engine) as session:
        assert session.get(Appointment, appointment.id).status == "confirmed"
        assert pending_reply(session, MARINA[1], clock()) is None
    clock.set(at(2, 8))
    notifications.dispatch_due()  # the 2 h reminder no longer asks
    assert outbox(engine)[-1].text.startswith("Oi, Marina! 😊 Só lembrando: sua consulta é hoje")


def test_replies_go_to_the_latest_open_reminder_even_days_later(
    engine: Engine,
    agenda: GestaoDSClient,
    clock: FrozenClock,
    fake: FakeGestaoDS,
    notifications: NotificationService,
) -> None:
    first = book(engine, agenda, fake, clock, at(1, 15))  # Tuesday 15:00
    second = book(engine, agenda, fake, clock, at(4, 9))  # Friday 09:00
    clock.set(at(0, 15))
    notifications.dispatch_due()  # Tuesday's 24 h reminder, unanswered
    with session_scope(engine) as session:
        assert pending_reply(session, MARINA[1], clock()).appointment_id == first.id
    clock.set(at(3, 9))
    notifications.dispatch_due()  # Friday's 24 h reminder; Tuesday's appointment is past
    clock.set(at(3, 18))
    answer = notifications.answer_reminder(agenda, MARINA[1], confirmed=False)
    assert answer.status == "declined"
    assert answer.starts_at == at(4, 9)
    assert fake.get(second.gestaods_id).confirmado is False
    with session_scope(engine) as session:
        assert pending_reply(session, MARINA[1], clock()) is None
        replies = dict(
            session.execute(
                select(Notification.appointment_id, Notification.reply).where(
                    Notification.status == "sent"
                )
            ).all()
        )
    assert replies[first.id] == "lapsed"
    assert replies[second.id] == "no"


def test_no_open_question_means_no_answer(
    engine: Engine, agenda: GestaoDSClient, notifications: NotificationService, fake: FakeGestaoDS
) -> None:
    assert notifications.answer_reminder(agenda, MARINA[1], confirmed=True).status == "none"


def test_a_failing_send_is_retried_then_marked_failed(
    engine: Engine,
    agenda: GestaoDSClient,
    clock: FrozenClock,
    fake: FakeGestaoDS,
    notifications: NotificationService,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    book(engine, agenda, fake, clock, at(2, 10))

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("outbox down for 5531988887777")

    monkeypatch.setattr("clinicbot.services.notifications.enqueue_text", broken)
    clock.set(at(1, 10))
    assert notifications.dispatch_due() == {"pending": 1}
    with session_scope(engine) as session:
        row = session.execute(select(Notification).order_by(Notification.id)).scalars().first()
        assert row.attempts == 1
        assert "5531988887777" not in row.last_error
        assert row.scheduled_for == clock() + timedelta(minutes=5)
    for _ in range(4):
        clock.advance(hours=1)
        notifications.dispatch_due()
    with session_scope(engine) as session:
        row = session.execute(select(Notification).order_by(Notification.id)).scalars().first()
        assert (row.status, row.attempts) == ("failed", 5)
