"""The whole assistant as `make run` starts it (sandbox, action server, rasa, clinic service),
on its own ports and database, driven over real HTTP."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from clinicbot.settings import SANDBOX_ZAPI_INSTANCE_ID, SANDBOX_ZAPI_INSTANCE_TOKEN
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
            answer = requests.get(
                f"{self.sandbox_url}/__sandbox/zapi/messages",
                params={"phone": self.phone, "after": self.seen},
                timeout=5,
            ).json()
            for message in answer["messages"]:
                received.append(message)
                self.seen = max(self.seen, message["seq"])
            if len(received) < count:
                time.sleep(0.2)
        assert len(received) >= count, f"expected {count} replies, got {received}"
        return received

    def say(self, text: str) -> str:
        """Send ``text`` and return the assistant's answer (all its messages, joined)."""
        assert self.send(text).status_code == 200
        messages = self.replies(1)
        time.sleep(0.3)  # a turn may answer with several messages
        messages += self.replies(0, timeout=0.5)
        return "\n".join(message["message"] for message in messages)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not MODEL_PATH.exists():
        pytest.fail("no trained model: `make test` trains it before pytest")
    workdir: Path = tmp_path_factory.mktemp("stack")
    running = Stack(
        ports=Ports(
            rasa=free_port(), actions=free_port(), service=free_port(), sandbox=free_port()
        ),
        env={"DATABASE_URL": f"sqlite:///{workdir / 'clinicbot.db'}"},
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
