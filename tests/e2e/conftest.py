"""The whole assistant as `make run` starts it (sandbox, action server, rasa, clinic service),
on its own ports and database, driven over real HTTP."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from validate_docbr import CPF

from clinicbot.gestaods.client import GestaoDSClient
from clinicbot.settings import (
    SANDBOX_GESTAODS_TOKEN,
    SANDBOX_ZAPI_INSTANCE_ID,
    SANDBOX_ZAPI_INSTANCE_TOKEN,
)
from clinicbot.stack import MODEL_PATH, Ports, Stack
from clinicbot.zapi.callbacks import received_callback, text_content


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class WhatsAppPatient:
    """A patient on WhatsApp: writes through the Z-API webhook, reads what the fake delivered."""

    phone: str
    rasa_url: str
    sandbox_url: str
    seen: int = 0

    def send(self, text: str, **overrides: Any) -> requests.Response:
        payload = received_callback(SANDBOX_ZAPI_INSTANCE_ID, self.phone, text_content(text))
        payload.update(overrides)
        return self.post(payload)

    def post(self, payload: Any, token: str = SANDBOX_ZAPI_INSTANCE_TOKEN) -> requests.Response:
        return requests.post(
            f"{self.rasa_url}/webhooks/zapi/webhook",
            json=payload,
            headers={"z-api-token": token},
            timeout=10,
        )

    def replies(self, count: int = 1, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Wait for the next ``count`` messages the assistant sent to this phone."""
        received: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while len(received) < count and time.monotonic() < deadline:
            received += self._new_messages()
            if len(received) < count:
                time.sleep(0.2)
        assert len(received) >= count, f"expected {count} replies, got {received}"
        return received

    def silence(self, seconds: float) -> list[dict[str, Any]]:
        """Whatever the assistant sends within ``seconds`` (expected: nothing)."""
        time.sleep(seconds)
        return self._new_messages()

    def say(self, text: str, quiet: float = 0.8) -> str:
        """Send ``text``; return the answer: every message until ``quiet`` seconds pass silently."""
        assert self.send(text).status_code == 200
        messages = self.replies(1)
        while more := self.silence(quiet):
            messages += more
        return "\n".join(message["message"] for message in messages)

    def _new_messages(self) -> list[dict[str, Any]]:
        answer = requests.get(
            f"{self.sandbox_url}/__sandbox/zapi/messages",
            params={"phone": self.phone, "after": self.seen},
            timeout=5,
        ).json()
        for message in answer["messages"]:
            self.seen = max(self.seen, message["seq"])
        return list(answer["messages"])


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not MODEL_PATH.exists():
        pytest.fail("no trained model: `make test` trains it before pytest")
    workdir: Path = tmp_path_factory.mktemp("stack")
    running = Stack(
        ports=Ports(
            rasa=free_port(), actions=free_port(), service=free_port(), sandbox=free_port()
        ),
        env={
            "DATABASE_URL": f"sqlite:///{workdir / 'clinicbot.db'}",
            # Tests run at any hour: no quiet hours, and a scheduler that ticks every second.
            "QUIET_HOURS_START": "00:00",
            "QUIET_HOURS_END": "00:00",
            "SCHEDULER_POLL_SECONDS": "1",
        },
        log_dir=workdir,
    )
    running.start()
    yield running
    running.stop()


@pytest.fixture
def sandbox_url(stack: Stack) -> str:
    return f"http://127.0.0.1:{stack.ports.sandbox}"


_PHONE_SUFFIXES = iter(range(1000, 9999))


@pytest.fixture
def patient_factory(stack: Stack, sandbox_url: str):
    def make() -> WhatsAppPatient:
        return WhatsAppPatient(
            phone=f"55319{next(_PHONE_SUFFIXES):04d}7777",
            rasa_url=f"http://127.0.0.1:{stack.ports.rasa}",
            sandbox_url=sandbox_url,
        )

    return make


@dataclass
class AgendaPatient:
    cpf: str
    appointment_id: str
    starts_at: datetime


@pytest.fixture
def agenda(sandbox_url: str) -> GestaoDSClient:
    """A GestãoDS client on the sandbox, to prepare and check the agenda like staff would."""
    return GestaoDSClient(base_url=sandbox_url, token=SANDBOX_GESTAODS_TOKEN, cache_ttl=0)


@pytest.fixture
def patient_with_appointment(agenda: GestaoDSClient) -> AgendaPatient:
    """A newly registered patient holding one appointment on the second free day."""
    cpf = CPF().generate()
    agenda.register_patient(name="Paula Teste Souza", cpf=cpf, email="paula@example.org")
    day = agenda.available_days()[1]
    starts_at = agenda.available_times(day)[-1]
    appointment = agenda.book(cpf=cpf, starts_at=starts_at)
    return AgendaPatient(cpf=cpf, appointment_id=appointment.id, starts_at=starts_at)


def sandbox_state(sandbox_url: str) -> dict[str, Any]:
    return requests.get(f"{sandbox_url}/__sandbox/gestaods/state", timeout=5).json()


def menu_lines(text: str) -> list[str]:
    """The ``N. option`` lines of a numbered menu."""
    return re.findall(r"^\d+\. .+$", text, flags=re.MULTILINE)
