"""Erasing a patient removes every row about their phone, and nothing about anyone else."""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from clinicbot.db import models
from clinicbot.db.engine import session_scope
from clinicbot.services.erasure import erase_patient
from tests.db import factories

ERASED = "5531988887777"
KEPT = "5531977776666"


def add_everything_about(engine: Engine, phone: str, cpf: str) -> None:
    with session_scope(engine) as session:
        conversation = factories.conversation(phone=phone)
        session.add(conversation)
        session.flush()
        session.add(
            factories.message(
                phone=phone, conversation_id=conversation.id, external_message_id=f"wamid-{phone}"
            )
        )
        appointment = factories.appointment(phone=phone, cpf=cpf)
        session.add(appointment)
        session.flush()
        session.add(factories.notification(phone=phone, appointment_id=appointment.id))
        session.add(factories.waiting(phone=phone, cpf=cpf))
        session.add(factories.dashboard(phone=phone))
        session.add(factories.transaction(phone=phone))
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO events (sender_id) VALUES (:phone)"), {"phone": phone})


def rows_about(engine: Engine, phone: str) -> dict[str, int]:
    counts = {}
    with session_scope(engine) as session:
        for model in (
            models.Conversation,
            models.ConversationMessage,
            models.Appointment,
            models.Notification,
            models.WaitingList,
            models.ConversationDashboard,
            models.PatientTransaction,
        ):
            counts[model.__tablename__] = session.execute(
                select(func.count()).select_from(model).where(model.phone == phone)
            ).scalar_one()
        counts["events"] = session.execute(
            text("SELECT count(*) FROM events WHERE sender_id = :phone"), {"phone": phone}
        ).scalar_one()
    return counts


def test_erasure_removes_the_patient_and_keeps_the_others(engine: Engine) -> None:
    with engine.begin() as connection:  # Rasa's tracker table, as the rasa server creates it
        connection.execute(text("CREATE TABLE IF NOT EXISTS events (sender_id VARCHAR(255))"))
    try:
        add_everything_about(engine, ERASED, "39053344705")
        add_everything_about(engine, KEPT, "52998224725")

        with session_scope(engine) as session:
            erased = erase_patient(session, ERASED)

        assert all(count == 0 for count in rows_about(engine, ERASED).values())
        assert all(count == 1 for count in rows_about(engine, KEPT).values())
        assert erased["conversation_messages"] == 1 and erased["events"] == 1
        with session_scope(engine) as session:
            keys = session.execute(select(models.ConversationMessageKey.external_message_id))
            assert keys.scalars().all() == [f"wamid-{KEPT}"]
    finally:
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE events"))


def test_rows_with_the_same_cpf_under_another_phone_are_erased_too(engine: Engine) -> None:
    relative = "5531966665555"  # the patient once wrote from a relative's phone
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE IF NOT EXISTS events (sender_id VARCHAR(255))"))
    try:
        add_everything_about(engine, ERASED, "39053344705")
        add_everything_about(engine, relative, "39053344705")
        add_everything_about(engine, KEPT, "52998224725")

        with session_scope(engine) as session:
            erase_patient(session, ERASED)

        with session_scope(engine) as session:
            for model in (models.Appointment, models.WaitingList):
                cpfs = session.execute(select(model.cpf)).scalars().all()
                assert cpfs == ["52998224725"], model.__tablename__
            notified = session.execute(select(models.Notification.phone)).scalars().all()
            assert notified == [KEPT]
        assert all(count == 1 for count in rows_about(engine, KEPT).values())
    finally:
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE events"))
