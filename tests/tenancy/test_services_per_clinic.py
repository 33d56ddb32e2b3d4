"""The service functions act for one clinic: called while acting for a clinic, each reads and
writes that clinic's rows only, even for a phone that also writes to another clinic."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from sqlalchemy import select
from sqlalchemy.engine import Engine

from actions.asks import _still_ahead
from clinicbot.clock import set_clock_file
from clinicbot.db import engine as db_engine
from clinicbot.db.engine import session_scope
from clinicbot.db.models import (
    Appointment,
    Conversation,
    ConversationDashboard,
    ConversationMessage,
    IdentityCheck,
    MessageTemplate,
    OutboxMessage,
)
from clinicbot.db.types import utcnow
from clinicbot.messages import store
from clinicbot.messages.rendering import render
from clinicbot.nlu.normalizer import EntityNormalizer
from clinicbot.services import identity
from clinicbot.services.erasure import erase_patient
from clinicbot.services.handoff import close_handoff, handoff_state, request_human
from clinicbot.services.templates import REMINDER
from clinicbot.settings import Settings, get_settings
from clinicbot.tenancy.context import acting_for
from clinicbot.tenancy.current import forget_clinics
from clinicbot.tenancy.delivery import ClinicSenders
from clinicbot.tenancy.registry import NewClinic, add_clinic
from clinicbot.tenancy.sessions import clinic_session
from clinicbot.whatsapp import inbox
from clinicbot.whatsapp.delivery import DeliveryFailed, OutgoingMessage
from clinicbot.whatsapp.events import InboundEvent, InboundKind
from clinicbot.whatsapp.outbox import enqueue_text, last_sent_was_menu
from clinicbot.whatsapp.rasa_output import WhatsAppOutput
from tests.db import factories
from tests.nlu.test_normalizer import normalise

PHONE = "5531988887777"
HALF_HOUR, MORNING = timedelta(minutes=30), timedelta(hours=10)


@pytest.fixture
def settings() -> Settings:
    """The process's settings: the services read the clinics' secrets with its key."""
    return get_settings()


@pytest.fixture
def other(engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> int:
    """A second clinic; services that open their own sessions use this test's database."""
    monkeypatch.setattr(db_engine, "get_engine", lambda: engine)
    forget_clinics()
    with session_scope(engine) as session:
        clinic_id, _ = add_clinic(
            session,
            NewClinic(slug="sul", name="Sul", zapi_instance_id="SUL", zapi_instance_token="t"),
            settings,
        )
    return clinic_id


def test_handoffs_are_per_clinic(engine: Engine, other: int) -> None:
    with acting_for(other):
        request_human(PHONE, reason="atendente")
        assert handoff_state(PHONE, engine) == "open"
    with acting_for(1):
        assert handoff_state(PHONE, engine) is None
        assert not close_handoff(PHONE, engine)
        request_human(PHONE, reason="atendente")
    with acting_for(other):
        assert close_handoff(PHONE, engine)
    with session_scope(engine) as session:
        rows = session.execute(
            select(ConversationDashboard.clinic_id, ConversationDashboard.status)
        )
        assert dict(rows.all()) == {1: "waiting_human", other: "closed"}


def test_identity_failures_count_per_clinic(engine: Engine, other: int) -> None:
    with acting_for(other):
        for _ in range(identity.MAX_FAILURES_PER_DAY):
            identity.record_failure(PHONE)
        assert identity.blocked(PHONE)
    with acting_for(1):
        assert not identity.blocked(PHONE)
        identity.record_failure(PHONE)
    with session_scope(engine) as session:
        clinics = session.execute(select(IdentityCheck.clinic_id)).scalars().all()
    assert sorted(clinics) == [1, other]


