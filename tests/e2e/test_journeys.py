"""Every patient journey over the real Z-API webhook, checked against the sandbox agenda."""

from __future__ import annotations

import sqlite3
import time
from datetime import datetime

import requests

from clinicbot.gestaods.client import GestaoDSClient
from clinicbot.settings import SANDBOX_STAFF_TOKEN
from clinicbot.stack import Stack
from tests.e2e.conftest import AgendaPatient, active_appointments, sandbox_state
from tests.support.whatsapp import WhatsAppPatient, menu_lines

SLOT_TAKEN = "esse horário acabou de ser preenchido"


def test_reschedule_moves_the_same_appointment(
    stack: Stack, sandbox_url, patient: WhatsAppPatient, patient_with_appointment: AgendaPatient
):
    assert "cpf" in patient.say("preciso remarcar minha consulta").lower()
    listed = patient.say(patient_with_appointment.cpf)
    assert len(menu_lines(listed)) == 1 and "remarcar" in listed
    days = menu_lines(patient.say("1"))
    times = menu_lines(patient.say("1"))
    new_time = times[0].split(". ", 1)[1]
    question = patient.say("1")
    assert "remarcar" in question and new_time in question
    answer = patient.say("sim")
    if SLOT_TAKEN in answer:  # an earlier test booked it in the shared sandbox agenda directly,
        # unseen by the bot's 30 s availability cache: the bot offers the day's times again
        new_time = menu_lines(answer)[0].split(". ", 1)[1]
        assert new_time in patient.say("1")
        answer = patient.say("sim")
    assert "remarcada" in answer, answer

    [moved] = active_appointments(sandbox_url, patient_with_appointment.cpf)
    assert moved["id"] == patient_with_appointment.appointment_id
    starts_at = datetime.fromisoformat(moved["starts_at"])
    assert starts_at != patient_with_appointment.starts_at
    assert starts_at.strftime("%d/%m") in days[0] and starts_at.strftime("%H:%M") == new_time


def test_cancel_records_the_reason(
    stack: Stack, sandbox_url, patient: WhatsAppPatient, patient_with_appointment: AgendaPatient
):
    patient.say("quero cancelar minha consulta")
    assert "cancelar" in patient.say(patient_with_appointment.cpf)
    assert "motivo" in patient.say("1")
    assert "cancelamento" in patient.say("vou estar viajando")
    assert "cancelada" in patient.say("sim").lower()

    state = sandbox_state(sandbox_url)
    [canceled] = [
        a for a in state["appointments"] if a["id"] == patient_with_appointment.appointment_id
    ]
    assert canceled["cancelado"] is True
    assert canceled["motivo_cancelamento"] == "vou estar viajando"


def test_declining_the_cancellation_keeps_the_appointment(
    stack: Stack, sandbox_url, patient: WhatsAppPatient, patient_with_appointment: AgendaPatient
):
    patient.say("desmarca minha consulta pfv")
    patient.say(patient_with_appointment.cpf)
    patient.say("1")
    patient.say("prefiro não dizer")
    assert "continua marcada" in patient.say("não")
    assert len(active_appointments(sandbox_url, patient_with_appointment.cpf)) == 1


def test_my_appointments_lists_date_and_time(
    stack: Stack, patient: WhatsAppPatient, patient_with_appointment: AgendaPatient
):
    patient.say("quando é minha consulta?")
    answer = patient.say(patient_with_appointment.cpf)
    starts_at = patient_with_appointment.starts_at
    assert starts_at.strftime("%d/%m") in answer and starts_at.strftime("%H:%M") in answer


def test_slot_taken_before_confirmation_gets_fresh_options_and_no_double_booking(
    stack: Stack, sandbox_url, patient: WhatsAppPatient, agenda: GestaoDSClient, registered_cpf: str
):
    cpf = registered_cpf
    patient.say("quero marcar uma consulta")
    patient.say(cpf)
    times = menu_lines(patient.say("3"))
    taken_label = times[0].split(". ", 1)[1]
    question = patient.say("1")
    assert taken_label in question

    day = next(d for d in agenda.available_days() if d.strftime("%d/%m") in question)
    taken = next(t for t in agenda.available_times(day) if t.strftime("%H:%M") == taken_label)
    response = requests.post(
        f"{sandbox_url}/__sandbox/gestaods/book", json={"starts_at": taken.isoformat()}, timeout=5
    )
    assert response.status_code < 300, response.text

    apology = patient.say("sim")
    assert "acabou de ser preenchido" in apology
    fresh = [line.split(". ", 1)[1] for line in menu_lines(apology)]
    assert fresh and taken_label not in fresh
    patient.say("1")
    assert "consulta está marcada" in patient.say("sim")

    assert len(active_appointments(sandbox_url, cpf)) == 1
    holders = [
        a
        for a in sandbox_state(sandbox_url)["appointments"]
        if not a["cancelado"] and datetime.fromisoformat(a["starts_at"]) == taken
    ]
    assert len(holders) == 1 and holders[0]["cpf"] != cpf


