"""Inbound storage on both backends: stored once, claimed once, replayed after a crash."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from clinicbot.channels import inbox
from clinicbot.channels.inbound import InboundEvent, InboundKind
from clinicbot.channels.message_log import record_intent
from clinicbot.channels.outbox import enqueue_text
from clinicbot.channels.window import in_service_window, window_closes_at
from clinicbot.db.engine import session_scope
from clinicbot.db.models import Conversation, ConversationMessage, ConversationMessageKey
from clinicbot.db.types import utcnow


def event(message_id: str, phone: str = "5531988887777", text: str = "oi") -> InboundEvent:
    return InboundEvent(
        InboundKind.MESSAGE,
        reason="text",
        phone=phone,
        message_id=message_id,
        text=text,
        data={"chat_id": phone},
    )


def test_message_and_key_are_stored_together_and_once(engine: Engine) -> None:
    stored = inbox.store_inbound("zapi", event("3EB0AA"), engine)
    assert stored is not None and stored.text == "oi" and not stored.unsupported
    assert inbox.store_inbound("zapi", event("3EB0AA"), engine) is None
    assert inbox.store_inbound("meta", event("3EB0AA"), engine) is not None  # own id space
    with session_scope(engine) as session:
        key = session.get(ConversationMessageKey, ("zapi", "3EB0AA"))
        assert key is not None and key.message_id == stored.id
        query = select(ConversationMessage).where(ConversationMessage.id == stored.id)
        row = session.execute(query).scalar_one()
        assert (row.direction, row.status, row.channel) == ("in", "received", "zapi")


def test_phone_variants_share_one_conversation(engine: Engine) -> None:
    inbox.store_inbound("zapi", event("A1", phone="5531988887777"), engine)
    with session_scope(engine) as session:
        enqueue_text(session, "553188887777", "resposta")  # the old, nine-less variant
    with session_scope(engine) as session:
        conversations = session.execute(select(Conversation)).scalars().all()
        assert [c.phone for c in conversations] == ["5531988887777"]
        ids = set(session.execute(select(ConversationMessage.conversation_id)).scalars())
        assert ids == {conversations[0].id}


def test_claim_is_exclusive_and_finish_records_the_outcome(engine: Engine) -> None:
    stored = inbox.store_inbound("zapi", event("B1"), engine)
    assert inbox.claim(stored, engine)
    assert not inbox.claim(stored, engine)
    assert inbox.pending("zapi", engine) == []
    inbox.finish(stored, "processed", engine)
    with session_scope(engine) as session:
        statuses = session.execute(select(ConversationMessage.status)).scalars().all()
    assert statuses == ["processed"]


def test_pending_replays_unprocessed_and_abandoned_messages(engine: Engine) -> None:
    waiting = inbox.store_inbound("zapi", event("C1"), engine)
    abandoned = inbox.store_inbound("zapi", event("C2"), engine)
    running = inbox.store_inbound("zapi", event("C3"), engine)
    done = inbox.store_inbound("zapi", event("C4"), engine)
    for message in (abandoned, running, done):
        inbox.claim(message, engine)
    inbox.finish(done, "processed", engine)
    with session_scope(engine) as session:
        session.execute(
            update(ConversationMessage)
            .where(ConversationMessage.id == abandoned.id)
            .values(claimed_at=utcnow() - timedelta(minutes=10))
        )
    assert [m.external_id for m in inbox.pending("zapi", engine)] == ["C1", "C2"]
    assert inbox.pending("zapi", engine, min_age=timedelta(minutes=1)) == []
    assert inbox.claim(waiting, engine) and inbox.claim(abandoned, engine)


def test_intent_is_logged_on_the_message_its_answers_and_the_conversation(engine: Engine) -> None:
    inbox.store_inbound("zapi", event("D1", text="quero agendar"), engine)
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


def test_service_window_follows_the_last_inbound_message(engine: Engine) -> None:
    with session_scope(engine) as session:
        assert not in_service_window(session, "5531988887777")
    inbox.store_inbound("meta", event("wamid.1"), engine)
    with session_scope(engine) as session:
        assert in_service_window(session, "5531988887777")
        assert not in_service_window(session, "5531988887777", "zapi")
        closes = window_closes_at(session, "5531988887777")
        assert in_service_window(session, "5531988887777", now=closes - timedelta(seconds=1))
        assert not in_service_window(session, "5531988887777", now=closes)
