"""Turn a Z-API webhook payload into what the assistant should do with it.

Pure functions, no I/O: the connector decides from the result whether to run a Rasa turn, record
a status, or acknowledge and ignore.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from clinicbot.phones import normalize_phone

MEDIA_KINDS = ("image", "audio", "video", "document", "sticker", "location", "contact")


class InboundKind(str, Enum):
    MESSAGE = "message"  # a patient's text (or tapped option): run a Rasa turn
    UNSUPPORTED = "unsupported"  # media without caption: answer that only text is read
    STATUS = "status"  # delivery/read/connection callbacks: record, no reply
    IGNORED = "ignored"  # our own messages, groups, newsletters, system notifications


@dataclass(frozen=True)
class InboundEvent:
    kind: InboundKind
    reason: str = ""
    phone: str = ""  # E.164 digits (or the raw id for @lid chats)
    reply_to: str = ""  # the chat id exactly as Z-API sent it
    message_id: str = ""
    text: str = ""
    sender_name: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


class MalformedPayload(ValueError):
    """The body is not a Z-API callback we can read."""


def parse_callback(payload: Any) -> InboundEvent:
    """Classify one Z-API callback body."""
    if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
        raise MalformedPayload("expected a JSON object with a 'type'")
    callback_type = payload["type"].lower()
    if callback_type != "receivedcallback":
        return InboundEvent(InboundKind.STATUS, reason=callback_type)

    raw_phone = payload.get("phone")
    if not isinstance(raw_phone, str) or not raw_phone:
        raise MalformedPayload("ReceivedCallback without 'phone'")
    if payload.get("fromMe"):
        return InboundEvent(InboundKind.IGNORED, reason="fromMe")
    for flag in ("isGroup", "isNewsletter", "broadcast"):
        if payload.get(flag):
            return InboundEvent(InboundKind.IGNORED, reason=flag)
    if payload.get("notification"):
        return InboundEvent(InboundKind.IGNORED, reason="notification")

    base = {
        "phone": normalize_phone(raw_phone),
        "reply_to": raw_phone,
        "message_id": str(payload.get("messageId") or ""),
        "sender_name": str(payload.get("senderName") or ""),
    }
    text = _message_text(payload)
    if text is not None:
        return InboundEvent(InboundKind.MESSAGE, text=text, **base)
    if "reaction" in payload:
        return InboundEvent(InboundKind.IGNORED, reason="reaction")
    for kind in MEDIA_KINDS:
        if isinstance(payload.get(kind), dict):
            return InboundEvent(InboundKind.UNSUPPORTED, reason=kind, **base)
    return InboundEvent(InboundKind.IGNORED, reason="no content")


def _message_text(payload: dict[str, Any]) -> str | None:
    """The text a patient sent: typed, tapped (list/button id), or a media caption."""
    text = payload.get("text")
    if isinstance(text, dict) and isinstance(text.get("message"), str):
        return text["message"].strip() or None
    list_reply = payload.get("listResponseMessage")
    if isinstance(list_reply, dict):
        return _tapped(list_reply.get("selectedRowId"), list_reply.get("title"))
    button_reply = payload.get("buttonsResponseMessage")
    if isinstance(button_reply, dict):
        return _tapped(button_reply.get("buttonId"), button_reply.get("message"))
    for kind in ("image", "video", "document"):
        media = payload.get(kind)
        if isinstance(media, dict) and str(media.get("caption") or "").strip():
            return str(media["caption"]).strip()
    return None


def _tapped(option_id: Any, label: Any) -> str | None:
    """A tapped option: its id when that is a Rasa intent payload (``/intent``), else its label."""
    if isinstance(option_id, str) and option_id.startswith("/"):
        return option_id
    if isinstance(label, str) and label.strip():
        return label.strip()
    return option_id if isinstance(option_id, str) and option_id else None
