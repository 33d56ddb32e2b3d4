"""The per-phone token bucket: its arithmetic, then kept in the database on both backends."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from clinicbot import clock
from clinicbot.db.engine import session_scope
from clinicbot.db.models import ConversationMessage, OutboxMessage
from clinicbot.services.templates import TOO_MANY_MESSAGES
from clinicbot.settings import read_settings
from clinicbot.whatsapp import inbox
from clinicbot.whatsapp.throttle import NOTICE_INTERVAL, RateLimit, take
from tests.whatsapp.harness import text_event

LIMIT = RateLimit(burst=5, per_minute=12)  # one message back every 5 s
T0 = datetime(2026, 3, 2, 15, 0, tzinfo=timezone.utc)
PATIENT = "5531988887777"
OTHER = "5531977776666"


def spend(full_at: datetime | None, now: datetime, times: int) -> tuple[int, datetime | None]:
    """Try ``times`` messages at ``now``: how many got through, and the bucket afterwards."""
    through = 0
    for _ in range(times):
        after = take(full_at, now, LIMIT)
        if after is not None:
            through, full_at = through + 1, after
    return through, full_at


def test_a_full_bucket_lets_a_burst_through_then_one_message_per_interval() -> None:
    through, full_at = spend(None, T0, 30)
    assert through == 5 and full_at == T0 + timedelta(seconds=25)
    assert spend(full_at, T0 + timedelta(seconds=4.9), 1)[0] == 0
    through, full_at = spend(full_at, T0 + timedelta(seconds=5), 3)
    assert through == 1
    assert spend(full_at, T0 + timedelta(minutes=1), 30)[0] == 5  # refilled, never above 5


def test_a_minute_of_flooding_gets_the_burst_and_the_rate() -> None:
    full_at, through = None, 0
    for second in range(60):  # one message a second
        after = take(full_at, T0 + timedelta(seconds=second), LIMIT)
        if after is not None:
            through, full_at = through + 1, after
    assert through == 5 + 11  # the burst, then one every 5 s from second 5 to 55


def test_no_limit_when_the_rate_is_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATE_LIMIT_PER_MINUTE", "0")
    assert RateLimit.from_settings(read_settings()) is None
    monkeypatch.setenv("RATE_LIMIT_PER_MINUTE", "30")
    monkeypatch.setenv("RATE_LIMIT_BURST", "3")
    assert RateLimit.from_settings(read_settings()) == RateLimit(3, 30.0)


@pytest.fixture
def pin_clock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[datetime], None]:
    path = tmp_path / "clock"
    monkeypatch.setenv("CLOCK_FILE", str(path))
    clock.set_clock_file(path, T0)
    return lambda moment: clock.set_clock_file(path, moment)


def store(
    engine: Engine, message_id: str, phone: str = PATIENT, queue_full: bool = False
) -> inbox.StoredInbound:
    stored = inbox.store_inbound(
        "zapi", text_event(message_id, phone=phone), engine, rate_limit=LIMIT, queue_full=queue_full
    )
    assert stored is not None
    return stored


def statuses(engine: Engine, phone: str = PATIENT) -> list[str]:
    with session_scope(engine) as session:
        query = (
            select(ConversationMessage.status)
            .where(ConversationMessage.phone == phone, ConversationMessage.direction == "in")
            .order_by(ConversationMessage.id)
        )
        return list(session.execute(query).scalars())


def notices(engine: Engine, phone: str = PATIENT) -> list[str]:
    with session_scope(engine) as session:
        query = select(OutboxMessage.text).where(OutboxMessage.phone == phone)
        return list(session.execute(query).scalars())


def test_messages_over_the_limit_are_stored_throttled_with_one_notice(
    engine: Engine, pin_clock: Callable[[datetime], None]
) -> None:
    stored = [store(engine, f"A{index}") for index in range(8)]
    assert [message.throttled for message in stored] == [False] * 5 + [True] * 3
    assert statuses(engine) == ["received"] * 5 + ["throttled"] * 3
    assert notices(engine) == [TOO_MANY_MESSAGES]
    replayed = [message.id for message in inbox.pending("zapi", engine)]
    assert replayed == [message.id for message in stored[:5]]  # throttled: never replayed
    assert not store(engine, "B0", phone=OTHER).throttled  # every phone has its own bucket

    pin_clock(T0 + NOTICE_INTERVAL + timedelta(seconds=1))  # the bucket is full again
    later = [store(engine, f"C{index}") for index in range(6)]
    assert [message.throttled for message in later] == [False] * 5 + [True]
    assert notices(engine) == [TOO_MANY_MESSAGES] * 2  # a new notice interval


def test_a_full_turn_queue_throttles_without_spending_a_token(
    engine: Engine, pin_clock: Callable[[datetime], None]
) -> None:
    assert store(engine, "Q0", queue_full=True).throttled
    assert [store(engine, f"Q{index}").throttled for index in range(1, 7)] == [False] * 5 + [True]
    assert notices(engine) == [TOO_MANY_MESSAGES]
