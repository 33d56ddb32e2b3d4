"""The Z-API channel end to end (real rasa, action server, sandbox): a booking message delivered
three times books once and answers once; replies written during a Z-API outage are delivered,
in order, once it is over."""

from __future__ import annotations

import re
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
from validate_docbr import CPF

from clinicbot.gestaods.client import GestaoDSClient
from clinicbot.settings import SANDBOX_ZAPI_INSTANCE_ID
from clinicbot.stack import Stack
from clinicbot.zapi.callbacks import received_callback, text_content

MENU_LINE = re.compile(r"^\d+\. .+$", flags=re.MULTILINE)


def appointments_of(sandbox_url: str, cpf: str) -> list[dict[str, Any]]:
    state = requests.get(f"{sandbox_url}/__sandbox/gestaods/state", timeout=5).json()
    return [a for a in state["appointments"] if a["cpf"] == cpf and not a["cancelado"]]


def registered_cpf(agenda: GestaoDSClient) -> str:
    """A patient the agenda knows, with no appointment yet."""
    cpf = CPF().generate()
    agenda.register_patient(name="Rita Duplicada Lopes", cpf=cpf, email="rita@example.org")
    return cpf


def test_booking_confirmation_delivered_three_times_books_once(
    stack: Stack, sandbox_url: str, patient_factory, agenda: GestaoDSClient
) -> None:
    cpf = registered_cpf(agenda)
    patient = patient_factory()
    patient.say("quero marcar uma consulta")
    assert MENU_LINE.findall(patient.say(cpf))
    patient.say("1")
    assert "sim" in patient.say("1").lower()
    before = len(appointments_of(sandbox_url, cpf))

    confirmation = received_callback(SANDBOX_ZAPI_INSTANCE_ID, patient.phone, text_content("sim"))
    with ThreadPoolExecutor(max_workers=3) as pool:
        answers = list(pool.map(lambda _: patient.post(confirmation), range(3)))
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert sorted(a.json()["status"] for a in answers) == ["accepted", "duplicate", "duplicate"]

    replies = patient.replies(1)
    time.sleep(3.0)  # a second turn, had there been one, would have answered by now
    replies += patient.replies(0, timeout=0.5)
    assert len(replies) == 1, replies
    assert "consulta está marcada" in replies[0]["message"]
    assert len(appointments_of(sandbox_url, cpf)) == before + 1

    database = stack.env["DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(database) as db:
        inbound = db.execute(
            "SELECT status, intent, confidence FROM conversation_messages "
            "WHERE external_message_id = ?",
            (confirmation["messageId"],),
        ).fetchall()
    assert len(inbound) == 1
    status, intent, confidence = inbound[0]
    assert status == "processed" and intent and confidence is not None


def test_answers_written_during_an_outage_arrive_in_order_after_it(
    stack: Stack, sandbox_url: str, patient_factory
) -> None:
    patient = patient_factory()
    outage = f"{sandbox_url}/__sandbox/zapi/outage"
    requests.post(outage, json={"down": True, "status": 500}, timeout=5).raise_for_status()
    try:
        assert patient.send("oi, bom dia").status_code == 200
        time.sleep(1.5)  # the greeting is queued before the next message arrives
        assert patient.send("quero marcar uma consulta").status_code == 200
        time.sleep(2.0)
        assert patient.replies(0, timeout=0.2) == []
    finally:
        requests.post(outage, json={"down": False}, timeout=5).raise_for_status()

    replies = patient.replies(2, timeout=60)
    time.sleep(0.5)
    replies += patient.replies(0, timeout=0.5)
    texts = [reply["message"].lower() for reply in replies]
    greeting = next(i for i, text in enumerate(texts) if "assistente" in text)
    cpf_question = next(i for i, text in enumerate(texts) if "cpf" in text)
    assert greeting < cpf_question, texts
    assert [r["seq"] for r in replies] == sorted(r["seq"] for r in replies)

    database = stack.env["DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(database) as db:
        rows = db.execute(
            "SELECT status, attempts FROM outbox_messages WHERE phone = ? ORDER BY id",
            (patient.phone,),
        ).fetchall()
    assert rows and all(status == "sent" for status, _ in rows)
    assert rows[0][1] > 1  # the first answer was retried through the outage