def test_question_in_the_middle_is_answered_and_the_form_resumes(stack: Stack, patient_factory):
    patient = patient_factory()
    patient.say("quero marcar uma consulta")
    answer = patient.say("qual o endereço de vcs?")
    assert "Rua das Acácias" in answer and "CPF" in answer


def test_patient_can_leave_the_form(stack: Stack, patient_factory):
    patient = patient_factory()
    patient.say("quero marcar uma consulta")
    assert "deixei isso de lado" in patient.say("deixa, depois eu vejo")
    assert "assistente" in patient.say("oi").lower()


def test_goodbye_in_the_middle_of_a_form_is_a_goodbye(stack: Stack, patient_factory):
    patient = patient_factory()
    patient.say("quero marcar uma consulta")
    goodbye = patient.say("tchau, depois eu volto")
    assert "Até logo" in goodbye and "CPF" not in goodbye
    assert "assistente" in patient.say("oi").lower()


def test_human_handoff_pauses_the_bot_until_staff_hand_back(
    stack: Stack, sandbox_url, patient_factory
):
    patient = patient_factory()
    assert "recepção" in patient.say("quero falar com um atendente")
    assert patient.say("oi, tem alguém aí?") == ""  # the turn ran and answered nothing

    service = f"http://127.0.0.1:{stack.ports.service}"
    staff = {"Authorization": f"Bearer {SANDBOX_STAFF_TOKEN}"}
    assert requests.get(f"{service}/staff/handoffs", timeout=5).status_code == 401
    handoffs = requests.get(f"{service}/staff/handoffs", headers=staff, timeout=5).json()
    assert patient.phone in [h["phone"] for h in handoffs["handoffs"]]
    resumed = requests.post(
        f"{service}/staff/handoffs/{patient.phone}/resume", headers=staff, timeout=10
    )
    assert resumed.status_code == 200, resumed.text
    assert "assistente" in patient.say("oi").lower()


def test_repeated_misunderstanding_escalates_to_a_person(stack: Stack, patient_factory):
    patient = patient_factory()
    first = patient.say("xkcd qwpoe zzrt").lower()
    assert "não entendi" in first or "não consigo ajudar" in first
    assert "marcar consulta" in patient.say("blorf snarg vvqq").lower()
    assert "atendente" in patient.say("prrt zzzk wqwq").lower()


def test_staff_can_erase_everything_about_a_patient(stack: Stack, patient_factory):
    patient = patient_factory()
    patient.say("oi")
    service = f"http://127.0.0.1:{stack.ports.service}"
    url = f"{service}/staff/patients/{patient.phone}"
    assert requests.delete(url, timeout=5).status_code == 401
    staff = {"Authorization": f"Bearer {SANDBOX_STAFF_TOKEN}"}
    erased = requests.delete(url, headers=staff, timeout=10).json()["erased"]
    assert erased["conversation_messages"] >= 2 and erased["events"] >= 1
    again = requests.delete(url, headers=staff, timeout=10).json()["erased"]
    assert not any(again.values())


def test_erasure_waits_for_a_turn_in_flight_and_leaves_no_history(
    stack: Stack, sandbox_url: str, patient: WhatsAppPatient, registered_cpf: str
) -> None:
    patient.say("quero marcar uma consulta")
    hang = 4.0
    slow = {"mode": "slow", "delay": hang, "path": "/paciente/", "count": 1}
    requests.post(f"{sandbox_url}/__sandbox/gestaods/failures", json=slow, timeout=5)
    assert patient.send(registered_cpf).status_code == 200
    deadline = time.monotonic() + 30
    while sandbox_state(sandbox_url)["failures"] and time.monotonic() < deadline:
        time.sleep(0.05)  # polling the fake: the CPF lookup (inside the turn) has arrived
    lookup_at = time.monotonic()
    service = f"http://127.0.0.1:{stack.ports.service}"
    staff = {"Authorization": f"Bearer {SANDBOX_STAFF_TOKEN}"}
    erased = requests.delete(f"{service}/staff/patients/{patient.phone}", headers=staff, timeout=30)
    assert erased.status_code == 200 and erased.json()["erased"]["events"] > 0
    assert time.monotonic() - lookup_at > hang - 1  # it waited for the turn in flight
    assert menu_lines(patient.replies(1)[0]["message"])  # that turn's answer (the days)
    database = stack.env["DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(database) as db:
        [(left,)] = db.execute("SELECT count(*) FROM events WHERE sender_id = ?", (patient.phone,))
    assert left == 0  # the turn did not save the history back after the erasure
