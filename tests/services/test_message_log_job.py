"""The daily job that keeps the message log's partitions ready and applies retention."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from clinicbot.db.engine import session_scope
from clinicbot.db.models import ConversationMessage
from clinicbot.db.types import utcnow
from clinicbot.gestaods.client import GestaoDSClient
from clinicbot.services.scheduler import Jobs
from clinicbot.settings import read_settings


def add_message(engine: Engine, age: timedelta, text_: str) -> None:
    with session_scope(engine) as session:
        session.add(
            ConversationMessage(
                phone="5531988887777", direction="in", text=text_, created_at=utcnow() - age
            )
        )


def test_old_messages_go_and_recent_ones_stay(engine: Engine, agenda: GestaoDSClient) -> None:
    settings = dataclasses.replace(read_settings(), message_retention_months=2)
    add_message(engine, timedelta(days=200), "velha")
    add_message(engine, timedelta(days=1), "recente")

    Jobs(settings, engine=engine, agenda=agenda).maintain_message_log()

    with session_scope(engine) as session:
        texts = session.execute(select(ConversationMessage.text)).scalars().all()
    assert texts == ["recente"]
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            partitions = connection.execute(
                text(
                    "SELECT count(*) FROM pg_inherits "
                    "WHERE inhparent = 'conversation_messages'::regclass"
                )
            ).scalar_one()
        assert partitions >= 4  # this month and the next three, plus the default


def test_the_job_is_idempotent(engine: Engine, agenda: GestaoDSClient) -> None:
    jobs = Jobs(read_settings(), engine=engine, agenda=agenda)
    add_message(engine, timedelta(days=1), "oi")
    jobs.maintain_message_log()
    jobs.maintain_message_log()
    with session_scope(engine) as session:
        assert session.execute(select(func.count()).select_from(ConversationMessage)).scalar() == 1
