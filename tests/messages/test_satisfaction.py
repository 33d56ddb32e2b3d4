"""The satisfaction survey on a real database: when it is asked, how answers are read and
stored (feedback row, the conversation, the day's average in chatbot_metrics), and that a
message is only taken as an answer while the survey's question is the last thing sent."""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from clinicbot.db.engine import session_scope
from clinicbot.db.models import (
    Appointment,
    ChatbotMetrics,
    Conversation,
    IntegrationEvent,
    OutboxMessage,
    SatisfactionFeedback,
)
from clinicbot.messages.satisfaction import FeedbackPolicy, ask_due, parse_rating, take_answer
from clinicbot.services.notifications.policy import NotificationPolicy
from clinicbot.whatsapp.outbox import enqueue_text
from tests.integrations.schemas import assert_valid_event

TZ = ZoneInfo("America/Sao_Paulo")
NOON = datetime(2026, 12, 2, 12, 0, tzinfo=TZ).astimezone(timezone.utc)
PHONE = "5531999990000"
POLICY = FeedbackPolicy(
    enabled=True,
    delay=timedelta(minutes=30),
    every=timedelta(days=30),
    alert_at_most=2,
    quiet=NotificationPolicy(tz=TZ, quiet_start=time(21), quiet_end=time(8)),
)


@pytest.mark.parametrize(
    ("text", "rating"),
    [
        ("5", 5),
        ("nota 4!", 4),
        ("4/5", 4),
        ("3 estrelas", 3),
        ("⭐⭐⭐⭐", 4),
        ("⭐️⭐️", 2),
        ("👍", 4),
        ("Ótimo!!", 5),
        ("péssimo", 1),
        ("mais ou menos", 3),
        ("Excelente", 5),  # the label of a tapped option
        ("quero remarcar", None),
        ("15", None),
        ("2 pessoas", None),
        ("0", None),
    ],
)
def test_ratings_are_read_without_the_nlu(text: str, rating: int | None) -> None:
    assert parse_rating(text) == rating


def book(engine: Engine, phone: str = PHONE, at: datetime = NOON - timedelta(minutes=40)) -> int:
    with session_scope(engine) as session:
        conversation = Conversation(phone=phone, started_at=at)
        session.add(conversation)
        session.flush()
        appointment = Appointment(
            gestaods_id=f"g-{phone}-{at.timestamp()}",
            phone=phone,
            cpf="39053344705",
            starts_at=at + timedelta(days=3),
            ends_at=at + timedelta(days=3, minutes=30),
            conversation_id=conversation.id,
            created_at=at,
        )
        session.add(appointment)
        session.flush()
        return int(appointment.id)


def answer(engine: Engine, text: str, message_id: str, at: datetime = NOON) -> bool:
    with session_scope(engine) as session:
        return take_answer(
            session,
            phone=PHONE,
            text=text,
            message_id=message_id,
            channel="zapi",
            now=at,
            policy=POLICY,
        )


def sent(engine: Engine) -> list[OutboxMessage]:
    with session_scope(engine) as session:
        rows = list(session.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars())
        session.expunge_all()
        return rows


def test_asked_once_after_a_booking_with_the_options_as_a_list(engine: Engine) -> None:
    book(engine)
    with session_scope(engine) as session:
        assert ask_due(session, POLICY, now=NOON - timedelta(minutes=20)) == 0  # too soon
        assert ask_due(session, POLICY, now=NOON) == 1
        assert ask_due(session, POLICY, now=NOON + timedelta(minutes=5)) == 0
    book(engine, at=NOON)  # a second booking the same day: not asked again for 30 days
    with session_scope(engine) as session:
        assert ask_due(session, POLICY, now=NOON + timedelta(hours=2)) == 0
    [question] = sent(engine)
    assert question.text.startswith("Oi! 😊 Uma pergunta rápida: de 1 a 5")
    assert question.text.endswith("1. Muito ruim\n2. Ruim\n3. Regular\n4. Bom\n5. Excelente")
    assert [option["title"] for option in question.options] == [
        "Muito ruim",
        "Ruim",
        "Regular",
        "Bom",
        "Excelente",
    ]


