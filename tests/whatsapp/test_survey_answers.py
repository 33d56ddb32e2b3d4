"""Answers to the satisfaction survey over the real Z-API webhook (fake Z-API, both databases):
read before the Rasa turn, so the bot never sees them; anything else still reaches the bot."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from clinicbot import clock
from clinicbot.db.engine import session_scope
from clinicbot.db.models import Appointment, SatisfactionFeedback
from clinicbot.messages.satisfaction import FeedbackPolicy, ask_due
from clinicbot.services.notifications.policy import NotificationPolicy
from clinicbot.settings import SANDBOX_ZAPI_INSTANCE_ID, SANDBOX_ZAPI_INSTANCE_TOKEN
from clinicbot.whatsapp.zapi.payloads import received_callback, text_content
from tests.whatsapp.harness import ConnectorHarness, EchoBot, make_zapi, wait_settled

PHONE = "5531988887777"
TZ = ZoneInfo("America/Sao_Paulo")
NOON = datetime(2026, 12, 2, 12, 0, tzinfo=TZ).astimezone(timezone.utc)
POLICY = FeedbackPolicy(
    enabled=True,
    delay=timedelta(minutes=30),
    every=timedelta(days=30),
    alert_at_most=2,
    quiet=NotificationPolicy(tz=TZ, quiet_start=time(21), quiet_end=time(8)),
)


@pytest.fixture
def zapi(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[ConnectorHarness, EchoBot]]:
    path = tmp_path / "clock"
    monkeypatch.setenv("CLOCK_FILE", str(path))
    clock.set_clock_file(path, NOON)
    bot = EchoBot()
    running = ConnectorHarness(engine, make_zapi(), bot)
    yield running, bot
    running.stop()


def say(harness: ConnectorHarness, engine: Engine, text: str) -> list[str]:
    before = len(harness.fakes.zapi.messages_after(0, PHONE))
    payload = received_callback(SANDBOX_ZAPI_INSTANCE_ID, PHONE, text_content(text))
    response = harness.post(json=payload, headers={"z-api-token": SANDBOX_ZAPI_INSTANCE_TOKEN})
    assert response.json() == {"status": "accepted"}
    wait_settled(engine)
    return [m.message for m in harness.fakes.zapi.messages_after(0, PHONE)][before:]


def test_the_rating_and_comment_never_reach_the_bot(
    zapi: tuple[ConnectorHarness, EchoBot], engine: Engine
) -> None:
    harness, bot = zapi
    with session_scope(engine) as session:
        session.add(
            Appointment(
                gestaods_id="g-1",
                phone=PHONE,
                cpf="39053344705",
                starts_at=NOON + timedelta(days=2),
                ends_at=NOON + timedelta(days=2, minutes=30),
                created_at=NOON - timedelta(hours=1),
            )
        )
    with session_scope(engine) as session:
        assert ask_due(session, POLICY, now=NOON) == 1
    question, comment = say(harness, engine, "⭐⭐⭐⭐⭐")  # the worker starts with the webhook
    assert "de 1 a 5" in question and question.endswith("5. Excelente")
    assert comment.startswith("Obrigada pela nota!")
    assert say(harness, engine, "Fui muito bem atendida")[0].startswith("Obrigada pelo retorno")
    assert bot.messages == []
    assert say(harness, engine, "5") == ["eco: 5"]  # the survey is over: the bot answers
    with session_scope(engine) as session:
        feedback = session.execute(select(SatisfactionFeedback)).scalar_one()
        assert (feedback.rating, feedback.comment) == (5, "Fui muito bem atendida")
