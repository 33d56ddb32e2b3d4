"""The simulator's API: real Z-API callbacks to the rasa webhook, replies read from the fake."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

PHONE = "5511987654321"


def send(service: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(f"{service}/simulator/api/send", json=body, timeout=10)


@pytest.fixture
def webhook(rasa):
    """The stand-in rasa server, with no request captured yet."""
    rasa.requests.clear()
    return rasa


def test_text_becomes_a_received_callback_on_the_rasa_webhook(
    service: str, webhook, zapi_credentials: dict[str, str]
) -> None:
    before_ms = int(time.time() * 1000)
    response = send(service, {"phone": "+55 (11) 98765-4321", "name": "Marina", "text": "oi"})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["webhookStatus"] == 200

    [request] = webhook.requests
    assert request["path"] == "/webhooks/zapi/webhook"
    headers = {name.lower(): value for name, value in request["headers"].items()}
    assert headers["z-api-token"] == zapi_credentials["instance_token"]
    assert headers["content-type"].startswith("application/json")
    payload = request["json"]
    assert payload["type"] == "ReceivedCallback"
    assert payload["instanceId"] == zapi_credentials["instance_id"]
    assert payload["messageId"] == answer["messageId"]
    assert payload["phone"] == PHONE
    assert payload["fromMe"] is False and payload["isGroup"] is False
    assert payload["status"] == "RECEIVED"
    assert payload["senderName"] == "Marina"
    assert payload["text"] == {"message": "oi"}
    assert before_ms <= payload["momment"] <= int(time.time() * 1000)
    assert payload["momment"] == answer["momment"]


def test_every_message_gets_a_fresh_message_id(service: str, webhook) -> None:
    for _ in range(2):
        assert send(service, {"phone": PHONE, "text": "oi"}).ok
    first, second = (request["json"]["messageId"] for request in webhook.requests)
    assert first != second


def test_option_list_reply(service: str, webhook) -> None:
    reply = {"type": "list", "id": "slot_0830", "title": "08:30", "referenceMessageId": "3EB0AA"}
    assert send(service, {"phone": PHONE, "reply": reply}).ok
    payload = webhook.requests[0]["json"]
    assert payload["listResponseMessage"] == {
        "message": "08:30",
        "title": "08:30",
        "selectedRowId": "slot_0830",
    }
    assert payload["referenceMessageId"] == "3EB0AA"
    assert "text" not in payload


def test_button_reply(service: str, webhook) -> None:
    reply = {"type": "button", "id": "confirm_yes", "title": "Sim", "referenceMessageId": "3EB0BB"}
    assert send(service, {"phone": PHONE, "reply": reply}).ok
    payload = webhook.requests[0]["json"]
    assert payload["buttonsResponseMessage"] == {"buttonId": "confirm_yes", "message": "Sim"}
    assert payload["referenceMessageId"] == "3EB0BB"


@pytest.mark.parametrize(
    "body",
    [
        {"phone": "123", "text": "oi"},
        {"phone": PHONE, "text": "   "},
        {"phone": PHONE, "reply": {"type": "poll", "id": "x", "title": "x"}},
        {"phone": PHONE, "reply": {"type": "list", "title": "sem id"}},
    ],
)
def test_invalid_requests_are_rejected_in_portuguese(service: str, webhook, body) -> None:
    response = send(service, body)
    assert response.status_code == 400
    assert response.json()["message"]
    assert webhook.requests == []


def test_send_while_rasa_is_starting(service_without_rasa: str) -> None:
    response = send(service_without_rasa, {"phone": PHONE, "text": "oi"})
    assert response.status_code == 503
    assert response.json()["message"] == "O assistente está iniciando…"


def test_status_tells_whether_rasa_is_up(service: str, service_without_rasa: str) -> None:
    up = requests.get(f"{service}/simulator/api/status", timeout=5).json()
    down = requests.get(f"{service_without_rasa}/simulator/api/status", timeout=5).json()
    assert (up["rasa"], down["rasa"]) == ("up", "down")


def test_messages_are_read_from_the_fake_z_api(service: str, zapi_fake) -> None:
    fake, _ = zapi_fake
    fake.reset()
    first = fake.record(PHONE, "text", "Olá! Como posso ajudar?")
    fake.record("5511900000000", "text", "outra pessoa")
    menu = fake.record(
        PHONE,
        "option-list",
        "Escolha um horário",
        option_list={"title": "14/05", "buttonLabel": "Ver horários", "options": []},
    )

    url = f"{service}/simulator/api/messages"
    everything = requests.get(url, params={"phone": PHONE, "after": 0}, timeout=5).json()
    assert [m["message"] for m in everything["messages"]] == [
        "Olá! Como posso ajudar?",
        "Escolha um horário",
    ]
    assert everything["last"] == menu.seq
    assert everything["messages"][1]["optionList"]["buttonLabel"] == "Ver horários"

    newer = requests.get(url, params={"phone": PHONE, "after": first.seq}, timeout=5).json()
    assert [m["messageId"] for m in newer["messages"]] == [menu.message_id]


def test_page_and_assets_are_served(service: str) -> None:
    page = requests.get(f"{service}/simulator", timeout=5)
    assert page.status_code == 200
    assert "Clínica Bem Viver" in page.text
    assert "{{clinic_name}}" not in page.text
    for asset in ("simulator.js", "simulator.css"):
        assert requests.get(f"{service}/simulator/static/{asset}", timeout=5).status_code == 200
