"""The stack in production mode, probed from outside as an attacker would.

The sandbox fakes play the clinic's real GestãoDS and Z-API here: they run as their own process
with the clinic's (non-repository) credentials, and the assistant is configured exactly as a
clinic would configure it, with ``APP_ENV=production`` and no Meta credentials.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from clinicbot.services.templates import TOO_MANY_MESSAGES
from clinicbot.settings import PROJECT_ROOT, SANDBOX_META_APP_SECRET, SANDBOX_STAFF_TOKEN
from clinicbot.stack import MODEL_PATH, Ports, Stack
from clinicbot.whatsapp.meta.signature import sign
from clinicbot.whatsapp.zapi.payloads import received_callback, text_content
from tests.support.stack import SANDBOX_ONLY_ENV, free_port
from tests.support.whatsapp import Turns, WhatsAppPatient

CLINIC = {
    "GESTAODS_TOKEN": "7d1f0c2e9a8b4c3d2e1f0a9b8c7d6e5f",
    "GESTAODS_ENV": "prod",
    "ZAPI_INSTANCE_ID": "3C0FFEE0000000000000000000000001",
    "ZAPI_INSTANCE_TOKEN": "f6c1a9e2b7d84c0f9e1a2b3c",
    "ZAPI_CLIENT_TOKEN": "Fa91b2c3d4e5f60718293a4b5c6d7e8f9S",
}
STAFF_TOKEN = "c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4"
LOOPBACK = {"0100007F", "00000000000000000000000001000000"}  # 127.0.0.1, ::1 in /proc/net


@pytest.fixture(scope="module")
def real_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The fakes as the clinic's "real" GestãoDS and Z-API, on their own port."""
    port = free_port()
    log = (tmp_path_factory.mktemp("real-services") / "services.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "clinicbot.sandbox.server", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env={**os.environ, **SANDBOX_ONLY_ENV, **CLINIC},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/__sandbox/health", timeout=1).ok:
                break
        except requests.ConnectionError:
            time.sleep(0.2)
    yield url
    process.terminate()
    process.wait(timeout=20)
    log.close()


