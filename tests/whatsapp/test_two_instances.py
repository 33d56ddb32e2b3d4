"""Two rasa instances on one database, as behind a load balancer, on both backends: one
patient's messages, spread over both, run one at a time in arrival order, and every answer is
delivered exactly once although both delivery workers poll the same outbox.

Each instance is a connector in its own Sanic server with its own turn runner and delivery
worker (what a rasa process has); Rasa is a slow echo bot shared by both, which records when
each turn starts and ends.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator

import pytest
from rasa.core.channels.channel import UserMessage
from sqlalchemy.engine import Engine

from clinicbot.settings import SANDBOX_ZAPI_INSTANCE_ID
from clinicbot.whatsapp.zapi.payloads import received_callback, text_content
from tests.whatsapp.harness import ZAPI_TOKEN, ConnectorHarness, make_zapi, wait_settled

PHONE = "5531988881111"
OTHER = "5531988882222"
TURN_SECONDS = 0.15


class SlowEchoBot:
    """Answers ``eco: <text>`` after :data:`TURN_SECONDS`; keeps each turn's (text, start, end)."""

    def __init__(self) -> None:
        self.turns: list[tuple[str, str, float, float]] = []

    async def __call__(self, message: UserMessage) -> None:
        started = time.monotonic()
        await asyncio.sleep(TURN_SECONDS)
        await message.output_channel.send_text_message(message.sender_id, f"eco: {message.text}")
        self.turns.append((message.sender_id, message.text or "", started, time.monotonic()))


@pytest.fixture
def instances(engine: Engine) -> Iterator[tuple[ConnectorHarness, ConnectorHarness, SlowEchoBot]]:
    bot = SlowEchoBot()
    first = ConnectorHarness(engine, make_zapi(), bot, rate_limit_per_minute=0)
    second = ConnectorHarness(engine, make_zapi(), bot, rate_limit_per_minute=0)
    yield first, second, bot
    first.stop()
    second.stop()


def send(instance: ConnectorHarness, phone: str, body: str) -> None:
    payload = received_callback(SANDBOX_ZAPI_INSTANCE_ID, phone, text_content(body))
    assert instance.post(json=payload, headers=ZAPI_TOKEN).json() == {"status": "accepted"}


def test_one_patients_messages_over_two_instances_run_in_order_and_answer_once(
    engine: Engine,
    instances: tuple[ConnectorHarness, ConnectorHarness, SlowEchoBot],
) -> None:
    first, second, bot = instances
    texts = [f"mensagem {n}" for n in range(1, 7)]
    for n, body in enumerate(texts):  # alternating, faster than a turn runs
        send(first if n % 2 == 0 else second, PHONE, body)
        send(second if n % 2 == 0 else first, OTHER, body)
    wait_settled(engine)

    for phone in (PHONE, OTHER):
        turns = [turn for turn in bot.turns if turn[0] == phone]
        assert [text for _, text, _, _ in turns] == texts
        for before, after in itertools.pairwise(turns):
            assert after[2] >= before[3], "a turn started before the previous one ended"
        delivered = [
            sent.message
            for instance in (first, second)
            for sent in instance.fakes.zapi.messages_after(0, phone)
        ]
        assert sorted(delivered) == sorted(f"eco: {text}" for text in texts)
