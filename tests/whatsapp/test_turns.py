"""Failing turns over real HTTP (webhook, fake Z-API) on both databases: retried with backoff,
in order, without saying anything twice; after the last attempt the patient gets one apology
and the operators an alert. And the Rasa failures that must fail a turn instead of being hidden.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage
from rasa.shared.core.domain import Domain
from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from clinicbot.alerts import DeadLetter, add_alert_hook
from clinicbot.db.engine import session_scope
from clinicbot.db.models import ConversationMessage
from clinicbot.rasa.stores import DatabaseUrlTrackerStore
from clinicbot.rasa.turn_failures import (
    PROCESSOR_LOGGER,
    ActionFailed,
    raise_tracker_store_errors,
    strict_turn,
)
from clinicbot.services.templates import TURN_FAILED_APOLOGY
from clinicbot.settings import SANDBOX_ZAPI_INSTANCE_ID, SANDBOX_ZAPI_INSTANCE_TOKEN, get_settings
from clinicbot.whatsapp.zapi.connector import ZapiInput
from clinicbot.whatsapp.zapi.payloads import received_callback, text_content
from tests.whatsapp.harness import ConnectorHarness, wait_for, wait_settled

PHONE = "5531988887777"
OTHER = "5531977776666"
TOKEN = {"z-api-token": SANDBOX_ZAPI_INSTANCE_TOKEN}
RETRIES = {
    "turn_retry_attempts": 3,
    "turn_retry_initial_seconds": 0.05,
    "turn_retry_max_seconds": 0.2,
}


class FlakyBot:
    """Says "Um momento…", then fails (as Rasa does when its database restarts mid-turn) the
    first ``failures`` times it runs a message's turn, then answers ``eco: <text>``."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.turns: list[str] = []

    async def __call__(self, message: UserMessage) -> None:
        self.turns.append(message.text or "")
        await message.output_channel.send_text_message(message.sender_id, "Um momento…")
        if self.turns.count(message.text or "") <= self.failures:
            raise OperationalError("SELECT events", {}, Exception("server closed the connection"))
        await message.output_channel.send_text_message(message.sender_id, f"eco: {message.text}")


class MenuThenFailBot:
    """Offers a menu, then fails its first turn; records whether each turn was told that the
    patient was answering a menu."""

    def __init__(self) -> None:
        self.options_offered: list[bool] = []

    async def __call__(self, message: UserMessage) -> None:
        self.options_offered.append(message.metadata["options_offered"])
        buttons = [{"title": "terça", "payload": "1"}, {"title": "quarta", "payload": "2"}]
        await message.output_channel.send_text_with_buttons(message.sender_id, "Dia?", buttons)
        if len(self.options_offered) == 1:
            raise ConnectionError("redis restarting")


@pytest.fixture
def alerts() -> Iterator[list[DeadLetter]]:
    received: list[DeadLetter] = []
    remove = add_alert_hook(received.append)
    yield received
    remove()


def harness(engine: Engine, bot: Any, **retries: Any) -> ConnectorHarness:
    def make_zapi(settings: Any, worker: Any) -> ZapiInput:
        return ZapiInput(
            SANDBOX_ZAPI_INSTANCE_ID,
            SANDBOX_ZAPI_INSTANCE_TOKEN,
            "",
            settings=settings,
            worker=worker,
        )

    return ConnectorHarness(engine, make_zapi, bot, **{**RETRIES, **retries})


@pytest.fixture
def zapi(engine: Engine, request: pytest.FixtureRequest) -> Iterator[ConnectorHarness]:
    running = harness(engine, FlakyBot(request.param))
    yield running
    running.stop()


def send(zapi: ConnectorHarness, body: str, phone: str = PHONE) -> None:
    payload = received_callback(SANDBOX_ZAPI_INSTANCE_ID, phone, text_content(body))
    assert zapi.post(json=payload, headers=TOKEN).json() == {"status": "accepted"}


def delivered(zapi: ConnectorHarness, phone: str = PHONE) -> list[str]:
    return [m.message for m in zapi.fakes.zapi.messages_after(0, phone)]


def inbound(engine: Engine) -> list[tuple[str, str, int]]:
    with session_scope(engine) as session:
        rows = session.execute(
            select(
                ConversationMessage.text, ConversationMessage.status, ConversationMessage.attempts
            )
            .where(ConversationMessage.direction == "in")
            .order_by(ConversationMessage.id)
        )
        return [tuple(row) for row in rows]


