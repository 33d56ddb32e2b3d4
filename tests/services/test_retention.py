"""Retention deletes what is past the age, keeps the rest and never what is still to be sent."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from clinicbot.db import models
from clinicbot.db.engine import session_scope
from clinicbot.services.retention import purge_expired
from tests.db import factories

NOW = datetime(2026, 12, 1, 12, tzinfo=timezone.utc)
OLD = NOW - timedelta(days=400)  # before the cutoff of a 12-month retention (2025-12-01)
RECENT = NOW - timedelta(days=20)


def count(engine: Engine, model: type) -> int:
    with session_scope(engine) as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def test_old_rows_go_and_recent_or_unsent_ones_stay(engine: Engine) -> None:
    with engine.begin() as connection:  # Rasa's tracker table, as the rasa server creates it
        connection.execute(
            text("CREATE TABLE IF NOT EXISTS events (sender_id VARCHAR(255), timestamp FLOAT)")
        )
        for moment in (OLD, RECENT):
            connection.execute(
                text("INSERT INTO events (sender_id, timestamp) VALUES ('5531999990000', :t)"),
                {"t": moment.timestamp()},
            )
    try:
        with session_scope(engine) as session:
            for moment in (OLD, RECENT):
                session.add(models.ApiCallLog(
                    service="gestaods", method="GET", path="/x", latency_ms=5, created_at=moment
                ))  # fmt: skip
                session.add(models.OutboxMessage(
                    channel="zapi", phone="5531999990000", text="oi", status="sent",
                    created_at=moment, next_attempt_at=moment,
                ))  # fmt: skip
                session.add(models.IdentityCheck(phone="5531999990000", day=moment.date()))
            session.add(models.OutboxMessage(
                channel="zapi", phone="5531999990001", text="ainda não foi", status="pending",
                created_at=OLD, next_attempt_at=OLD,
            ))  # fmt: skip
            conversation = factories.conversation(phone="5531999990000")
            session.add(conversation)

        deleted = purge_expired(engine, months=12, now=NOW)

        assert deleted["api_call_logs"] == 1 and count(engine, models.ApiCallLog) == 1
        assert deleted["outbox_messages"] == 1 and count(engine, models.OutboxMessage) == 2
        assert deleted["identity_checks"] == 1
        assert deleted["events"] == 1
        with session_scope(engine) as session:
            kept = session.execute(select(models.IdentityCheck.day)).scalars().all()
        assert kept == [RECENT.date()] and RECENT.date() > date(2025, 12, 1)
    finally:
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE events"))
