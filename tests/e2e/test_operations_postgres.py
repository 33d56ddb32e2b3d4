"""Operations on PostgreSQL, end to end: one booking conversation over the Z-API webhook fills
today's ``chatbot_metrics``, the booking funnel and ``api_call_logs`` (GestãoDS and Z-API), and
every process exports its Prometheus metrics; a goodbye ends the conversation."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from validate_docbr import CPF

from clinicbot.gestaods.client import GestaoDSClient
from clinicbot.settings import SANDBOX_GESTAODS_TOKEN, SANDBOX_STAFF_TOKEN, read_settings
from clinicbot.stack import MODEL_PATH, Stack
from tests.support.databases import Databases
from tests.support.services import require_postgres
from tests.support.stack import sandbox_stack
from tests.support.whatsapp import TURN_DEADLINE, Turns, WhatsAppPatient, _poll, menu_lines

_PHONES = itertools.count(1)


@pytest.fixture(scope="module")
def pg_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    require_postgres()
    if not MODEL_PATH.exists():
        pytest.fail("no trained model: `make test` trains it before pytest")
    databases = Databases(tmp_path_factory.mktemp("pg-db"))
    url = databases.new_url("postgresql")
    running = sandbox_stack(tmp_path_factory.mktemp("pg-stack"), {"DATABASE_URL": url})
    running.start(timeout=600)  # the shared CI machine may be slow to load rasa's model
    try:
        yield running
    finally:
        running.stop()
        databases.drop_all()


@pytest.fixture(scope="module")
def db(pg_stack: Stack) -> Iterator[Engine]:
    engine = create_engine(pg_stack.env["DATABASE_URL"], future=True)
    yield engine
    engine.dispose()


@pytest.fixture
def patient(pg_stack: Stack) -> Iterator[WhatsAppPatient]:
    turns = Turns(pg_stack.env["DATABASE_URL"])
    yield WhatsAppPatient(
        phone=f"55319{next(_PHONES):04d}8888",
        rasa_url=f"http://127.0.0.1:{pg_stack.ports.rasa}",
        sandbox_url=f"http://127.0.0.1:{pg_stack.ports.sandbox}",
        turns=turns,
    )
    turns.close()


def one(db: Engine, sql: str, **params: Any) -> Any:
    with db.connect() as connection:
        return connection.execute(text(sql), params).one_or_none()


def test_a_booking_over_whatsapp_shows_in_metrics_funnel_and_api_logs(
    pg_stack: Stack, db: Engine, patient: WhatsAppPatient
) -> None:
    agenda = GestaoDSClient(base_url=patient.sandbox_url, token=SANDBOX_GESTAODS_TOKEN, cache_ttl=0)
    cpf = CPF().generate()
    agenda.register_patient(
        name="Rita Teste Lopes",
        cpf=cpf,
        email="rita@example.org",
        phone=patient.phone.removeprefix("55"),
        birth_date=date(1990, 5, 17),
    )

    patient.say("oi")
    assert "cpf" in patient.say("quero marcar uma consulta").lower()
    assert len(menu_lines(patient.say(cpf))) >= 2
    assert menu_lines(patient.say("1"))
    assert "sim" in patient.say("1").lower()
    assert "consulta está marcada" in patient.say("sim")

    today = pg_stack.clock_now().astimezone(read_settings().clinic_tz).date()
    booked = _poll(
        lambda: one(
            db,
            "SELECT successful_appointments, total_conversations, bot_resolved_conversations, "
            "responses_count FROM chatbot_metrics WHERE date = :day",
            day=today,
        ),
        lambda row: row is not None and row[0] >= 1,
        TURN_DEADLINE,
    )
    assert booked is not None and booked[0] >= 1, booked
    assert booked[1] >= 1 and booked[2] >= 1 and booked[3] >= 6
    conversation = one(
        db,
        "SELECT id, outcome, resolved_by_bot, appointment_booked, status FROM conversations "
        "WHERE phone = :phone",
        phone=patient.phone,
    )
    assert conversation[1:] == ("booked", True, True, "active")
    funnel = one(
        db,
        "SELECT stage_current, identified_at IS NOT NULL, day_chosen_at IS NOT NULL, "
        "slot_chosen_at IS NOT NULL, confirmed_at IS NOT NULL, appointment_id IS NOT NULL "
        "FROM patient_transactions WHERE conversation_id = :id",
        id=conversation[0],
    )
    assert funnel == ("booked", True, True, True, True, True)

    with db.connect() as connection:
        logged = connection.execute(
            text("SELECT service, path, cpf_masked FROM api_call_logs")
        ).all()
    assert {service for service, _, _ in logged} >= {"gestaods", "zapi"}
    everything = " ".join(f"{path} {masked}" for _, path, masked in logged)
    assert cpf not in everything and SANDBOX_GESTAODS_TOKEN not in everything
    assert patient.phone not in everything

    # A goodbye ends the conversation, its outcome kept.
    patient.say("tchau, obrigada")
    closed = _poll(
        lambda: one(
            db, "SELECT status, outcome FROM conversations WHERE id = :id", id=conversation[0]
        ),
        lambda row: row[0] == "closed",
        TURN_DEADLINE,
    )
    assert tuple(closed) == ("closed", "booked")


def test_every_process_exports_its_metrics(pg_stack: Stack, patient: WhatsAppPatient) -> None:
    patient.say("oi")
    ports = pg_stack.ports
    rasa = requests.get(f"http://127.0.0.1:{ports.rasa}/webhooks/zapi/metrics", timeout=10).text
    assert 'clinicbot_inbound_messages_total{channel="zapi",result="accepted"}' in rasa
    assert 'clinicbot_outbox_deliveries_total{channel="zapi",result="sent"}' in rasa
    assert 'clinicbot_api_calls_total{outcome="ok",service="zapi"}' in rasa
    actions = requests.get(f"http://127.0.0.1:{ports.actions}/metrics", timeout=10)
    assert actions.status_code == 200 and "process_cpu_seconds_total" in actions.text
    service = requests.get(f"http://127.0.0.1:{ports.service}/metrics", timeout=20).text
    assert 'clinicbot_dependency_up{component="database"} 1.0' in service
    health = requests.get(
        f"http://127.0.0.1:{ports.service}/health/detailed",
        headers={"Authorization": f"Bearer {SANDBOX_STAFF_TOKEN}"},
        timeout=20,
    )
    body = health.json()
    assert health.status_code == 200, body
    assert body["components"]["database"]["dialect"] == "postgresql"
    assert body["active_conversations"] >= 1 and body["messages_last_hour"] >= 1
    assert body["model_version"]


def test_the_action_servers_gestaods_calls_are_counted(
    pg_stack: Stack, patient: WhatsAppPatient
) -> None:
    patient.say("quero marcar uma consulta")
    patient.say(CPF().generate())  # an unknown CPF: the action server asks GestãoDS
    actions = requests.get(f"http://127.0.0.1:{pg_stack.ports.actions}/metrics", timeout=10)
    # Counted whatever the outcome (a loaded machine may time a call out).
    counted = re.findall(
        r'^clinicbot_api_calls_total\{outcome="\w+",service="gestaods"\} ([0-9.]+)$',
        actions.text,
        re.MULTILINE,
    )
    api_lines = [line for line in actions.text.splitlines() if "clinicbot_api" in line]
    assert sum(float(value) for value in counted) >= 1, api_lines
