"""Faults of real processes (sandbox, action server, rasa, clinic service on their own ports and
SQLite database): a Z-API outage of hours, the action server killed mid-conversation, and one
that stays down. Every acknowledged message is answered exactly once, or gets one apology.

Time is compressed through configuration and the stack's one clock: the outbox retries every
half second (``OUTBOX_RETRY_MAX_SECONDS``), turns are retried within seconds
(``TURN_RETRY_*``), and hours of outage pass by moving the clock (:meth:`Stack.set_clock`).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from clinicbot.services.templates import TURN_FAILED_APOLOGY
from clinicbot.stack import MODEL_PATH, Service, Stack
from tests.support.stack import sandbox_stack
from tests.support.whatsapp import Turns, WhatsAppPatient

pytestmark = pytest.mark.integration

DEADLINE = 90.0  # generous: a slow CI machine is not a failure
OLD_ATTEMPT_LIMIT = 8  # the outbox gave up after 8 attempts (about 2 minutes) before issue 12
FAQ_ANSWER = "Estamos na"  # "qual o endereço de vcs?" runs action_responder_faq


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not MODEL_PATH.exists():
        pytest.fail("no trained model: `make test` trains it before pytest")
    running = sandbox_stack(
        tmp_path_factory.mktemp("faults"),
        {
            "OUTBOX_RETRY_MAX_SECONDS": "0.5",
            "TURN_RETRY_ATTEMPTS": "6",  # waits of 1, 2, 4, 4, 4 s (+ up to 1 s each)
            "TURN_RETRY_INITIAL_SECONDS": "1",
            "TURN_RETRY_MAX_SECONDS": "4",
        },
    )
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def database(stack: Stack) -> Iterator[Engine]:
    engine = create_engine(stack.env["DATABASE_URL"])
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def turns(stack: Stack) -> Iterator[Turns]:
    reader = Turns(stack.env["DATABASE_URL"])
    yield reader
    reader.close()


@pytest.fixture
def sandbox_url(stack: Stack) -> str:
    return f"http://127.0.0.1:{stack.ports.sandbox}"


_phones = iter(range(5000, 6000))


@pytest.fixture
def patient(stack: Stack, sandbox_url: str, turns: Turns) -> WhatsAppPatient:
    return WhatsAppPatient(
        phone=f"55319{next(_phones):04d}6666",
        rasa_url=f"http://127.0.0.1:{stack.ports.rasa}",
        sandbox_url=sandbox_url,
        turns=turns,
    )


@pytest.fixture
def clock(stack: Stack) -> Iterator[Callable[[timedelta], None]]:
    """``clock(delta)`` moves every process's clock ``delta`` ahead; put back after the test."""
    before, taken_at = stack.clock_now(), time.time()
    yield lambda delta: stack.set_clock(stack.clock_now() + delta)
    stack.set_clock(before + timedelta(seconds=time.time() - taken_at))


def wait_until(condition: Callable[[], Any], deadline: float = DEADLINE) -> Any:
    give_up = time.monotonic() + deadline
    while time.monotonic() < give_up:
        if value := condition():
            return value
        time.sleep(0.1)
    raise AssertionError(f"not reached within {deadline} s")


def rows(database: Engine, query: str, phone: str) -> list[Any]:
    with database.connect() as connection:
        return list(connection.execute(text(query), {"phone": phone}))


def outbox(database: Engine, phone: str) -> list[Any]:
    return rows(
        database,
        "SELECT id, text, status, attempts, external_message_id FROM outbox_messages "
        "WHERE phone = :phone ORDER BY id",
        phone,
    )


def inbound(database: Engine, phone: str) -> list[Any]:
    return rows(
        database,
        "SELECT text, status, attempts FROM conversation_messages "
        "WHERE phone = :phone AND direction = 'in' ORDER BY id",
        phone,
    )


def zapi_outage(sandbox_url: str, down: bool) -> None:
    requests.post(
        f"{sandbox_url}/__sandbox/zapi/outage", json={"down": down, "status": 500}, timeout=5
    ).raise_for_status()


def action_server(stack: Stack) -> Service:
    return next(service for service in stack.services if service.name == "actions")


def kill(service: Service) -> None:
    assert service.process is not None and service.process.poll() is None
    os.kill(service.process.pid, signal.SIGKILL)
    service.process.wait(timeout=30)