@pytest.mark.parametrize("zapi", [2], indirect=True)
def test_a_failed_turn_runs_again_and_says_everything_once(
    zapi: ConnectorHarness, engine: Engine
) -> None:
    send(zapi, "quero marcar")
    wait_settled(engine)
    assert zapi.bot.turns == ["quero marcar"] * 3
    assert inbound(engine) == [("quero marcar", "processed", 2)]
    assert delivered(zapi) == ["Um momento…", "eco: quero marcar"]


def test_the_patients_next_message_waits_behind_the_retried_one(engine: Engine) -> None:
    bot = FlakyBot(2)
    # Waits of 0.5-1.5 s: the next message arrives while the first waits for its retry.
    zapi = harness(engine, bot, turn_retry_initial_seconds=0.5, turn_retry_max_seconds=1.0)
    try:
        send(zapi, "primeira")
        wait_for(lambda: inbound(engine) == [("primeira", "received", 1)])
        send(zapi, "segunda")
        send(zapi, "oi", phone=OTHER)  # another patient is not held up
        wait_settled(engine)
    finally:
        zapi.stop()
    mine = [turn for turn in bot.turns if turn != "oi"]
    assert mine == ["primeira"] * 3 + ["segunda"] * 3
    assert delivered(zapi) == ["Um momento…", "eco: primeira", "Um momento…", "eco: segunda"]
    assert delivered(zapi, OTHER) == ["Um momento…", "eco: oi"]


@pytest.mark.parametrize("zapi", [100], indirect=True)
def test_a_turn_that_keeps_failing_is_dead_with_one_apology_and_an_alert(
    zapi: ConnectorHarness, engine: Engine, alerts: list[DeadLetter]
) -> None:
    send(zapi, "oi")
    send(zapi, "alguém aí?")
    wait_settled(engine)
    assert inbound(engine) == [("oi", "dead", 3), ("alguém aí?", "dead", 3)]
    # Each message's turn said "Um momento…" once; one apology for both.
    assert delivered(zapi) == ["Um momento…", TURN_FAILED_APOLOGY, "Um momento…"]
    assert [(a.kind, a.channel, a.phone) for a in alerts] == [("inbound", "zapi", PHONE)] * 2
    assert alerts[0].reason.startswith("OperationalError: ")


def test_a_retried_turn_reads_the_patients_message_as_the_first_attempt_did(
    engine: Engine,
) -> None:
    bot = MenuThenFailBot()
    running = harness(engine, bot)
    try:
        send(running, "segunda")
        wait_settled(engine)
    finally:
        running.stop()
    # The menu the failed attempt queued is not a menu the patient was answering.
    assert bot.options_offered == [False, False]
    assert len(delivered(running)) == 1


def test_a_failed_action_stops_a_strict_turn_only() -> None:
    processor = logging.getLogger(PROCESSOR_LOGGER)

    def _run_action() -> None:  # named like the processor's method that logs the failure
        try:
            raise ConnectionError("Couldn't connect to the action server")
        except ConnectionError:
            processor.exception("Encountered an exception while running action 'x'. Bot …")

    _run_action()  # outside a WhatsApp turn Rasa carries on, as it always did
    with pytest.raises(ActionFailed, match="running action 'x'") as raised, strict_turn():
        _run_action()
    assert isinstance(raised.value.__cause__, ConnectionError)
    _run_action()


def test_a_tracker_store_error_fails_the_turn_instead_of_an_empty_conversation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'rasa.db'}")
    get_settings.cache_clear()
    try:
        store = DatabaseUrlTrackerStore(domain=Domain.empty())
    finally:
        get_settings.cache_clear()
    agent = Agent(domain=Domain.empty(), tracker_store=store)
    with store.engine.begin() as connection:  # the database loses the conversations
        connection.execute(text("DROP TABLE events"))
    assert asyncio.run(agent.tracker_store.retrieve(PHONE)) is None  # Rasa's default: hidden
    raise_tracker_store_errors(agent)
    with pytest.raises(OperationalError, match="no such table"):
        asyncio.run(agent.tracker_store.retrieve(PHONE))
