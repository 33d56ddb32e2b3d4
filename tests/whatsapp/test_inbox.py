"""Inbound storage on both backends: stored once, claimed once, replayed after a crash, retried
after a failed turn, given up on with one apology."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from clinicbot.db.engine import session_scope
from clinicbot.db.models import (
    Conversation,
    ConversationMessage,
    ConversationMessageKey,
    OutboxMessage,
)
from clinicbot.db.types import utcnow
from clinicbot.services.templates import TURN_FAILED_APOLOGY
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
    inbox.finish(stored, engine)
    with session_scope(engine) as session:
        statuses = session.execute(select(ConversationMessage.status)).scalars().all()
    assert statuses == ["processed"]


def test_pending_replays_unprocessed_and_abandoned_messages(engine: Engine) -> None:
    # Four patients: one patient's later message would wait behind the earlier ones.
    waiting, abandoned, running, done = (
        inbox.store_inbound("zapi", text_event(f"C{n}", phone=f"553198888000{n}"), engine)
        for n in range(1, 5)
    )
    for message in (abandoned, running, done):
        inbox.claim(message, engine)
    inbox.finish(done, engine)
    with session_scope(engine) as session:
        session.execute(
            update(ConversationMessage)
            .where(ConversationMessage.id == abandoned.id)
            .values(claimed_at=utcnow() - timedelta(minutes=10))
        )
    assert [m.external_id for m in inbox.pending("zapi", engine)] == ["C1", "C2"]
    assert inbox.pending("zapi", engine, min_age=timedelta(minutes=1)) == []
    assert inbox.claim(waiting, engine) and inbox.claim(abandoned, engine)


def _row(engine: Engine, message: inbox.StoredInbound) -> ConversationMessage:
    with session_scope(engine) as session:
        query = select(ConversationMessage).where(ConversationMessage.id == message.id)
        return session.execute(query).scalar_one()


def _apologies(engine: Engine) -> list[OutboxMessage]:
    with session_scope(engine) as session:
        query = select(OutboxMessage).where(OutboxMessage.text == TURN_FAILED_APOLOGY)
        return list(session.execute(query).scalars())


def test_a_failed_turn_waits_for_its_retry(engine: Engine) -> None:
    stored = inbox.store_inbound("zapi", text_event("D1"), engine)
    assert not inbox.retry_later(stored, utcnow(), "not claimed", engine)
    assert inbox.claim(stored, engine)
    retry_at = utcnow() + timedelta(seconds=30)
    assert inbox.retry_later(stored, retry_at, "OperationalError: server closed", engine)
    row = _row(engine, stored)
    assert (row.status, row.attempts, row.retry_at) == ("received", 1, retry_at)
    assert row.last_error == "OperationalError: server closed"
    assert inbox.pending("zapi", engine) == []  # not due yet
    assert not inbox.claim(stored, engine)
    with session_scope(engine) as session:
        session.execute(
            update(ConversationMessage).values(retry_at=utcnow() - timedelta(seconds=1))
        )
    [again] = inbox.pending("zapi", engine)
    assert again.attempts == 1
    assert inbox.claim(again, engine)
    inbox.finish(again, engine)
    assert (_row(engine, stored).status, _row(engine, stored).retry_at) == ("processed", None)


def test_giving_up_apologises_once_per_outage(engine: Engine) -> None:
    first, second, other = (
        inbox.store_inbound("zapi", text_event(key, phone=phone), engine)
        for key, phone in (
            ("E1", "5531988887777"),
            ("E2", "5531988887777"),
            ("E3", "5531977776666"),
        )
    )
    assert not inbox.give_up(first, "not claimed", engine)
    for message in (first, second, other):
        assert inbox.claim(message, engine)
        assert inbox.give_up(message, "ActionFailed: action server down", engine)
        row = _row(engine, message)
        assert (row.status, row.attempts, row.last_error) == (
            "dead",
            1,
            "ActionFailed: action server down",
        )
    apologies = _apologies(engine)
    assert sorted(a.phone for a in apologies) == ["5531977776666", "5531988887777"]
    assert all(a.status == "pending" and a.channel == "zapi" for a in apologies)
    assert inbox.pending("zapi", engine) == []  # dead is final


def test_messages_older_than_the_replay_window_are_expired_not_replayed(
    engine: Engine, jump_clock: Callable[[timedelta], None]
) -> None:
    inbox.store_inbound("zapi", text_event("F1"), engine)
    jump_clock(inbox.REPLAY_WINDOW - timedelta(minutes=1))
    inbox.store_inbound("zapi", text_event("F2"), engine)
    assert inbox.expired("zapi", engine) == []
    jump_clock(timedelta(minutes=2))
    assert [m.external_id for m in inbox.expired("zapi", engine)] == ["F1"]
    assert [m.external_id for m in inbox.pending("zapi", engine)] == ["F2"]


def test_a_patients_later_message_waits_for_the_earlier_ones(engine: Engine) -> None:
    first, second, third = (
        inbox.store_inbound("zapi", text_event(key), engine) for key in ("G1", "G2", "G3")
    )
    other = inbox.store_inbound("zapi", text_event("G4", phone="5531977776666"), engine)
    assert not inbox.claim(second, engine)  # G1 has not run yet
    assert inbox.claim(other, engine)  # another patient does not wait
    assert inbox.claim(first, engine)
    assert not inbox.claim(second, engine)  # G1 is running
    assert inbox.next_in_line(first, engine) is None  # G1 itself, not claimable
    inbox.finish(first, engine)
    following = inbox.next_in_line(first, engine)
    assert following is not None and following.external_id == "G2"
    assert inbox.claim(following, engine)
    assert inbox.give_up(following, "ActionFailed", engine)  # a dead message holds nothing
    assert inbox.claim(third, engine)
    inbox.finish(third, engine)
    assert inbox.next_in_line(third, engine) is None
