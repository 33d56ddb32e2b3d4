"""Faults of real processes (sandbox, action server, rasa, clinic service on their own ports,
PostgreSQL and Redis: ``conftest.py``): a Z-API outage of hours, the action server killed
mid-conversation, and one that stays down. Every acknowledged message is answered exactly once,
or gets one apology.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import text
from sqlalchemy.engine import Engine

from clinicbot.services.templates import TURN_FAILED_APOLOGY
from clinicbot.stack import Stack
from tests.support.faults import ANSWER as FAQ_ANSWER
from tests.support.faults import answering, kill, service, supervise_until, wait_until
from tests.support.whatsapp import WhatsAppPatient

pytestmark = pytest.mark.integration

OLD_ATTEMPT_LIMIT = 8  # the outbox gave up after 8 attempts (about 2 minutes) before issue 12


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


def test_replies_outlast_a_z_api_outage_of_hours_and_arrive_exactly_once(
    patient: WhatsAppPatient,
    sandbox_url: str,
    database: Engine,
    stack: Stack,
    clock: Callable[[datetime], None],
) -> None:
    zapi_outage(sandbox_url, down=True)
    try:
        for message in ("oi, bom dia", "qual o endereço de vcs?"):
            assert patient.send(message).status_code == 200
            patient.turns.wait_processed(patient.sent_ids[-1])  # answered, not delivered
        wait_until(lambda: outbox(database, patient.phone)[0].attempts > OLD_ATTEMPT_LIMIT)
        clock(stack.clock_now() + timedelta(hours=3))
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
    actions = service(stack, "actions")
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
    actions = service(stack, "actions")
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
