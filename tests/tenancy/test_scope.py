"""Isolation: a session acting for one clinic neither reads nor writes another's rows, through
the ORM (the scoping helper) or raw SQL (PostgreSQL's row-level security)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from clinicbot.db.engine import session_scope
from clinicbot.db.models import (
    Appointment,
    Conversation,
    ConversationDashboard,
    MessageTemplateRevision,
)
from clinicbot.settings import Settings
from clinicbot.tenancy.context import acting_for
from clinicbot.tenancy.registry import NewClinic, add_clinic
from clinicbot.tenancy.scope import (
    CrossClinicWrite,
    clinic_owned_models,
    scoped,
    set_database_clinic,
)
from clinicbot.tenancy.senders import sender_id, split_sender_id
from clinicbot.tenancy.sessions import clinic_session
from tests.db import factories

PHONE = "5531988887777"
RLS_ROLE = "clinicbot_rls_probe"


@pytest.fixture
def two_clinics(engine: Engine, settings: Settings) -> int:
    """Clinic 1 and a second clinic, each with a conversation, a handoff and an appointment
    of the same phone; the second clinic's id."""
    with session_scope(engine) as session:
        other, _ = add_clinic(session, NewClinic(slug="sul", name="Clínica Sul"), settings)
    for clinic_id in (1, other):
        with session_scope(engine) as session:
            conversation = factories.conversation(clinic_id=clinic_id)
            session.add(conversation)
            session.flush()
            session.add(
                ConversationDashboard(
                    clinic_id=clinic_id,
                    conversation_id=conversation.id,
                    phone=PHONE,
                    status="waiting_human",
                )
            )
            session.add(factories.appointment(clinic_id=clinic_id, conversation_id=conversation.id))
    return other


def test_every_clinic_owned_table_is_scoped() -> None:
    names = {model.__tablename__ for model in clinic_owned_models()}
    assert {"conversations", "conversation_messages", "outbox_messages", "appointments"} <= names
    assert "clinics" not in names and "chatbot_metrics" not in names


def test_reads_see_only_the_sessions_clinic(engine: Engine, two_clinics: int) -> None:
    for clinic_id in (1, two_clinics):
        with clinic_session(clinic_id, engine) as session:
            rows = session.execute(select(Conversation)).scalars().all()
            assert [row.clinic_id for row in rows] == [clinic_id]
            joined = session.execute(
                select(Appointment.clinic_id).join(
                    Conversation, Appointment.conversation_id == Conversation.id
                )
            ).scalars()
            assert list(joined) == [clinic_id]
            assert session.execute(select(func.count(ConversationDashboard.id))).scalar() == 1
    with session_scope(engine) as session:  # a session for no clinic spans them all
        assert session.execute(select(func.count(Conversation.id))).scalar() == 2


def test_updates_and_deletes_touch_only_the_sessions_clinic(
    engine: Engine, two_clinics: int
) -> None:
    with clinic_session(two_clinics, engine) as session:
        session.execute(update(ConversationDashboard).values(status="closed"))
        session.execute(delete(Appointment))
    with session_scope(engine) as session:
        statuses = dict(
            session.execute(
                select(ConversationDashboard.clinic_id, ConversationDashboard.status)
            ).all()
        )
        kept = session.execute(select(Appointment.clinic_id)).scalars().all()
    assert statuses == {1: "waiting_human", two_clinics: "closed"}
    assert kept == [1]


def test_new_rows_belong_to_the_sessions_clinic_and_no_other(
    engine: Engine, two_clinics: int
) -> None:
    with clinic_session(two_clinics, engine) as session:
        row = factories.conversation()
        session.add(row)
    assert row.clinic_id == two_clinics
    with pytest.raises(CrossClinicWrite), clinic_session(two_clinics, engine) as session:
        session.add(factories.conversation(clinic_id=1))
    with pytest.raises(CrossClinicWrite), clinic_session(two_clinics, engine) as session:
        mine = session.execute(select(Conversation)).scalars().first()
        mine.clinic_id = 1  # moving a row to another clinic is a write there


def test_another_clinics_row_cannot_be_fetched_by_id(engine: Engine, two_clinics: int) -> None:
    with session_scope(engine) as session:
        foreign_id = session.execute(
            select(Conversation.id).where(Conversation.clinic_id == 1)
        ).scalar_one()
    with clinic_session(two_clinics, engine) as session:
        found = session.execute(select(Conversation).where(Conversation.id == foreign_id)).scalar()
        assert found is None


def test_core_statements_are_scoped_by_the_helper(engine: Engine, two_clinics: int) -> None:
    with engine.begin() as connection:
        phones = connection.execute(
            scoped(select(Conversation.clinic_id, Conversation.phone), two_clinics)
        ).all()
        assert [clinic for clinic, _ in phones] == [two_clinics]
        connection.execute(scoped(update(Appointment).values(status="canceled"), two_clinics))
        statuses = dict(connection.execute(select(Appointment.clinic_id, Appointment.status)).all())
    assert statuses == {1: "scheduled", two_clinics: "canceled"}


