"""The CRM events the bot's own services emit, each in the transaction of its change, with a
payload that follows its published JSON Schema (clinicbot/integrations/schemas)."""

from __future__ import annotations

from datetime import date

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import select
from sqlalchemy.engine import Engine

from clinicbot.db.engine import session_scope
from clinicbot.db.models import IntegrationEvent
from clinicbot.gestaods.client import GestaoDSClient
from clinicbot.integrations.events import EVENT_TYPES, UnknownEventType, emit_event, event_schema
from clinicbot.sandbox.gestaods_fake import FakeGestaoDS
from clinicbot.services.booking import BookingService
from clinicbot.services.handoff import close_handoff, request_human
from clinicbot.services.notifications.dispatch import NotificationDispatcher
from clinicbot.services.notifications.replies import ReminderReplies
from clinicbot.services.waiting_list import WaitingListService
from tests.integrations.schemas import assert_valid_event
from tests.services.notify_support import MARINA, FrozenClock, at, book, deliver
from tests.services.test_waiting_list import cancel_joaos_appointment


def events(engine: Engine) -> list[tuple[str, dict]]:
    with session_scope(engine) as session:
        rows = session.execute(select(IntegrationEvent).order_by(IntegrationEvent.id)).scalars()
        found = [(row.event_type, row.payload) for row in rows]
    for event_type, data in found:
        assert_valid_event(event_type, data)
    return found


def test_every_event_type_has_a_valid_schema() -> None:
    for event_type in EVENT_TYPES:
        Draft202012Validator.check_schema(event_schema(event_type))
    with pytest.raises(UnknownEventType):
        event_schema("appointment.lost")


def test_an_event_exists_only_if_its_transaction_commits(engine: Engine) -> None:
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        emit_event(session, "handoff.requested", {"handoff_id": 1, "phone": MARINA[1]})
        raise RuntimeError("the business change failed")
    assert events(engine) == []
    with pytest.raises(UnknownEventType), session_scope(engine) as session:
        emit_event(session, "handoff.lost", {})


def test_waiting_list_join_offer_and_fill(
    engine: Engine,
    agenda: GestaoDSClient,
    waiting_list: WaitingListService,
    clock: FrozenClock,
) -> None:
    waiting_list.join(phone=MARINA[1], cpf=MARINA[0], name=MARINA[2])
    waiting_list.join(phone=MARINA[1], cpf=MARINA[0], period="morning")  # an update: no event
    waiting_list.offer_freed_slot(cancel_joaos_appointment(agenda))
    clock.advance(minutes=10)
    assert waiting_list.accept_offer(MARINA[1]).status == "booked"
    found = events(engine)
    assert [kind for kind, _ in found] == [
        "waitlist.joined",
        "waitlist.offered",
        "waitlist.filled",
        "appointment.booked",
    ]
    assert found[0][1]["position"] == 1 and found[3][1]["source"] == "waitlist"
    assert found[2][1]["appointment_id"] == found[3][1]["appointment_id"]


def test_a_confirmed_reminder(
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
    assert reminder_replies.answer(agenda, MARINA[1], confirmed=True).status == "confirmed"
    [(_kind, data)] = [event for event in events(engine) if event[0] == "appointment.confirmed"]
    assert (data["appointment_id"], data["phone"]) == (appointment.gestaods_id, MARINA[1])


def test_handoffs_and_registrations(engine: Engine, agenda: GestaoDSClient) -> None:
    first = request_human(MARINA[1], "pediu atendente", engine)
    assert request_human(MARINA[1], "de novo", engine) == first  # still open: no new event
    assert close_handoff(MARINA[1], engine)
    assert not close_handoff(MARINA[1], engine)
    BookingService(agenda=agenda, engine=engine).register_patient(
        cpf="11144477735",
        name="Helena Nova Costa",
        email="helena@example.org",
        phone="5531966660000",
        birth_date=date(1990, 5, 17),
    )
    found = events(engine)
    assert [kind for kind, _ in found] == [
        "handoff.requested",
        "handoff.resolved",
        "patient.registered",
    ]
    assert found[1][1]["handoff_ids"] == [first]
    assert found[2][1]["birth_date"] == "1990-05-17" and found[2][1]["source"] == "whatsapp"
