"""A patient books a consultation on WhatsApp, end to end over real HTTP."""

from __future__ import annotations

import sqlite3
from datetime import datetime

import pytest
import requests
from validate_docbr import CPF

from clinicbot.stack import Stack
from tests.support.whatsapp import WhatsAppPatient, menu_lines


def test_patient_books_through_the_zapi_webhook(
    stack: Stack, sandbox_url, patient: WhatsAppPatient, registered_cpf: str
):

    assert "assistente" in patient.say("oi, bom dia").lower()
    assert "cpf" in patient.say("quero marcar uma consulta").lower()

    days = menu_lines(patient.say(registered_cpf))
    assert len(days) >= 2, days
    times_text = patient.say("2")
    chosen_day = days[1].split(". ", 1)[1]  # e.g. "terça, 01/12"
    assert chosen_day.split(", ")[1] in times_text
    times = menu_lines(times_text)
    assert times, times_text
    chosen_time = times[0].split(". ", 1)[1]  # e.g. "08:00"

    question = patient.say("1")
    assert chosen_time in question and "sim" in question.lower()

    confirmation = patient.say("sim")
    assert "consulta está marcada" in confirmation
    assert chosen_time in confirmation

    state = requests.get(f"{sandbox_url}/__sandbox/gestaods/state", timeout=5).json()
    booked = [a for a in state["appointments"] if a["cpf"] == registered_cpf and not a["cancelado"]]
    starts = {datetime.fromisoformat(a["starts_at"]).strftime("%d/%m %H:%M") for a in booked}
    day_digits = chosen_day.split(", ")[1]
    assert f"{day_digits} {chosen_time}" in starts

    database = stack.env["DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(database) as db:
        rows = db.execute(
            "SELECT gestaods_id, phone, status FROM appointments WHERE cpf = ?", (registered_cpf,)
        ).fetchall()
    assert [(row[1], row[2]) for row in rows] == [(patient.phone, "scheduled")]
    assert rows[0][0] in {a["id"] for a in booked}


def test_unknown_patient_is_registered_then_booked(stack: Stack, sandbox_url, patient_factory):
    patient = patient_factory()
    new_cpf = CPF().generate()  # valid, not in the sandbox agenda

    patient.say("qro agendar consulta")
    assert "nascimento" in patient.say(new_cpf).lower()
    assert "não entendi a data" in patient.say("faz tempo").lower()
    assert "nome completo" in patient.say("12/03/1988").lower()
    assert "e-mail" in patient.say("Joana Dias Pereira").lower()
    assert menu_lines(patient.say("joana.dias@example.com"))
    patient.say("1")
    patient.say("1")
    assert "Prontinho, Joana!" in patient.say("sim")

    state = requests.get(f"{sandbox_url}/__sandbox/gestaods/state", timeout=5).json()
    assert any(p["cpf"] == new_cpf for p in state["patients"])
    assert any(a["cpf"] == new_cpf and a["primeiro_atendimento"] for a in state["appointments"])


def test_invalid_cpf_is_asked_again(stack: Stack, patient_factory):
    patient = patient_factory()
    patient.say("quero marcar uma consulta")
    assert "não parece válido" in patient.say("123.456.789-00")


def test_webhook_rejects_bad_token_and_malformed_body(stack: Stack, patient_factory):
    patient = patient_factory()
    assert patient.post({"type": "ReceivedCallback"}, token="wrong").status_code == 401
    response = requests.post(
        f"{patient.rasa_url}/webhooks/zapi/webhook",
        data=b"{not json",
        headers={"z-api-token": "sandbox-instance-token", "Content-Type": "application/json"},
        timeout=5,
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("typed", "registered"),
    [("Ana Paula Lima, pode ser com y", "Ana Paula Lima"), ("ANA PAULA LIMA", "Ana Paula Lima")],
)
def test_a_new_patients_name_leaves_out_remarks_and_capitals(
    stack: Stack, sandbox_url, patient_factory, typed: str, registered: str
):
    patient = patient_factory()
    new_cpf = CPF().generate()
    patient.say("quero marcar uma consulta")
    assert "nascimento" in patient.say(new_cpf).lower()
    assert "nome completo" in patient.say("12/03/1988").lower()
    assert "e-mail" in patient.say(typed).lower()
    assert menu_lines(patient.say("ana.lima@example.com"))
    patient.say("1")
    patient.say("1")
    assert "Prontinho, Ana!" in patient.say("sim")
    state = requests.get(f"{sandbox_url}/__sandbox/gestaods/state", timeout=5).json()
    [saved] = [p for p in state["patients"] if p["cpf"] == new_cpf]
    assert saved["nome_completo"] == registered, saved