@pytest.fixture
def rls_connection(engine: Engine, backend: str) -> Iterator[Connection]:
    """A connection as an ordinary role (superusers bypass row-level security), as a
    production application user would be."""
    if backend != "postgresql":
        pytest.skip("row-level security is PostgreSQL's")
    with engine.begin() as admin:
        exists = admin.execute(
            text("SELECT 1 FROM pg_roles WHERE rolname = :role"), {"role": RLS_ROLE}
        ).scalar()
        if not exists:
            admin.execute(text(f"CREATE ROLE {RLS_ROLE} NOLOGIN"))
        admin.execute(text(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {RLS_ROLE}"))
        admin.execute(text(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {RLS_ROLE}"))
    with engine.connect() as connection:
        connection.execute(text(f"SET ROLE {RLS_ROLE}"))
        connection.commit()
        yield connection
        connection.rollback()
        connection.execute(text("RESET ROLE"))
        connection.commit()


def test_raw_sql_under_row_level_security_sees_only_its_clinic(
    rls_connection: Connection, two_clinics: int
) -> None:
    connection = rls_connection
    with connection.begin():
        set_database_clinic(connection, two_clinics)
        execute = connection.execute
        clinics = execute(text("SELECT DISTINCT clinic_id FROM conversations")).scalars().all()
        assert clinics == [two_clinics]
        updated = execute(
            text("UPDATE appointments SET status = 'canceled' WHERE clinic_id = 1")
        ).rowcount
        assert updated == 0
        deleted = execute(text("DELETE FROM conversation_dashboard WHERE clinic_id = 1")).rowcount
        assert deleted == 0
    with pytest.raises(DBAPIError, match="row-level security"), connection.begin():
        set_database_clinic(connection, two_clinics)
        connection.execute(
            text(
                "INSERT INTO conversations (clinic_id, phone, started_at, started_on) "
                "VALUES (1, :phone, now(), current_date)"
            ),
            {"phone": PHONE},
        )


def test_sender_ids_keep_the_default_clinic_unchanged() -> None:
    assert sender_id(1, PHONE) == PHONE
    assert sender_id(7, PHONE) == f"c7:{PHONE}"
    assert split_sender_id(f"c7:{PHONE}") == (7, PHONE)
    assert split_sender_id(PHONE) == (1, PHONE)
    assert split_sender_id("123@lid") == (1, "123@lid")
    assert split_sender_id(sender_id(12, "99@lid")) == (12, "99@lid")


def test_core_statements_in_a_clinic_session_are_scoped(engine: Engine, two_clinics: int) -> None:
    conversations, appointments = Conversation.__table__, Appointment.__table__
    with clinic_session(two_clinics, engine) as session:
        assert session.execute(select(conversations.c.clinic_id)).scalars().all() == [two_clinics]
        joined = session.execute(
            select(appointments.c.clinic_id).select_from(
                appointments.join(
                    conversations, appointments.c.conversation_id == conversations.c.id
                )
            )
        ).scalars()
        assert list(joined) == [two_clinics]
        session.execute(update(appointments).values(status="canceled"))
    with session_scope(engine) as session:
        statuses = dict(session.execute(select(Appointment.clinic_id, Appointment.status)).all())
    assert statuses == {1: "scheduled", two_clinics: "canceled"}


def test_acting_for_a_clinic_scopes_every_session_opened_inside(
    engine: Engine, two_clinics: int
) -> None:
    with acting_for(two_clinics), session_scope(engine) as session:
        assert session.execute(select(Conversation.clinic_id)).scalars().all() == [two_clinics]
    with session_scope(engine) as session:
        assert len(session.execute(select(Conversation.id)).all()) == 2


def test_a_core_insert_of_another_clinics_row_is_refused(engine: Engine, two_clinics: int) -> None:
    revisions = MessageTemplateRevision.__table__
    with pytest.raises(CrossClinicWrite), clinic_session(two_clinics, engine) as session:
        session.execute(insert(revisions).values(clinic_id=1, revision=5))
    with pytest.raises(CrossClinicWrite), clinic_session(two_clinics, engine) as session:
        session.execute(insert(revisions), [{"clinic_id": two_clinics}, {"clinic_id": 1}])
    with clinic_session(two_clinics, engine) as session:
        session.execute(insert(revisions).values(clinic_id=two_clinics, revision=5))
    with session_scope(engine) as session:
        stored = session.execute(select(MessageTemplateRevision.clinic_id)).scalars().all()
    assert stored == [two_clinics]
