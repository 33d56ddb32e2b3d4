"""Planning an appointment's reminders, and dropping them when it is canceled."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from clinicbot.db.engine import session_scope
from clinicbot.db.models import Appointment
from clinicbot.gestaods.client import GestaoDSClient
from clinicbot.sandbox.gestaods_fake import FakeGestaoDS
from clinicbot.services.notifications.dispatch import NotificationDispatcher
from clinicbot.services.notifications.scheduling import (
    cancel_for_appointment,
    schedule_for_appointment,
)
from tests.services.notify_support import POLICY, FrozenClock, at, book, outbox, scheduled


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


def test_canceling_the_appointment_drops_its_reminders(
    engine: Engine,
    agenda: GestaoDSClient,
    clock: FrozenClock,
    fake: FakeGestaoDS,
    dispatcher: NotificationDispatcher,
) -> None:
    appointment = book(engine, agenda, fake, clock, at(2, 10))
    with session_scope(engine) as session:
        stored = session.get(Appointment, appointment.id)
        stored.status = "canceled"
        assert cancel_for_appointment(session, stored, now=clock(), policy=POLICY, notify=True) == 2
    clock.set(at(1, 10))
    assert dispatcher.dispatch_due() == {"queued": 1}
    [message] = outbox(engine)
    assert message.text.startswith("Oi, Marina. Sua consulta de quarta-feira, 12/03, às 10:00")
