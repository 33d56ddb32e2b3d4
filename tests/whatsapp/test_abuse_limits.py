"""What one phone can ask of the assistant, over real HTTP through the Z-API connector: a burst
is stored but answered only up to the rate limit, the turns queued per phone are capped, and
the NLU reads at most 4,096 characters of a message."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from clinicbot.db.engine import session_scope
from clinicbot.db.models import ConversationMessage
from clinicbot.services.templates import TOO_MANY_MESSAGES
from clinicbot.settings import SANDBOX_ZAPI_INSTANCE_ID
from clinicbot.whatsapp.turns import NLU_MAX_CHARS
from clinicbot.whatsapp.zapi.payloads import received_callback, text_content
from tests.whatsapp.harness import ZAPI_TOKEN, ConnectorHarness, make_zapi, wait_for, wait_settled

PHONE = "5531988887777"


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


def send(harness: ConnectorHarness, text: str) -> str:
    payload = received_callback(SANDBOX_ZAPI_INSTANCE_ID, PHONE, text_content(text))
    answer = harness.post(json=payload, headers=ZAPI_TOKEN)
    assert answer.status_code == 200
    return str(answer.json()["status"])


def inbound(engine: Engine) -> list[tuple[str, str]]:
    with session_scope(engine) as session:
        query = (
            select(ConversationMessage.text, ConversationMessage.status)
            .where(ConversationMessage.direction == "in")
            .order_by(ConversationMessage.id)
        )
        return [tuple(row) for row in session.execute(query)]


def delivered(harness: ConnectorHarness) -> list[str]:
    return [message.message for message in harness.fakes.zapi.messages_after(0, PHONE)]


@pytest.fixture
def burst_limited(engine: Engine) -> Iterator[ConnectorHarness]:
    # Burst 5, and no token back for the length of the test: exactly five turns.
    harness = ConnectorHarness(engine, make_zapi(), rate_limit_burst=5, rate_limit_per_minute=0.001)
    yield harness
    harness.stop()


def test_a_burst_of_30_is_stored_but_five_are_answered_and_one_notice_sent(
    burst_limited: ConnectorHarness, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    acks = [send(burst_limited, f"mensagem {index}") for index in range(30)]
    assert acks == ["accepted"] * 5 + ["throttled"] * 25
    wait_settled(engine)
    stored = inbound(engine)
    assert [text for text, _ in stored] == [f"mensagem {index}" for index in range(30)]
    assert Counter(status for _, status in stored) == {"processed": 5, "throttled": 25}
    assert [message.text for message in burst_limited.bot.messages] == [
        f"mensagem {index}" for index in range(5)
    ]
    assert Counter(delivered(burst_limited)) == Counter(
        [f"eco: mensagem {index}" for index in range(5)] + [TOO_MANY_MESSAGES]
    )
    assert "55319****7777" in caplog.text and PHONE not in caplog.text


def test_turns_queued_per_phone_are_capped(engine: Engine) -> None:
    harness = ConnectorHarness(engine, make_zapi(), rate_limit_per_minute=0, max_queued_turns=3)
    harness.bot.hold = threading.Event()  # Rasa is slow: turns pile up
    try:
        acks = [send(harness, f"fila {index}") for index in range(6)]
        assert acks == ["accepted"] * 3 + ["throttled"] * 3
        wait_for(lambda: delivered(harness) == [TOO_MANY_MESSAGES])
        harness.bot.hold.set()
        wait_settled(engine)
        assert [status for _, status in inbound(engine)] == ["processed"] * 3 + ["throttled"] * 3
        assert delivered(harness)[1:] == ["eco: fila 0", "eco: fila 1", "eco: fila 2"]
        assert send(harness, "de novo") == "accepted"  # the queue emptied
    finally:
        harness.bot.hold.set()
        harness.stop()


def test_the_nlu_reads_only_the_first_4096_characters(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    harness = ConnectorHarness(engine, make_zapi())
    try:
        text = "quero marcar uma consulta " * 400  # 10,400 characters
        assert send(harness, text) == "accepted"
        wait_settled(engine)
        [message] = harness.bot.messages
        assert message.text == text[:NLU_MAX_CHARS]
        assert inbound(engine) == [(text.strip(), "processed")]  # stored whole
        assert f"{len(text.strip())} characters, only the first 4096 are read" in caplog.text
        assert "55319****7777" in caplog.text and PHONE not in caplog.text
    finally:
        harness.stop()
