"""Every Z-API callback shape (third_party_apis.md §2.4 and the §2.6 examples) is classified."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from clinicbot.whatsapp.events import InboundKind, MalformedPayload, StatusUpdate, epoch_to_datetime
from clinicbot.whatsapp.zapi.parsing import parse_callback

PAYLOADS = Path(__file__).parent / "payloads"
MESSAGE, UNSUPPORTED, STATUS, CONNECTION, IGNORED = InboundKind
REF = "3EB0A1B2C3D4E5F6A7B8"

# fixture file → (kind, reason, phone, message_id, text)
EXPECTED: dict[str, tuple[InboundKind, str, str, str, str]] = {
    "doc_received_text": (MESSAGE, "text", "5531988887777", "3EB0FFEE00112233", "quero agendar"),
    "doc_list_reply": (MESSAGE, "text", "5531988887777", "3EB0FFEE00112299", "08:30"),
    "doc_message_status_read": (STATUS, "message status", "", "", ""),
    "doc_disconnected": (CONNECTION, "disconnected", "", "", ""),
    "received_callback_capital_b": (MESSAGE, "text", "5531988887777", "3EB0FFEE00112233", "oi"),
    "button_reply": (MESSAGE, "text", "5531988887777", "3EB0BUTTON0001", "/affirm"),
    "image_with_caption": (
        MESSAGE,
        "text",
        "5531988887777",
        "3EB0IMG0001",
        "quero marcar consulta",
    ),
    "image": (UNSUPPORTED, "image", "5531988887777", "3EB0IMG0002", ""),
    "audio": (UNSUPPORTED, "audio", "5531988887777", "3EB0AUD0001", ""),
    "video_with_caption": (MESSAGE, "text", "5531988887777", "3EB0VID0001", "é assim que chego?"),
    "document": (UNSUPPORTED, "document", "5531988887777", "3EB0DOC0001", ""),
    "sticker": (UNSUPPORTED, "sticker", "5531988887777", "3EB0STK0001", ""),
    "location": (UNSUPPORTED, "location", "5531988887777", "3EB0LOC0001", ""),
    "contact": (UNSUPPORTED, "contact", "5531988887777", "3EB0CON0001", ""),
    "reaction": (IGNORED, "reaction", "", "", ""),
    "from_me": (IGNORED, "fromMe", "", "", ""),
    "group": (IGNORED, "isGroup", "", "", ""),
    "newsletter": (IGNORED, "isNewsletter", "", "", ""),
    "broadcast": (IGNORED, "broadcast", "", "", ""),
    "notification": (IGNORED, "notification", "", "", ""),
    "lid_sender": (MESSAGE, "text", "123456789012345@lid", "3EB0LID0001", "oi"),
    "without_ninth_digit": (MESSAGE, "text", "5531988887777", "3EB0NIN0001", "oi"),
    "delivery_ok": (STATUS, "delivery", "", "", ""),
    "delivery_error": (STATUS, "delivery", "", "", ""),
    "message_status_received": (STATUS, "message status", "", "", ""),
    "message_status_read_by_me": (IGNORED, "status read_by_me", "", "", ""),
    "connected": (CONNECTION, "connected", "", "", ""),
    "presence": (IGNORED, "presencechatcallback", "", "", ""),
}


def load(name: str) -> dict[str, Any]:
    return json.loads((PAYLOADS / f"{name}.json").read_text(encoding="utf-8"))


def test_every_fixture_has_an_expectation() -> None:
    names = {path.stem for path in PAYLOADS.glob("*.json")}
    assert names == set(EXPECTED) | {"edited_text", "button_reply_without_message_id"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_callback_is_classified(name: str) -> None:
    kind, reason, phone, message_id, text = EXPECTED[name]
    event = parse_callback(load(name))
    assert (event.kind, event.reason) == (kind, reason)
    assert (event.phone, event.message_id, event.text) == (phone, message_id, text)


def test_documented_list_reply_keeps_the_tapped_row_and_reference() -> None:
    event = parse_callback(load("doc_list_reply"))
    assert event.data == {
        "chat_id": "5531988887777",
        "kind": "reply",
        "reply_id": "slot_0830",
        "reference_id": REF,
    }
    assert event.moment == datetime(2026, 5, 14, 9, 14, 20, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("doc_message_status_read", StatusUpdate((REF,), "read")),
        ("message_status_received", StatusUpdate((REF,), "delivered")),
        ("delivery_ok", StatusUpdate((REF,), "sent")),
        ("delivery_error", StatusUpdate((REF,), "failed", "Phone number does not exist")),
    ],
)
def test_status_callbacks_name_our_messages(name: str, expected: StatusUpdate) -> None:
    assert parse_callback(load(name)).status == expected


def test_status_with_a_single_id_field() -> None:
    payload = {**load("doc_message_status_read"), "id": "ABC"}
    del payload["ids"]
    assert parse_callback(payload).status == StatusUpdate(("ABC",), "read")


def test_momment_in_seconds_and_milliseconds_is_the_same_instant() -> None:
    seconds = parse_callback(load("doc_disconnected")).moment
    assert seconds == datetime(2026, 5, 14, 9, 15, tzinfo=timezone.utc)
    assert epoch_to_datetime(1778750100000) == seconds
    assert epoch_to_datetime("1778750100") == seconds
    assert epoch_to_datetime(None) is None


def test_disconnection_keeps_the_reason() -> None:
    event = parse_callback(load("doc_disconnected"))
    assert event.data == {"error": "Device has been disconnected"}


def test_an_edit_is_a_new_message_with_its_own_key() -> None:
    original = parse_callback(load("doc_received_text"))
    edited = parse_callback(load("edited_text"))
    assert edited.kind is MESSAGE and edited.text == "quero agendar amanhã"
    assert edited.data["edited"] is True
    assert edited.message_id.startswith(original.message_id + ":edit:")
    assert parse_callback(load("edited_text")).message_id == edited.message_id


def test_reply_without_message_id_gets_a_synthetic_key_per_ten_seconds() -> None:
    payload = load("button_reply_without_message_id")
    first = parse_callback(payload)
    assert first.text == "Sim" and first.data["reply_id"] == "confirm_yes"
    assert first.message_id.startswith("syn:") and "5531988887777" not in first.message_id
    redelivered = parse_callback({**payload, "momment": payload["momment"] + 3_000})
    assert redelivered.message_id == first.message_id
    later = parse_callback({**payload, "momment": payload["momment"] + 60_000})
    assert later.message_id != first.message_id


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        "text",
        {},
        {"type": 3},
        {"type": "ReceivedCallback"},
        {"type": "ReceivedCallback", "phone": ""},
    ],
)
def test_malformed_payloads_are_refused(body: Any) -> None:
    with pytest.raises(MalformedPayload):
        parse_callback(body)
