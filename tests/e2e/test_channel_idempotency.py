"""The Z-API channel end to end (real rasa, action server, sandbox): a booking message delivered
three times books once and answers once; replies written during a Z-API outage are delivered,
in order, once it is over."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor

import requests

from clinicbot.settings import SANDBOX_ZAPI_INSTANCE_ID
from clinicbot.stack import Stack
from clinicbot.whatsapp.zapi.payloads import received_callback, text_content
from tests.e2e.conftest import active_appointments
from tests.support.whatsapp import WhatsAppPatient, menu_lines


def test_booking_confirmation_delivered_three_times_books_once(
    stack: Stack, sandbox_url: str, patient: WhatsAppPatient, registered_cpf: str
) -> None:
    cpf = registered_cpf
    patient.say("quero marcar uma consulta")
    assert menu_lines(patient.say(cpf))
    patient.say("1")
    assert "sim" in patient.say("1").lower()

    confirmation = received_callback(SANDBOX_ZAPI_INSTANCE_ID, patient.phone, text_content("sim"))
    with ThreadPoolExecutor(max_workers=3) as pool:
        answers = list(pool.map(lambda _: patient.post(confirmation), range(3)))
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert sorted(a.json()["status"] for a in answers) == ["accepted", "duplicate", "duplicate"]

    patient.finish_turn()  # the one turn ran: any second one would have been stored too
    replies = patient.new_messages()
    assert len(replies) == 1, replies
    assert "consulta está marcada" in replies[0]["message"]
    assert len(active_appointments(sandbox_url, cpf)) == 1

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
        for message in ("oi, bom dia", "quero marcar uma consulta"):
            assert patient.send(message).status_code == 200
            patient.turns.wait_processed(patient.sent_ids[-1])  # answered, not yet delivered
        assert patient.turns.undelivered(patient.phone) >= 2
        assert patient.new_messages() == []
    finally:
        requests.post(outage, json={"down": False}, timeout=5).raise_for_status()

    patient.turns.wait_delivered(patient.phone)
    replies = patient.new_messages()
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