def supervise_until(stack: Stack, done: Callable[[], Any], deadline: float = DEADLINE) -> None:
    """Run the stack's supervisor (what ``make run`` does: a process that exits is started
    again) until ``done()``. It runs in this, the main thread: a child started from another
    thread would be stopped when that thread ends (``PR_SET_PDEATHSIG`` is per thread)."""
    stop = threading.Event()
    reached = threading.Event()

    def watch() -> None:
        give_up = time.monotonic() + deadline
        while time.monotonic() < give_up:
            if done():
                reached.set()
                break
            time.sleep(0.1)
        stop.set()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    assert stack.supervise(stop) == 0
    watcher.join()
    assert reached.is_set(), f"not reached within {deadline} s"


def answering(service: Service) -> bool:
    try:
        return requests.get(service.ready_url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def test_replies_outlast_a_z_api_outage_of_hours_and_arrive_exactly_once(
    patient: WhatsAppPatient,
    sandbox_url: str,
    database: Engine,
    clock: Callable[[timedelta], None],
) -> None:
    zapi_outage(sandbox_url, down=True)
    try:
        for message in ("oi, bom dia", "qual o endereço de vcs?"):
            assert patient.send(message).status_code == 200
            patient.turns.wait_processed(patient.sent_ids[-1])  # answered, not delivered
        wait_until(lambda: outbox(database, patient.phone)[0].attempts > OLD_ATTEMPT_LIMIT)
        clock(timedelta(hours=3))
        attempts = outbox(database, patient.phone)[0].attempts
        wait_until(lambda: outbox(database, patient.phone)[0].attempts >= attempts + 3)
        assert {row.status for row in outbox(database, patient.phone)} <= {"pending", "sending"}
        assert patient.new_messages() == []
    finally:
        zapi_outage(sandbox_url, down=False)

    patient.turns.wait_delivered(patient.phone)
    replies = patient.new_messages()
    queued = outbox(database, patient.phone)
    assert [reply["message"] for reply in replies] == [row.text for row in queued]
    assert {row.status for row in queued} == {"sent"}
    assert sorted(reply["messageId"] for reply in replies) == sorted(
        row.external_message_id for row in queued
    )
    assert "assistente" in replies[0]["message"] and FAQ_ANSWER in replies[-1]["message"]


def test_a_turn_during_an_action_server_crash_is_answered_once_after_the_restart(
    stack: Stack, patient: WhatsAppPatient, database: Engine
) -> None:
    patient.say("oi")
    actions = action_server(stack)
    kill(actions)
    assert patient.send("qual o endereço de vcs?").status_code == 200
    # Its turn failed on the missing action server and waits for its retry...
    wait_until(lambda: inbound(database, patient.phone)[-1].attempts >= 1)
    # ...while the supervisor brings the action server back.
    message_id = patient.sent_ids[-1]
    supervise_until(
        stack,
        lambda: (
            patient.turns.status(message_id) in ("processed", "dead")
            and patient.turns.undelivered(patient.phone) == 0
        ),
    )
    last = inbound(database, patient.phone)[-1]
    assert (last.status, last.attempts >= 1) == ("processed", True)
    replies = [reply["message"] for reply in patient.new_messages()]
    assert len(replies) == 1 and FAQ_ANSWER in replies[0], replies


def test_a_turn_that_fails_past_its_retries_gets_one_apology_and_an_alert(
    stack: Stack, patient: WhatsAppPatient, database: Engine
) -> None:
    patient.say("oi")
    actions = action_server(stack)
    kill(actions)
    try:
        assert patient.send("qual o endereço de vcs?").status_code == 200
        wait_until(lambda: inbound(database, patient.phone)[-1].status == "dead")
        patient.turns.wait_delivered(patient.phone)
        assert [reply["message"] for reply in patient.new_messages()] == [TURN_FAILED_APOLOGY]
        assert inbound(database, patient.phone)[-1].attempts == 6
        rasa_log = Path(stack.log_dir or ".") / "rasa.log"
        assert "dead letter: inbound message" in rasa_log.read_text(errors="replace")
    finally:
        supervise_until(stack, lambda: answering(actions), deadline=240)
    assert FAQ_ANSWER in patient.say("qual o endereço de vcs?")  # and it works again
