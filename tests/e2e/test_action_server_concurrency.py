"""One patient's slow GestãoDS call does not hold up another patient's answer."""

from __future__ import annotations

import time
from collections.abc import Callable

import requests

from tests.e2e.conftest import sandbox_state
from tests.support.whatsapp import WhatsAppPatient, menu_lines

HANG_SECONDS = 8.0  # below the client's 10 s read timeout: one slow call, no retry


def test_a_faq_is_answered_while_another_patients_lookup_hangs(
    patient: WhatsAppPatient,
    registered_cpf: str,
    patient_factory: Callable[[], WhatsAppPatient],
    sandbox_url: str,
) -> None:
    patient.say("quero marcar uma consulta")
    slow = {"mode": "slow", "delay": HANG_SECONDS, "path": "/paciente/", "count": 1}
    requests.post(f"{sandbox_url}/__sandbox/gestaods/failures", json=slow, timeout=5)
    hung_at = time.monotonic()
    assert patient.send(registered_cpf).status_code == 200
    deadline = time.monotonic() + 30
    while sandbox_state(sandbox_url)["failures"] and time.monotonic() < deadline:
        time.sleep(0.05)  # polling the fake: the lookup has arrived once its rule is used up
    assert not sandbox_state(sandbox_url)["failures"], "the CPF lookup never reached GestãoDS"

    other = patient_factory()
    asked_at = time.monotonic()
    answer = other.say("qual o endereço de vcs?")
    answered_in = time.monotonic() - asked_at

    assert "Rua das Acácias" in answer
    assert answered_in < 2.0, f"the FAQ waited {answered_in:.1f} s behind the hung lookup"
    assert time.monotonic() - hung_at < HANG_SECONDS  # the lookup was still hanging
    patient.finish_turn()  # and the slow patient is answered too, once GestãoDS replies
    assert menu_lines("\n".join(m["message"] for m in patient.new_messages()))
