"""Replies to reminders: "sim" confirms in GestãoDS, and answers find the right question."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Engine

from clinicbot.db.engine import session_scope
from clinicbot.db.models import Appointment, Notification
from clinicbot.gestaods.client import GestaoDSClient
from clinicbot.sandbox.gestaods_fake import FakeGestaoDS
from clinicbot.services.notifications.dispatch import NotificationDispatcher
from clinicbot.services.notifications.replies import ReminderReplies, pending_reply
from tests.services.notify_support import MARINA, FrozenClock, at, book, deliver, outbox


def test_sim_to_a_reminder_confirms_in_gestaods(
    engine: Engine,
    agenda: GestaoDSClient,
    clock: FrozenClock,
    fake: FakeGestaoDS,
    dispatcher: NotificationDispatcher,
    reminder_replies: ReminderReplies,
) -> None:
    appointment = book(engine, agenda, fake, clock, at(2, 10))
    clock.set(at(1, 10))
    dispatcher.dispatch_due()
    deliver(engine)
    clock.advance(hours=5)  # the patient answers in the afternoon
    with session_scope(engine) as session:
        pending = pending_reply(session, MARINA[1], clock())
    assert pending is not None
    assert (pending.kind, pending.appointment_id) == ("reminder", appointment.id)

    answer = reminder_replies.answer(agenda, MARINA[1], confirmed=True)

    assert answer.status == "confirmed"
    assert fake.get(appointment.gestaods_id).confirmado is True
    with session_scope(engine) as session:
        assert session.get(Appointment, appointment.id).status == "confirmed"
        assert pending_reply(session, MARINA[1], clock()) is None
    clock.set(at(2, 8))
    dispatcher.dispatch_due()  # the 2 h reminder no longer asks
    assert outbox(engine)[-1].text.startswith("Oi, Marina! 😊 Só lembrando: sua consulta é hoje")


def test_replies_go_to_the_latest_open_reminder_even_days_later(
    engine: Engine,
    agenda: GestaoDSClient,
    clock: FrozenClock,
    fake: FakeGestaoDS,
    dispatcher: NotificationDispatcher,
    reminder_replies: ReminderReplies,
) -> None:
    first = book(engine, agenda, fake, clock, at(1, 15))  # Tuesday 15:00
    second = book(engine, agenda, fake, clock, at(4, 9))  # Friday 09:00
    clock.set(at(0, 15))
    dispatcher.dispatch_due()  # Tuesday's 24 h reminder, unanswered
    deliver(engine)
    with session_scope(engine) as session:
        assert pending_reply(session, MARINA[1], clock()).appointment_id == first.id
    clock.set(at(3, 9))
    dispatcher.dispatch_due()  # Friday's 24 h reminder; Tuesday's appointment is past
    deliver(engine)
    clock.set(at(3, 18))
    answer = reminder_replies.answer(agenda, MARINA[1], confirmed=False)
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
    engine: Engine, agenda: GestaoDSClient, reminder_replies: ReminderReplies, fake: FakeGestaoDS
) -> None:
    assert reminder_replies.answer(agenda, MARINA[1], confirmed=True).status == "none"
