"""The conversations trigger keeps chatbot_metrics current, the same way on both backends."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from clinicbot.db.engine import session_scope
from clinicbot.db.models import ChatbotMetrics, Conversation

from . import factories

MARCH_10 = date(2031, 3, 10)
MARCH_11 = date(2031, 3, 11)


def _utc(day: int, hour: int) -> datetime:
    return datetime(2031, 3, day, hour, 0, tzinfo=timezone.utc)


def _metrics(engine: Engine) -> dict[date, ChatbotMetrics]:
    with session_scope(engine) as session:
        rows = session.execute(select(ChatbotMetrics)).scalars()
        return {row.date: row for row in rows}


def _update(engine: Engine, conversation_id: int, **values: object) -> None:
    with session_scope(engine) as session:
        conversation = session.get(Conversation, conversation_id)
        for name, value in values.items():
            setattr(conversation, name, value)


def test_conversations_are_counted_per_clinic_day(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.add_all(
            [
                factories.conversation(
                    started_at=_utc(10, 15), resolved_by_bot=True, appointment_booked=True
                ),
                # 02:00 UTC on the 11th is 23:00 on the 10th in São Paulo.
                factories.conversation(started_at=_utc(11, 2)),
                factories.conversation(started_at=_utc(11, 15), resolved_by_bot=True),
            ]
        )

    metrics = _metrics(engine)
    assert set(metrics) == {MARCH_10, MARCH_11}
    day = metrics[MARCH_10]
    assert (day.total_conversations, day.bot_resolved_conversations) == (2, 1)
    assert (day.successful_appointments, day.bot_resolution_rate) == (1, pytest.approx(0.5))
    assert (day.avg_response_time_ms, day.satisfaction) == (None, None)
    assert (metrics[MARCH_11].total_conversations, metrics[MARCH_11].bot_resolution_rate) == (
        1,
        pytest.approx(1.0),
    )


def test_metrics_follow_updates_of_counted_columns(engine: Engine) -> None:
    with session_scope(engine) as session:
        first = factories.conversation(started_at=_utc(10, 12))
        second = factories.conversation(started_at=_utc(10, 13))
        moved = factories.conversation(started_at=_utc(11, 12))
        session.add_all([first, second, moved])

    _update(engine, first.id, resolved_by_bot=True, satisfaction=5)
    _update(engine, second.id, satisfaction=4, last_intent="agendar")
    _update(engine, moved.id, started_at=_utc(10, 18))  # corrected start: another day

    metrics = _metrics(engine)
    day = metrics[MARCH_10]
    assert (day.total_conversations, day.bot_resolved_conversations) == (3, 1)
    assert day.bot_resolution_rate == pytest.approx(1 / 3)
    assert (day.satisfaction_count, day.satisfaction) == (2, pytest.approx(4.5))
    assert metrics[MARCH_11].total_conversations == 0
    assert metrics[MARCH_11].bot_resolution_rate is None


def test_reply_latency_feeds_the_average_response_time(engine: Engine) -> None:
    with session_scope(engine) as session:
        conversation = factories.conversation(started_at=_utc(10, 12))
        session.add(conversation)
        session.flush()
        session.add_all(
            [
                factories.message(conversation_id=conversation.id, direction="in", latency_ms=5),
                factories.message(
                    conversation_id=conversation.id, direction="out", latency_ms=1000
                ),
                factories.message(
                    conversation_id=conversation.id, direction="out", latency_ms=3000
                ),
                factories.message(conversation_id=conversation.id, direction="out"),  # no latency
                factories.message(direction="out", latency_ms=9999),  # no conversation
            ]
        )

    with session_scope(engine) as session:
        stored = session.get(Conversation, conversation.id)
        assert (stored.replies_count, stored.response_time_ms_total) == (2, 4000)
    day = _metrics(engine)[MARCH_10]
    assert (day.responses_count, day.avg_response_time_ms) == (2, pytest.approx(2000.0))