def test_templates_are_per_clinic(engine: Engine, other: int) -> None:
    for clinic in (1, other):
        with clinic_session(clinic, engine) as session:
            store.seed(session)
    with clinic_session(other, engine) as session:
        store.save(session, REMINDER, store.Edit(text="Sul: {nome}"), edited_by="test")
    with clinic_session(other, engine) as session:
        rows = session.execute(select(MessageTemplate.clinic_id)).scalars().all()
    assert set(rows) == {other}  # the session sees its own clinic's rows only
    values = {"nome": "Rita", "dia": "amanhã", "hora": "10:00"}
    with clinic_session(other, engine) as session:
        assert render(session, REMINDER, values).text == "Sul: Rita"
    with clinic_session(1, engine) as session:
        assert render(session, REMINDER, values).text.startswith("Oi, Rita!")


def test_the_inbox_and_outbox_keep_one_phones_clinics_apart(engine: Engine, other: int) -> None:
    for clinic, message_id in ((1, "m-default"), (other, "m-other")):
        event = InboundEvent(
            InboundKind.MESSAGE, phone=PHONE, message_id=message_id, text="oi", clinic_id=clinic
        )
        stored = inbox.store_inbound("zapi", event, engine)
        assert stored is not None and stored.clinic_id == clinic
    # Rasa answers the second clinic's conversation: its sender id names the clinic.
    output = WhatsAppOutput(lambda: None, engine=engine)
    asyncio.run(output.send_text_with_buttons(f"c{other}:{PHONE}", "Escolha", [{"title": "A"}]))
    with session_scope(engine) as session:
        conversations = session.execute(select(Conversation.clinic_id)).scalars().all()
        outbox = session.execute(select(OutboxMessage.clinic_id, OutboxMessage.phone)).all()
        logged = session.execute(
            select(ConversationMessage.clinic_id, ConversationMessage.direction)
        ).all()
    assert sorted(conversations) == [1, other]
    assert outbox == [(other, PHONE)]
    assert sorted(logged) == sorted([(1, "in"), (other, "in"), (other, "out")])
    with clinic_session(other, engine) as session:
        assert last_sent_was_menu(session, PHONE, WhatsAppOutput.channel)
    with clinic_session(1, engine) as session:
        assert not last_sent_was_menu(session, PHONE, WhatsAppOutput.channel)
        enqueue_text(session, PHONE, "oi")
    with session_scope(engine) as session:
        clinics = session.execute(select(OutboxMessage.clinic_id)).scalars().all()
    assert sorted(clinics) == [1, other]


def test_erasure_for_one_clinic_leaves_the_other(engine: Engine, other: int) -> None:
    for clinic in (1, other):
        with clinic_session(clinic, engine) as session:
            enqueue_text(session, PHONE, "oi")
    with clinic_session(other, engine) as session:
        erased = erase_patient(session, PHONE)
    assert erased["outbox_messages"] == 1
    with session_scope(engine) as session:
        assert session.execute(select(OutboxMessage.clinic_id)).scalars().all() == [1]
        assert session.execute(select(Conversation.clinic_id)).scalars().all() == [1]


class RecordingSender:
    def __init__(self, settings: Settings) -> None:
        self.instance = settings.zapi_instance_id
        self.sent: list[int] = []

    async def send(self, message: OutgoingMessage) -> str:
        self.sent.append(message.id)
        return f"{self.instance}-{message.id}"

    async def close(self) -> None:
        pass


def test_the_outbox_sends_from_each_clinics_own_account(
    engine: Engine, other: int, settings: Settings
) -> None:
    senders = ClinicSenders(RecordingSender, settings, engine)

    def message(id_: int, clinic: int) -> OutgoingMessage:
        return OutgoingMessage(id_, "zapi", PHONE, "oi", None, 1, utcnow(), clinic)

    async def send_all() -> list[str]:
        sent = [await senders.send(message(1, 1)), await senders.send(message(2, other))]
        with pytest.raises(DeliveryFailed) as refused:
            await senders.send(message(3, 999))
        assert not refused.value.retryable
        return sent

    assert asyncio.run(send_all()) == [f"{settings.zapi_instance_id}-1", "SUL-2"]


