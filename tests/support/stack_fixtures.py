"""Fixtures of the suites that drive a running stack over HTTP (``tests/e2e``, ``tests/faults``).

A suite's ``conftest.py`` defines the session's ``stack`` fixture (with its own configuration)
and imports these, which only need that ``stack``. Every test brings its own phone and its own
patient (CPF), so no test depends on another's bookings or on the order the tests run in.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, text
from validate_docbr import CPF

from clinicbot.gestaods.client import GestaoDSClient
from clinicbot.settings import SANDBOX_GESTAODS_TOKEN
from clinicbot.stack import MODEL_PATH, Stack
from tests.support.stack import sandbox_stack
from tests.support.whatsapp import Turns, WhatsAppPatient, menu_lines

BIRTH_DATE = date(1990, 5, 17)
# From utter_ask_primeira_consulta: asked when the patient's history does not tell.
FIRST_VISIT_QUESTION = "primeira consulta com a gente ou é um retorno"
_PHONE_SUFFIXES = itertools.count(1000)
# A ceiling, not a wait: about 40 s on an idle 2-core machine, minutes when it is shared.
START_TIMEOUT = 600.0


def running_stack(workdir: Path, env: Mapping[str, str]) -> Iterator[Stack]:
    """A sandbox stack started in ``workdir`` for the body of a fixture, stopped after."""
    if not MODEL_PATH.exists():
        pytest.fail("no trained model: `make test` trains it before pytest")
    running = sandbox_stack(workdir, env)
    running.start(timeout=START_TIMEOUT)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def turns(stack: Stack) -> Iterator[Turns]:
    reader = Turns(stack.env["DATABASE_URL"])
    yield reader
    reader.close()


@pytest.fixture
def sandbox_url(stack: Stack) -> str:
    return f"http://127.0.0.1:{stack.ports.sandbox}"


@pytest.fixture
def patient_factory(stack: Stack, sandbox_url: str, turns: Turns) -> Callable[[], WhatsAppPatient]:
    def make() -> WhatsAppPatient:
        return WhatsAppPatient(
            phone=f"55319{next(_PHONE_SUFFIXES):04d}7777",
            rasa_url=f"http://127.0.0.1:{stack.ports.rasa}",
            sandbox_url=sandbox_url,
            turns=turns,
        )

    return make


@pytest.fixture
def clock(stack: Stack) -> Iterator[Callable[[datetime], None]]:
    """``clock(moment)`` moves every process of the stack to ``moment``; after the test the
    clock goes back to where it would have been."""
    before, taken_at = stack.clock_now(), time.time()
    yield stack.set_clock
    stack.set_clock(before + timedelta(seconds=time.time() - taken_at))


@pytest.fixture
def agenda(sandbox_url: str) -> GestaoDSClient:
    """A GestãoDS client on the sandbox, to prepare and check the agenda like staff would."""
    return GestaoDSClient(base_url=sandbox_url, token=SANDBOX_GESTAODS_TOKEN, cache_ttl=0)


@pytest.fixture
def patient(patient_factory: Callable[[], WhatsAppPatient]) -> WhatsAppPatient:
    """The phone of this test's registered patient (:func:`registered_cpf`)."""
    return patient_factory()


def register_patient(agenda: GestaoDSClient, patient: WhatsAppPatient) -> str:
    """A new patient known to the agenda with ``patient``'s phone (so the assistant recognises
    them by it) and :data:`BIRTH_DATE`, with no appointment yet; the CPF."""
    cpf = CPF().generate()
    agenda.register_patient(
        name="Rita Teste Lopes",
        cpf=cpf,
        email="rita@example.org",
        phone=patient.phone.removeprefix("55"),
        birth_date=BIRTH_DATE,
    )
    return cpf


@pytest.fixture
def registered_cpf(agenda: GestaoDSClient, patient: WhatsAppPatient) -> str:
    """A patient of this test alone (:func:`register_patient`) writing from ``patient``."""
    return register_patient(agenda, patient)


@dataclass
class AgendaPatient:
    cpf: str
    appointment_id: str
    starts_at: datetime


@pytest.fixture
def patient_with_appointment(agenda: GestaoDSClient, registered_cpf: str) -> AgendaPatient:
    """A patient of this test alone, holding one appointment on the second free day."""
    day = agenda.available_days()[1]
    starts_at = agenda.available_times(day)[-1]
    appointment = agenda.book(cpf=registered_cpf, starts_at=starts_at)
    return AgendaPatient(cpf=registered_cpf, appointment_id=appointment.id, starts_at=starts_at)


def sandbox_state(sandbox_url: str) -> dict[str, Any]:
    return requests.get(f"{sandbox_url}/__sandbox/gestaods/state", timeout=5).json()


def active_appointments(sandbox_url: str, cpf: str) -> list[dict[str, Any]]:
    state = sandbox_state(sandbox_url)
    return [a for a in state["appointments"] if a["cpf"] == cpf and not a["cancelado"]]


def ask_to_book(patient: WhatsAppPatient, cpf: str) -> str:
    """From "quero marcar" to the confirmation question, choosing the first day and time
    offered; the chosen time (``HH:MM``)."""
    answer = patient.say("quero marcar uma consulta")
    if "cpf" in answer.lower():
        answer = patient.say(cpf)
    if FIRST_VISIT_QUESTION in answer:  # a history that does not tell (clinic.yml)
        answer = patient.say("é retorno")
    assert menu_lines(answer), answer
    times = menu_lines(patient.say("1"))
    assert times
    question = patient.say("1")
    chosen = times[0].split(". ", 1)[1]
    assert chosen in question and "sim" in question.lower(), question
    return chosen


def agenda_fault(
    sandbox_url: str, mode: str, path: str | None, count: int = 1, delay: float = 0.0
) -> None:
    """Make the sandbox agenda misbehave on its next ``count`` requests whose path contains
    ``path`` (``count`` 0: until :func:`clear_agenda_faults`); modes in ``gestaods_fake``."""
    body = {"mode": mode, "path": path, "count": count, "delay": delay}
    answer = requests.post(f"{sandbox_url}/__sandbox/gestaods/failures", json=body, timeout=5)
    answer.raise_for_status()


def clear_agenda_faults(sandbox_url: str) -> None:
    body = {"mode": "none"}
    requests.post(f"{sandbox_url}/__sandbox/gestaods/failures", json=body, timeout=5)


@pytest.fixture
def waiting_list_to_itself(stack: Stack) -> None:
    """Earlier tests' patients leave the waiting list, so that a slot this test frees is offered
    to this test's waiting patient (the list is shared by the session's stack, and the order
    of its queue follows a clock the tests move back and forth)."""
    engine = create_engine(stack.env["DATABASE_URL"])
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "UPDATE waiting_list SET status = 'left' WHERE status IN ('waiting', 'offered')"
                )
            )
    finally:
        engine.dispose()


def local_appointments(stack: Stack, cpf: str) -> list[tuple[str, str]]:
    """The stack's own copy of the patient's appointments: (phone, status)."""
    engine = create_engine(stack.env["DATABASE_URL"])
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT phone, status FROM appointments WHERE cpf = :cpf"), {"cpf": cpf}
            )
            return [(row.phone, row.status) for row in rows]
    finally:
        engine.dispose()