def test_never_during_quiet_hours(engine: Engine) -> None:
    night = datetime(2026, 12, 2, 22, 30, tzinfo=TZ).astimezone(timezone.utc)
    book(engine, at=night - timedelta(hours=1))
    with session_scope(engine) as session:
        assert ask_due(session, POLICY, now=night) == 0
        morning = datetime(2026, 12, 3, 8, 5, tzinfo=TZ).astimezone(timezone.utc)
        assert ask_due(session, POLICY, now=morning) == 1


def test_a_rating_and_a_comment_are_stored_and_averaged_per_day(engine: Engine) -> None:
    book(engine)
    with session_scope(engine) as session:
        ask_due(session, POLICY, now=NOON)
    assert answer(engine, "⭐⭐⭐⭐", "m1")
    assert answer(engine, "⭐⭐⭐⭐", "m1")  # the same message again (a retried turn): no-op
    assert answer(engine, "Atendimento rápido, gostei", "m2")
    assert not answer(engine, "obrigada", "m3")  # the survey is over: Rasa answers
    texts = [row.text for row in sent(engine)]
    assert len(texts) == 3 and texts[1].startswith("Obrigada pela nota!")
    assert texts[2].startswith("Obrigada pelo retorno!")
    with session_scope(engine) as session:
        feedback = session.execute(select(SatisfactionFeedback)).scalar_one()
        assert (feedback.rating, feedback.comment, feedback.status) == (
            4,
            "Atendimento rápido, gostei",
            "commented",
        )
        conversation = session.get(Conversation, feedback.conversation_id)
        assert conversation.satisfaction == 4
        metrics = session.get(ChatbotMetrics, conversation.started_on)
        assert (metrics.satisfaction_count, metrics.satisfaction) == (1, 4.0)
        [event] = session.execute(select(IntegrationEvent)).scalars()
        assert event.event_type == "feedback.received"
        assert_valid_event(event.event_type, event.payload)
        assert (event.payload["conversation_id"], event.payload["rating"]) == (conversation.id, 4)


def test_a_no_skips_the_comment(engine: Engine) -> None:
    book(engine)
    with session_scope(engine) as session:
        ask_due(session, POLICY, now=NOON)
    assert answer(engine, "5", "m1") and answer(engine, "não", "m2")
    with session_scope(engine) as session:
        feedback = session.execute(select(SatisfactionFeedback)).scalar_one()
        assert (feedback.rating, feedback.comment, feedback.status) == (5, None, "commented")


def test_only_an_answer_to_the_last_question_sent_counts(engine: Engine) -> None:
    book(engine)
    with session_scope(engine) as session:
        ask_due(session, POLICY, now=NOON)
    assert not answer(engine, "quero remarcar", "m1")  # not a rating: Rasa answers
    with session_scope(engine) as session:
        enqueue_text(session, PHONE, "Encontrei estas consultas...\n1. sexta\n2. sábado")
    assert not answer(engine, "1", "m2")  # picks from the menu, not a rating
    with session_scope(engine) as session:
        assert session.execute(select(SatisfactionFeedback.rating)).scalar_one() is None


def test_a_low_rating_alerts_the_staff(engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    book(engine)
    with session_scope(engine) as session:
        ask_due(session, POLICY, now=NOON)
    with caplog.at_level(logging.WARNING, logger="clinicbot.alerts"):
        assert answer(engine, "péssimo", "m1")
    [alert] = [record for record in caplog.records if record.name == "clinicbot.alerts"]
    assert "low satisfaction rating 1" in alert.getMessage()
    assert PHONE not in alert.getMessage()  # masked