def test_a_requested_range_starts_at_the_acting_clinics_today(
    engine: Engine,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Just after midnight in São Paulo, a clinic in Manaus (an hour behind) is still on
    Monday: a range asked for from Monday on still starts on Monday there."""
    monkeypatch.setattr(db_engine, "get_engine", lambda: engine)
    forget_clinics()
    with session_scope(engine) as session:
        manaus, _ = add_clinic(
            session, NewClinic(slug="norte", name="Norte", timezone="America/Manaus"), settings
        )
    clock_file = tmp_path / "clock"
    monkeypatch.setenv("CLOCK_FILE", str(clock_file))
    monkeypatch.delenv("APP_ENV", raising=False)
    set_clock_file(clock_file, datetime(2026, 12, 1, 0, 30, tzinfo=ZoneInfo("America/Sao_Paulo")))
    asked = (date(2026, 11, 30), date(2026, 12, 6))
    with acting_for(1):
        assert _still_ahead(asked) == (date(2026, 12, 1), date(2026, 12, 6))
    with acting_for(manaus):
        assert _still_ahead(asked) == (date(2026, 11, 30), date(2026, 12, 6))


def test_a_message_s_dates_are_read_on_its_clinic_s_wall_clock(
    engine: Engine,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """00:30 on Wednesday in São Paulo is still Tuesday evening in Manaus: "amanhã" is
    Thursday for the default clinic's patient and Wednesday for the Manaus clinic's."""
    monkeypatch.setattr(db_engine, "get_engine", lambda: engine)
    forget_clinics()
    with session_scope(engine) as session:
        manaus, _ = add_clinic(
            session, NewClinic(slug="norte", name="Norte", timezone="America/Manaus"), settings
        )
    normalizer = EntityNormalizer(
        EntityNormalizer.get_default_config(), LocalModelStorage(tmp_path), Resource("dates")
    )
    normalizer.clock = lambda: datetime(2026, 12, 2, 0, 30, tzinfo=ZoneInfo("America/Sao_Paulo"))
    found = [("data", "amanhã")]
    [default] = normalise(normalizer, "pode ser amanhã?", found, {"clinic_id": 1})
    [north] = normalise(normalizer, "pode ser amanhã?", found, {"clinic_id": manaus})
    [simulator] = normalise(normalizer, "pode ser amanhã?", found)
    assert (default["value"], north["value"], simulator["value"]) == (
        "2026-12-03",
        "2026-12-02",
        "2026-12-03",
    )


def test_the_metrics_days_are_each_clinics_own(
    engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 23:30 in Manaus it is already the next day in São Paulo: a Manaus clinic's
    conversation and appointment count on its own day."""
    monkeypatch.setattr(db_engine, "get_engine", lambda: engine)
    forget_clinics()
    with session_scope(engine) as session:
        manaus, _ = add_clinic(
            session, NewClinic(slug="norte", name="Norte", timezone="America/Manaus"), settings
        )
    late = datetime(2031, 3, 9, 23, 30, tzinfo=ZoneInfo("America/Manaus"))
    for clinic in (1, manaus):
        with clinic_session(clinic, engine) as session:
            session.add(factories.conversation(started_at=late))
            session.add(factories.appointment(starts_at=late, ends_at=late + HALF_HOUR))
    with session_scope(engine) as session:
        days = session.execute(
            select(Conversation.clinic_id, Conversation.started_on, Appointment.appointment_date)
            .join(Appointment, Appointment.clinic_id == Conversation.clinic_id)
            .order_by(Conversation.clinic_id)
        ).all()
    assert [tuple(row) for row in days] == [
        (1, date(2031, 3, 10), date(2031, 3, 10)),
        (manaus, date(2031, 3, 9), date(2031, 3, 9)),
    ]
    with clinic_session(manaus, engine) as session:  # moved to the morning: a new day
        [row] = session.execute(select(Appointment)).scalars()
        row.starts_at, row.ends_at = late + MORNING, late + MORNING + HALF_HOUR
    with clinic_session(manaus, engine) as session:
        assert session.execute(select(Appointment.appointment_date)).scalar_one() == date(
            2031, 3, 10
        )
