"""Inbound storage on both backends: stored once, claimed once, replayed after a crash."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from clinicbot.db.engine import session_scope
from clinicbot.db.models import Conversation, ConversationMessage, ConversationMessageKey
from clinicbot.db.types import utcnow
from clinicbot.whatsapp import inbox
from clinicbot.whatsapp.outbox import enqueue_text
from tests.whatsapp.harness import text_event


def test_message_and_key_are_stored_together_and_once(engine: Engine) -> None:
    stored = inbox.store_inbound("zapi", text_event("3EB0AA"), engine)
    assert stored is not None and stored.text == "oi" and not stored.unsupported
    assert inbox.store_inbound("zapi", text_event("3EB0AA"), engine) is None
    assert inbox.store_inbound("meta", text_event("3EB0AA"), engine) is not None  # own id space
    with session_scope(engine) as session:
        key = session.get(ConversationMessageKey, ("zapi", "3EB0AA"))
        assert key is not None and key.message_id == stored.id
        query = select(ConversationMessage).where(ConversationMessage.id == stored.id)
        row = session.execute(query).scalar_one()
        assert (row.direction, row.status, row.channel) == ("in", "received", "zapi")


def test_phone_variants_share_one_conversation(engine: Engine) -> None:
    inbox.store_inbound("zapi", text_event("A1", phone="5531988887777"), engine)
    with session_scope(engine) as session:
        enqueue_text(session, "553188887777", "resposta")  # the old, nine-less variant
    with session_scope(engine) as session:
        conversations = session.execute(select(Conversation)).scalars().all()
        assert [c.phone for c in conversations] == ["5531988887777"]
        ids = set(session.execute(select(ConversationMessage.conversation_id)).scalars())
        assert ids == {conversations[0].id}


def test_claim_is_exclusive_and_finish_records_the_outcome(engine: Engine) -> None:
    stored = inbox.store_inbound("zapi", text_event("B1"), engine)
    assert inbox.claim(stored, engine)
    assert not inbox.claim(stored, engine)
    assert inbox.pending("zapi", engine) == []
    inbox.finish(stored, "processed", engine)
    with session_scope(engine) as session:
        statuses = session.execute(select(ConversationMessage.status)).scalars().all()
    assert statuses == ["processed"]


def test_pending_replays_unprocessed_and_abandoned_messages(engine: Engine) -> None:
    waiting = inbox.store_inbound("zapi", text_event("C1"), engine)
    abandoned = inbox.store_inbound("zapi", text_event("C2"), engine)
    running = inbox.store_inbound("zapi", text_event("C3"), engine)
    done = inbox.store_inbound("zapi", text_event("C4"), engine)
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
