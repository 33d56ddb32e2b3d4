"""Every Cloud API webhook shape of third_party_apis.md §3 is classified."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from clinicbot.whatsapp.events import InboundKind, MalformedPayload, StatusUpdate
from clinicbot.whatsapp.meta.parsing import parse_webhook
from clinicbot.whatsapp.meta.signature import is_valid, sign

PAYLOADS = Path(__file__).parent / "payloads"
PNID = "100000000000001"
MESSAGE, UNSUPPORTED, STATUS, _, IGNORED = InboundKind

MISSING_FROM = {"metadata": {"phone_number_id": PNID}, "messages": [{"id": "wamid.X"}]}

# fixture → [(kind, message_id, text)]
EXPECTED: dict[str, list[tuple[InboundKind, str, str]]] = {
    "text": [(MESSAGE, "wamid.TEXT01", "quero agendar")],
    "interactive_button_reply": [(MESSAGE, "wamid.BTN01", "/affirm")],
    "interactive_list_reply": [(MESSAGE, "wamid.LIST01", "08:30")],
    "template_quick_reply": [(MESSAGE, "wamid.QR01", "Confirmar")],
    "image": [(UNSUPPORTED, "wamid.IMG01", "")],
    "image_with_caption": [(MESSAGE, "wamid.IMG02", "meu pedido médico")],
    "audio": [(UNSUPPORTED, "wamid.AUD01", "")],
    "reaction": [(IGNORED, "", "")],
    "status_sent": [(STATUS, "", "")],
    "status_delivered": [(STATUS, "", "")],
    "status_read": [(STATUS, "", "")],
    "status_failed": [(STATUS, "", "")],
    "two_messages": [(MESSAGE, "wamid.M1", "oi"), (MESSAGE, "wamid.M2", "tudo bem?")],
    "other_phone_number": [(IGNORED, "", "")],
}


def load(name: str) -> dict[str, Any]:
    return json.loads((PAYLOADS / f"{name}.json").read_text(encoding="utf-8"))


def test_every_fixture_has_an_expectation() -> None:
    assert {path.stem for path in PAYLOADS.glob("*.json")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_webhook_is_classified(name: str) -> None:
    events = parse_webhook(load(name), PNID)
    assert [(e.kind, e.message_id, e.text) for e in events] == EXPECTED[name]


def test_replies_keep_the_tapped_id_and_context() -> None:
    [event] = parse_webhook(load("interactive_list_reply"), PNID)
    assert event.phone == "5531988887777"
    assert event.data == {
        "chat_id": "5531988887777",
        "kind": "reply",
        "reply_id": "slot_0830",
        "reference_id": "wamid.OUT02",
    }
    assert event.moment is not None and event.moment.timestamp() == 1778750000


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("status_sent", StatusUpdate(("wamid.OUT01",), "sent")),
        ("status_delivered", StatusUpdate(("wamid.OUT01",), "delivered")),
        ("status_read", StatusUpdate(("wamid.OUT01",), "read")),
        ("status_failed", StatusUpdate(("wamid.OUT01",), "failed", "Re-engagement message")),
    ],
)
def test_statuses(name: str, expected: StatusUpdate) -> None:
    assert parse_webhook(load(name), PNID)[0].status == expected


@pytest.mark.parametrize(
    "body",
    [
        None,
        {"object": "page", "entry": []},
        {"object": "whatsapp_business_account"},
        {"object": "whatsapp_business_account", "entry": [{"changes": [{"value": None}]}]},
        {
            "object": "whatsapp_business_account",
            "entry": [{"changes": [{"field": "messages", "value": MISSING_FROM}]}],
        },
    ],
)
def test_malformed_envelopes_are_refused(body: Any) -> None:
    with pytest.raises(MalformedPayload):
        parse_webhook(body, PNID)


def test_signature_is_hmac_sha256_of_the_raw_bytes() -> None:
    body = b'{"object": "whatsapp_business_account"}'
    header = sign(body, "app-secret")
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert is_valid(body, header, "app-secret")
    assert is_valid(body, header.upper().replace("SHA256=", "sha256="), "app-secret")
    assert not is_valid(body + b" ", header, "app-secret")  # re-serialised JSON differs
    assert not is_valid(body, header, "other-secret")
    assert not is_valid(body, None, "app-secret")
    assert not is_valid(body, header, "")