@pytest.fixture(scope="module")
def production(real_services: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not MODEL_PATH.exists():
        pytest.fail("no trained model: `make test` trains it before pytest")
    workdir = tmp_path_factory.mktemp("production")
    stack = Stack(
        ports=Ports(
            rasa=free_port(), actions=free_port(), service=free_port(), sandbox=free_port()
        ),
        env={
            **SANDBOX_ONLY_ENV,
            **CLINIC,
            "APP_ENV": "production",
            "GESTAODS_BASE_URL": real_services,
            "ZAPI_BASE_URL": real_services,
            "STAFF_TOKEN": STAFF_TOKEN,
            "DATABASE_URL": f"sqlite:///{workdir / 'clinicbot.db'}",
            "QUIET_HOURS_START": "00:00",
            "QUIET_HOURS_END": "00:00",
        },
        log_dir=workdir,
    )
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture
def clinic_phone(
    production: Stack, real_services: str
) -> Iterator[Callable[[str], WhatsAppPatient]]:
    """``clinic_phone(phone)``: a patient writing to the production stack, whose answers the
    clinic's "real" Z-API receives."""
    turns = Turns(production.env["DATABASE_URL"])

    def make(phone: str) -> WhatsAppPatient:
        return WhatsAppPatient(
            phone=phone,
            rasa_url=f"http://127.0.0.1:{production.ports.rasa}",
            sandbox_url=real_services,
            turns=turns,
        )

    yield make
    turns.close()


def say(patient: WhatsAppPatient, text: str) -> str:
    """Send ``text`` from the clinic's instance; everything answered to it."""
    payload = received_callback(CLINIC["ZAPI_INSTANCE_ID"], patient.phone, text_content(text))
    assert patient.post(payload, token=CLINIC["ZAPI_INSTANCE_TOKEN"]).status_code == 200
    patient.finish_turn()
    return " ".join(message["message"] for message in patient.new_messages())


def test_start_up_lists_every_missing_variable(tmp_path: Path) -> None:
    env = {**os.environ, **SANDBOX_ONLY_ENV, "APP_ENV": "production", "STAFF_TOKEN": ""}
    env["ZAPI_CLIENT_TOKEN"] = SANDBOX_STAFF_TOKEN  # a repo value, and a half-set channel
    result = subprocess.run(
        [sys.executable, "-m", "clinicbot.cli", "run"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    for expected in (
        "GESTAODS_TOKEN is not set",
        "STAFF_TOKEN is not set",
        "Z-API channel is half configured",
        "ZAPI_CLIENT_TOKEN is the repository's public sandbox value",
    ):
        assert expected in result.stderr


def test_a_patient_is_answered_through_the_real_services(
    clinic_phone: Callable[[str], WhatsAppPatient],
) -> None:
    patient = clinic_phone("5531977770001")
    assert "assistente" in say(patient, "oi").lower()
    payload = received_callback(CLINIC["ZAPI_INSTANCE_ID"], patient.phone, text_content("oi"))
    assert patient.post(payload, token="sandbox-instance-token").status_code == 401


def test_a_burst_from_one_phone_is_stored_but_answered_only_up_to_the_limit(
    clinic_phone: Callable[[str], WhatsAppPatient],
) -> None:
    patient = clinic_phone("5531977770002")
    turns = patient.turns
    started = time.monotonic()
    acks = [
        patient.post(
            received_callback(CLINIC["ZAPI_INSTANCE_ID"], patient.phone, text_content("oi")),
            token=CLINIC["ZAPI_INSTANCE_TOKEN"],
        ).json()["status"]
        for _ in range(30)
    ]
    refilled = int((time.monotonic() - started) / 5)  # the default bucket: 5, then 12 a minute
    answered = acks.count("accepted")
    assert 5 <= answered <= 5 + refilled + 1
    assert acks.count("throttled") == 30 - answered
    for message_id, ack in zip(patient.sent_ids, acks, strict=True):
        if ack == "accepted":
            turns.wait_processed(message_id)
        else:
            assert turns.status(message_id) == "throttled"
    turns.wait_delivered(patient.phone)
    texts = [message["message"] for message in patient.new_messages()]
    assert texts.count(TOO_MANY_MESSAGES) == 1


def test_a_body_over_64_kb_is_refused(production: Stack) -> None:
    payload = received_callback(CLINIC["ZAPI_INSTANCE_ID"], "5531977770003", text_content("x"))
    payload["padding"] = "x" * 2_000_000
    answer = requests.post(
        f"http://127.0.0.1:{production.ports.rasa}/webhooks/zapi/webhook",
        json=payload,
        headers={"z-api-token": CLINIC["ZAPI_INSTANCE_TOKEN"]},
        timeout=10,
    )
    assert answer.status_code == 413


def test_the_rest_channel_is_not_mounted(production: Stack) -> None:
    answer = requests.post(
        f"http://127.0.0.1:{production.ports.rasa}/webhooks/rest/webhook",
        json={"sender": "5531988887777", "message": "minhas consultas"},
        timeout=10,
    )
    assert answer.status_code == 404


def test_meta_is_not_mounted_without_its_credentials(production: Stack) -> None:
    body = json.dumps({"object": "whatsapp_business_account", "entry": []}).encode()
    answer = requests.post(
        f"http://127.0.0.1:{production.ports.rasa}/webhooks/meta/webhook",
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-Hub-Signature-256": sign(body, SANDBOX_META_APP_SECRET),
        },
        timeout=10,
    )
    assert answer.status_code == 404


def test_the_action_server_answers_rasa_only(production: Stack) -> None:
    actions = f"http://127.0.0.1:{production.ports.actions}"
    forged = {"next_action": "action_cancelar_consulta", "tracker": {"sender_id": "x"}}
    assert requests.post(f"{actions}/webhook", json=forged, timeout=10).status_code == 401
    wrong = requests.post(f"{actions}/webhook?token=guess", json=forged, timeout=10)
    assert wrong.status_code == 401
    assert requests.get(f"{actions}/actions", timeout=10).status_code == 401
    assert requests.get(f"{actions}/health", timeout=10).status_code == 200


def test_staff_area_refuses_the_repository_token_and_there_is_no_simulator(
    production: Stack,
) -> None:
    service = f"http://127.0.0.1:{production.ports.service}"
    handoffs = f"{service}/staff/handoffs"
    repo = {"Authorization": f"Bearer {SANDBOX_STAFF_TOKEN}"}
    assert requests.get(handoffs, headers=repo, timeout=10).status_code == 401
    clinic = {"Authorization": f"Bearer {STAFF_TOKEN}"}
    assert requests.get(handoffs, headers=clinic, timeout=10).status_code == 200
    assert requests.get(f"{service}/simulator", timeout=10).status_code == 404


def test_every_process_listens_on_loopback_only(production: Stack) -> None:
    ports = production.ports
    for port in (ports.rasa, ports.actions, ports.service):
        addresses = listening_addresses(port)
        assert addresses and addresses <= LOOPBACK, (port, addresses)


def listening_addresses(port: int) -> set[str]:
    """The local addresses (hex, as /proc/net shows them) listening on TCP ``port``."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


def test_a_stranger_with_a_patients_cpf_learns_nothing(
    clinic_phone: Callable[[str], WhatsAppPatient],
) -> None:
    """The agenda's seeded patient with an appointment (João, CPF 529.982.247-25) is asked
    about from a phone that is not his."""
    stranger = clinic_phone("5531977770004")
    say(stranger, "minhas consultas")
    asked = say(stranger, "52998224725")
    assert "nascimento" in asked and "João" not in asked
    refused = say(stranger, "01/01/1970")
    assert "Não consegui confirmar seus dados" in refused
    assert "João" not in refused and "10:00" not in refused
