"""Builders of Z-API ``ReceivedCallback`` webhook payloads, shaped like the ones Z-API posts.

The sandbox simulator uses them to drive the real connector path, and tests use them as fixtures:
``received_callback(instance_id, phone, text_content("oi"))``.
"""

from __future__ import annotations

import secrets
import time
from typing import Any


def new_message_id() -> str:
    """A WhatsApp-looking message id (``3EB0`` + 16 hex digits)."""
    return "3EB0" + secrets.token_hex(8).upper()


def text_content(text: str) -> dict[str, Any]:
    """A plain text message."""
    return {"text": {"message": text}}


def list_reply_content(selected_row_id: str, title: str) -> dict[str, Any]:
    """The patient tapped row ``selected_row_id`` of an option list (``send-option-list``)."""
    return {
        "listResponseMessage": {"message": title, "title": title, "selectedRowId": selected_row_id}
    }


def button_reply_content(button_id: str, label: str) -> dict[str, Any]:
    """The patient tapped button ``button_id`` of a button list (``send-button-list``)."""
    return {"buttonsResponseMessage": {"buttonId": button_id, "message": label}}


def received_callback(
    instance_id: str,
    phone: str,
    content: dict[str, Any],
    *,
    sender_name: str = "",
    connected_phone: str = "",
    message_id: str | None = None,
    momment_ms: int | None = None,
    reference_message_id: str | None = None,
) -> dict[str, Any]:
    """A ``ReceivedCallback`` from a private chat with ``phone`` carrying ``content``.

    ``momment`` (sic, Z-API's spelling) is epoch milliseconds; ``referenceMessageId`` is set on
    replies to a list or button message, as Z-API does.
    """
    payload: dict[str, Any] = {
        "type": "ReceivedCallback",
        "instanceId": instance_id,
        "messageId": message_id or new_message_id(),
        "phone": phone,
        "fromMe": False,
        "fromApi": False,
        "isGroup": False,
        "isNewsletter": False,
        "broadcast": False,
        "forwarded": False,
        "isEdit": False,
        "isStatusReply": False,
        "waitingMessage": False,
        "momment": momment_ms if momment_ms is not None else int(time.time() * 1000),
        "status": "RECEIVED",
        "chatName": sender_name,
        "senderName": sender_name,
        "senderPhoto": None,
        "photo": None,
        "chatLid": None,
        "connectedPhone": connected_phone,
    }
    if reference_message_id:
        payload["referenceMessageId"] = reference_message_id
    payload.update(content)
    return payload
