"""Monthly partitions of conversation_messages (PostgreSQL) and retention (both backends)."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from clinicbot.db.engine import session_scope
from clinicbot.db.models import ConversationMessage, ConversationMessageKey
from clinicbot.db.partitions import (
    DEFAULT_PARTITION,
    drop_partitions_older_than,
    ensure_partitions,
    month_start,
    partition_name,
)

from . import factories

POSTGRES_ONLY = pytest.mark.parametrize(
    "backend", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


def _at(year: int, month: int, day: int = 10, hour: int = 12) -> datetime:
    return datetime(year, month, day, hour, tzinfo=timezone.utc)


def _add_message(engine: Engine, created_at: datetime, **values: object) -> int:
    with session_scope(engine) as session:
        message = factories.message(created_at=created_at, **values)
        session.add(message)
        session.flush()
        return message.id


def _partition_of(engine: Engine, message_id: int) -> str:
    with engine.connect() as connection:
        return connection.execute(
            text("SELECT tableoid::regclass::text FROM conversation_messages WHERE id = :id"),
            {"id": message_id},
        ).scalar_one()


def test_month_arithmetic() -> None:
    assert month_start(date(2031, 1, 31), -1) == date(2030, 12, 1)
    assert month_start(date(2031, 12, 5), 1) == date(2032, 1, 1)
    assert month_start(date(2031, 3, 15), -15) == date(2029, 12, 1)
    assert partition_name(date(2031, 2, 1)) == "conversation_messages_y2031m02"


@POSTGRES_ONLY
def test_partitions_are_created_ahead_once(fresh_engine: Engine) -> None:
    created = ensure_partitions(fresh_engine, months_ahead=2, today=date(2031, 1, 15))
    assert created == [partition_name(date(2031, month, 1)) for month in (1, 2, 3)]
    assert ensure_partitions(fresh_engine, months_ahead=2, today=date(2031, 1, 15)) == []


@POSTGRES_ONLY
def test_rows_land_in_their_month_and_strays_in_the_default_partition(
    fresh_engine: Engine,
) -> None:
    ensure_partitions(fresh_engine, months_ahead=1, today=date(2031, 1, 1))
    february = _add_message(fresh_engine, _at(2031, 2, 10))
    last_january_second = _add_message(
        fresh_engine, datetime(2031, 1, 31, 23, 59, 59, tzinfo=timezone.utc)
    )
    stray = _add_message(fresh_engine, _at(2031, 5, 1), external_message_id="WAMID-MAY")
    assert _partition_of(fresh_engine, february) == "conversation_messages_y2031m02"
    assert _partition_of(fresh_engine, last_january_second) == "conversation_messages_y2031m01"
    assert _partition_of(fresh_engine, stray) == DEFAULT_PARTITION

    # May's partition arrives late: the stray row moves into it, nothing is lost.
    assert ensure_partitions(fresh_engine, months_ahead=0, today=date(2031, 5, 20)) == [
        "conversation_messages_y2031m05"
    ]
    assert _partition_of(fresh_engine, stray) == "conversation_messages_y2031m05"
    # The attached partition has the parent's triggers: dedupe and reply counting work there.
    with session_scope(fresh_engine) as session:
        conversation = factories.conversation()
        session.add(conversation)
        session.flush()
        session.add(
            factories.message(
                created_at=_at(2031, 5, 2),
                conversation_id=conversation.id,
                direction="out",
                latency_ms=700,
                external_message_id="WAMID-MAY-2",
            )
        )
    with session_scope(fresh_engine) as session:
        assert session.get(ConversationMessageKey, ("whatsapp", "WAMID-MAY-2")) is not None
        assert session.get(type(conversation), conversation.id).replies_count == 1
        assert session.execute(select(func.count(ConversationMessage.id))).scalar_one() == 4


def test_retention_removes_whole_old_months(fresh_engine: Engine, backend: str) -> None:
    ensure_partitions(fresh_engine, months_ahead=5, today=date(2030, 1, 1))
    for month in range(1, 7):
        _add_message(fresh_engine, _at(2030, month), external_message_id=f"WAMID-{month}")
    _add_message(fresh_engine, _at(2020, 1), external_message_id="WAMID-OLD")  # default partition

    with pytest.raises(ValueError):
        drop_partitions_older_than(fresh_engine, months=0)
    result = drop_partitions_older_than(fresh_engine, months=3, today=date(2030, 6, 15))

    assert result.cutoff == _at(2030, 3, 1, 0)
    if backend == "postgresql":
        # Also this month's partitions, which upgrade_to_head made, are before 2030.
        assert [name for name in result.dropped_partitions if "_y2030" in name] == [
            "conversation_messages_y2030m01",
            "conversation_messages_y2030m02",
        ]
        assert result.deleted_rows == 1
    else:
        assert (result.dropped_partitions, result.deleted_rows) == ([], 3)
    with session_scope(fresh_engine) as session:
        kept = session.execute(select(ConversationMessage.created_at)).scalars().all()
        keys = session.execute(select(ConversationMessageKey.external_message_id)).scalars()
        assert sorted(moment.month for moment in kept) == [3, 4, 5, 6]
        assert sorted(keys) == ["WAMID-3", "WAMID-4", "WAMID-5", "WAMID-6"]
