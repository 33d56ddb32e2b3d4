"""The event broker logs each WhatsApp message's intent, on both backends."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from clinicbot.db.engine import session_scope
from clinicbot.db.models import Conversation, ConversationMessage
from clinicbot.rasa.event_broker import MessageLogBroker, nlu_result, record_intent
from clinicbot.whatsapp import inbox
from clinicbot.whatsapp.outbox import enqueue_text
from tests.whatsapp.harness import text_event


def test_intent_is_logged_on_the_message_its_answers_and_the_conversation(engine: Engine) -> None:
    inbox.store_inbound("zapi", text_event("D1", text="quero agendar"), engine)
    with session_scope(engine) as session:
        enqueue_text(session, "5531988887777", "Qual o seu CPF?", in_reply_to="D1", latency_ms=420)
    assert record_intent("zapi", "D1", "agendar_consulta", 0.93, engine)
    assert not record_intent("zapi", "unknown", "x", 0.1, engine)
    with session_scope(engine) as session:
        logged = session.execute(
            select(
                ConversationMessage.direction,
                ConversationMessage.intent,
                ConversationMessage.confidence,
                ConversationMessage.latency_ms,
            ).order_by(ConversationMessage.id)
        ).all()
        assert logged == [
            ("in", "agendar_consulta", 0.93, None),
            ("out", "agendar_consulta", 0.93, 420),
        ]
        conversation = session.execute(select(Conversation)).scalar_one()
        assert conversation.last_intent == "agendar_consulta"
        assert conversation.replies_count == 1


FALLBACK_PARSE = {
    "intent": {"name": "nlu_fallback", "confidence": 0.5},
    "intent_ranking": [
        {"name": "nlu_fallback", "confidence": 0.5},
        {"name": "agendar_consulta", "confidence": 0.41},
        {"name": "saudacao", "confidence": 0.2},
    ],
}


@pytest.mark.parametrize(
    ("parse_data", "expected"),
    [
        (
            {"intent": {"name": "saudacao", "confidence": 0.97}, "intent_ranking": []},
            ("saudacao", "saudacao", 0.97),
        ),
        (FALLBACK_PARSE, ("nlu_fallback", "agendar_consulta", 0.41)),
        (
            {"intent": {"name": "nlu_fallback", "confidence": 0.5}},
            ("nlu_fallback", None, 0.5),
        ),
        ({}, (None, None, None)),
    ],
)
def test_the_classifiers_prediction_survives_the_fallback(
    parse_data: dict[str, Any], expected: tuple[str | None, str | None, float | None]
) -> None:
    assert nlu_result(parse_data) == expected


def test_a_fallback_is_logged_with_what_the_classifier_predicted(engine: Engine) -> None:
    inbox.store_inbound("zapi", text_event("D2", text="qro marca consulta"), engine)
    broker = MessageLogBroker(engine)
    broker.publish(
        {
            "event": "user",
            "input_channel": "zapi",
            "message_id": "D2",
            "parse_data": FALLBACK_PARSE,
        }
    )
    with session_scope(engine) as session:
        logged = session.execute(
            select(
                ConversationMessage.intent,
                ConversationMessage.predicted_intent,
                ConversationMessage.confidence,
            )
        ).one()
        assert tuple(logged) == ("nlu_fallback", "agendar_consulta", 0.41)


def test_a_fallback_without_a_ranking_has_no_prediction(engine: Engine) -> None:
    inbox.store_inbound("zapi", text_event("D3", text="???"), engine)
    assert record_intent("zapi", "D3", "nlu_fallback", 0.5, engine)
    with session_scope(engine) as session:
        assert session.execute(select(ConversationMessage.predicted_intent)).scalar_one() is None
