"""A patient on WhatsApp, for tests and benchmarks: writes through the Z-API webhook and reads
what the sandbox Z-API delivered.

Nothing here waits for a stretch of silence. A turn is over when the stack's database says so:
the inbound message is ``processed`` and the patient's outbox has nothing left to deliver. Only
then is "what was answered" (possibly nothing) read from the fake Z-API.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from clinicbot.settings import SANDBOX_ZAPI_INSTANCE_ID, SANDBOX_ZAPI_INSTANCE_TOKEN
from clinicbot.whatsapp.zapi.payloads import received_callback, text_content

TURN_DEADLINE = 60.0  # generous: a slow CI machine is not a failure
POLL_SECONDS = 0.05
_FINISHED = ("processed", "failed", "dead")


class Turns:
    """Reads a stack's database to tell when a patient's turn and its deliveries are over."""

    def __init__(self, database_url: str) -> None:
        # pre-ping: the fault tests restart the database under it
        self._engine: Engine = create_engine(database_url, pool_pre_ping=True)

    def status(self, message_id: str) -> str | None:
        with self._engine.connect() as connection:
            return connection.execute(
                text(
                    "SELECT status FROM conversation_messages "
                    "WHERE direction = 'in' AND external_message_id = :id"
                ),
                {"id": message_id},
            ).scalar()

    def undelivered(self, phone: str) -> int:
        with self._engine.connect() as connection:
            return int(
                connection.execute(
                    text(
                        "SELECT COUNT(*) FROM outbox_messages "
                        "WHERE phone = :phone AND status IN ('pending', 'sending')"
                    ),
                    {"phone": phone},
                ).scalar()
                or 0
            )

    def wait_processed(self, message_id: str, deadline: float = TURN_DEADLINE) -> None:
        """Until the turn of ``message_id`` has run; a failed turn fails the test."""
        status = _poll(lambda: self.status(message_id), lambda s: s in _FINISHED, deadline)
        assert status == "processed", f"turn of {message_id} ended {status!r}"

    def wait_delivered(self, phone: str, deadline: float = TURN_DEADLINE) -> None:
        """Until nothing for ``phone`` waits in the outbox."""
        left = _poll(lambda: self.undelivered(phone), lambda count: count == 0, deadline)
        assert left == 0, f"{left} messages to {phone} still undelivered"

    def close(self) -> None:
        self._engine.dispose()


def _poll(read: Any, done: Any, deadline: float) -> Any:
    give_up = time.monotonic() + deadline
    value = read()
    while not done(value) and time.monotonic() < give_up:
        time.sleep(POLL_SECONDS)
        value = read()
    return value


@dataclass
class WhatsAppPatient:
    """One phone writing to the assistant."""

    phone: str
    rasa_url: str
    sandbox_url: str
    turns: Turns
    seen: int = 0
    sent_ids: list[str] = field(default_factory=list)
    # The clinic's Z-API instance it writes to (the default clinic's unless told otherwise).
    instance_id: str = SANDBOX_ZAPI_INSTANCE_ID
    instance_token: str = SANDBOX_ZAPI_INSTANCE_TOKEN

    def send(self, message: str, **overrides: Any) -> requests.Response:
        """Post ``message`` to the webhook and return the acknowledgement (no waiting)."""
        payload = received_callback(self.instance_id, self.phone, text_content(message))
        payload.update(overrides)
        return self.post(payload)

    def post(self, payload: Any, token: str | None = None) -> requests.Response:
        if isinstance(payload, dict) and payload.get("messageId"):
            self.sent_ids.append(str(payload["messageId"]))
        return requests.post(
            f"{self.rasa_url}/webhooks/zapi/webhook",
            json=payload,
            headers={"z-api-token": self.instance_token if token is None else token},
            timeout=10,
        )

    def say(self, message: str) -> str:
        """Send ``message``; return everything answered to it ("" when nothing was)."""
        assert self.send(message).status_code == 200
        self.finish_turn()
        return "\n".join(reply["message"] for reply in self.new_messages())

    def finish_turn(self) -> None:
        """Wait until the last message sent was processed and its answers were delivered."""
        self.turns.wait_processed(self.sent_ids[-1])
        self.turns.wait_delivered(self.phone)

    def replies(self, count: int = 1, timeout: float = TURN_DEADLINE) -> list[dict[str, Any]]:
        """Wait for ``count`` more messages (proactive ones: offers, reminders)."""
        received: list[dict[str, Any]] = []
        give_up = time.monotonic() + timeout
        while len(received) < count and time.monotonic() < give_up:
            received += self.new_messages()
            if len(received) < count:
                time.sleep(0.2)
        assert len(received) >= count, f"expected {count} messages, got {received}"
        return received

    def new_messages(self) -> list[dict[str, Any]]:
        """What the fake Z-API delivered to this phone since the last read."""
        answer = requests.get(
            f"{self.sandbox_url}/__sandbox/zapi/messages",
            params={"phone": self.phone, "after": self.seen},
            timeout=5,
        ).json()
        for message in answer["messages"]:
            self.seen = max(self.seen, message["seq"])
        return list(answer["messages"])


def menu_lines(message: str) -> list[str]:
    """The ``N. option`` lines of a numbered menu."""
    return re.findall(r"^\d+\. .+$", message, flags=re.MULTILINE)


def option_labels(message: str) -> list[str]:
    """The labels of a numbered menu's options."""
    return [line.split(". ", 1)[1] for line in menu_lines(message)]
