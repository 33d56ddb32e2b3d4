"""What a reminder says when it goes out, and when it no longer goes out at all."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Engine

from clinicbot.db.engine import session_scope
from clinicbot.db.models import MessageTemplate
from clinicbot.gestaods.client import GestaoDSClient
from clinicbot.messages import store
from clinicbot.sandbox.gestaods_fake import FakeGestaoDS
from clinicbot.services import templates
from clinicbot.services.notifications.dispatch import NotificationDispatcher
from tests.services.notify_support import FrozenClock, at, book, outbox


def test_a_reminder_too_close_to_the_appointment_is_dropped(
    engine: Engine,
    agenda: GestaoDSClient,
    clock: FrozenClock,
    fake: FakeGestaoDS,
    dispatcher: NotificationDispatcher,
) -> None:
    book(engine, agenda, fake, clock, at(2, 10))
    clock.set(at(2, 9, 30))  # down from Tuesday morning until half an hour before
    assert dispatcher.dispatch_due() == {"canceled": 2}
    assert outbox(engine) == []


def test_texts_come_from_message_templates(
    engine: Engine,
    agenda: GestaoDSClient,
    clock: FrozenClock,
    fake: FakeGestaoDS,
    dispatcher: NotificationDispatcher,
) -> None:
    with session_scope(engine) as session:
        store.seed(session)
        store.seed(session)  # idempotent
        store.save(
            session,
            templates.REMINDER,
            store.Edit("{nome}, consulta {dia} às {hora}. Confirma?"),
            edited_by="test",
        )
    book(engine, agenda, fake, clock, at(2, 10))
    clock.set(at(1, 10))
    dispatcher.dispatch_due()
    assert (
        outbox(engine)[0].text == "Marina, consulta amanhã, quarta-feira, 12/03 às 10:00. Confirma?"
    )


def test_a_row_edited_with_an_unknown_variable_sends_the_default(
    engine: Engine,
    agenda: GestaoDSClient,
    clock: FrozenClock,
    fake: FakeGestaoDS,
    dispatcher: NotificationDispatcher,
) -> None:
    """Written behind the staff API's back (which refuses it): never sent broken."""
    with session_scope(engine) as session:
        store.seed(session)
        row = session.execute(
            select(MessageTemplate).where(MessageTemplate.key == templates.REMINDER)
        ).scalar_one()
        row.text = "{nome}, consulta {dia} às {hora}. Confirma? {desconhecido}"
        store.bump_revision(session)
    book(engine, agenda, fake, clock, at(2, 10))
    clock.set(at(1, 10))
    dispatcher.dispatch_due()
    assert outbox(engine)[0].text.startswith("Oi, Marina! 😊 Passando para lembrar")
