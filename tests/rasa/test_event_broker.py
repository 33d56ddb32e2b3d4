"""The event broker logs each WhatsApp message's intent, on both backends."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Engine

from clinicbot.db.engine import session_scope
from clinicbot.db.models import Conversation, ConversationMessage
from clinicbot.rasa.event_broker import record_intent
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
