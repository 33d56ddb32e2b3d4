"""A WhatsApp booking reaches a CRM as a signed ``appointment.booked`` event, verified by the
example receiver, even though the receiver was down when the booking happened."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import requests

from clinicbot.settings import SANDBOX_STAFF_TOKEN
from clinicbot.stack import Stack
from examples.crm_receiver import Receiver
from tests.integrations.schemas import assert_valid_envelope
from tests.support.stack import free_port
from tests.support.whatsapp import WhatsAppPatient, menu_lines

STAFF = {"Authorization": f"Bearer {SANDBOX_STAFF_TOKEN}"}
DEADLINE = 60.0


def _until(read: Callable[[], Any], done: Callable[[Any], bool]) -> Any:
    """``read()`` again until ``done`` says so (polling a condition, with a deadline)."""
    give_up = time.monotonic() + DEADLINE
    value = read()
    while not done(value) and time.monotonic() < give_up:
        time.sleep(0.2)
        value = read()
    return value


def test_a_whatsapp_booking_reaches_the_crm_after_its_outage(
    stack: Stack, patient: WhatsAppPatient, registered_cpf: str
) -> None:
    service = f"http://127.0.0.1:{stack.ports.service}"
    port = free_port()  # nothing listens yet: the CRM is down
    subscription = requests.post(
        f"{service}/staff/webhooks/subscriptions",
        headers=STAFF,
        json={"url": f"http://127.0.0.1:{port}/clinicbot", "event_types": ["appointment.booked"]},
        timeout=10,
    ).json()
    try:
        patient.say("quero marcar uma consulta")
        menu_lines(patient.say(registered_cpf))
        patient.say("2")
        patient.say("1")
        assert "consulta está marcada" in patient.say("sim")

        def log() -> list[dict[str, Any]]:
            answer = requests.get(
                f"{service}/staff/webhooks/deliveries",
                headers=STAFF,
                params={"subscription_id": subscription["id"]},
                timeout=10,
            )
            return list(answer.json()["data"])

        failing = _until(log, lambda rows: bool(rows) and rows[0]["attempts"] >= 2)
        # Not delivered, retried; "sending" while the worker is in its next attempt.
        assert failing[0]["status"] in ("pending", "sending"), failing
        assert failing[0]["delivered_at"] is None
        assert failing[0]["last_error"]

        receiver = Receiver(subscription["secret"])
        server = receiver.server("127.0.0.1", port)  # the CRM is back
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            mine = _until(
                lambda: [e for e in receiver.received if e["data"]["phone"] == patient.phone],
                bool,
            )
        finally:
            server.shutdown()
            server.server_close()
        [event] = mine
        assert_valid_envelope(event)
        assert event["type"] == "appointment.booked" and event["data"]["cpf"] == registered_cpf
        assert event["data"]["source"] == "whatsapp" and receiver.rejected == []
        delivered = _until(log, lambda rows: rows[0]["status"] == "delivered")[0]
        assert delivered["event_id"] == event["id"] and delivered["attempts"] >= 3
    finally:
        requests.delete(
            f"{service}/staff/webhooks/subscriptions/{subscription['id']}",
            headers=STAFF,
            timeout=10,
        )
