"""Builders of Cloud API webhook payloads (the ``entry[].changes[].value`` envelope), shaped
like the ones Meta posts.

Tests and the sandbox use them: ``envelope(phone_number_id, messages=[text_message(...)])``.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

WABA_ID = "102290129340398"


def new_wamid() -> str:
    return "wamid.HBgM" + secrets.token_hex(16).upper()


def envelope(
    phone_number_id: str,
    *,
    messages: list[dict[str, Any]] | None = None,
    statuses: list[dict[str, Any]] | None = None,
    contacts: list[dict[str, Any]] | None = None,
    display_phone_number: str = "551130001000",
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": display_phone_number,
            "phone_number_id": phone_number_id,
        },
    }
    if contacts is not None:
        value["contacts"] = contacts
    if messages is not None:
        value["messages"] = messages
    if statuses is not None:
        value["statuses"] = statuses
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": [{"field": "messages", "value": value}]}],
    }


def contact(wa_id: str, name: str = "") -> dict[str, Any]:
    return {"profile": {"name": name}, "wa_id": wa_id}


def message(
    sender: str,
    kind: str,
    content: dict[str, Any],
    *,
    wamid: str | None = None,
    timestamp: int | None = None,
    context_id: str | None = None,
) -> dict[str, Any]:
    """An inbound message of ``kind`` (``text``, ``interactive``, ``image`` …)."""
    built: dict[str, Any] = {
        "from": sender,
        "id": wamid or new_wamid(),
        "timestamp": str(timestamp if timestamp is not None else int(time.time())),
        "type": kind,
        kind: content,
    }
    if context_id:
        built["context"] = {"from": "551130001000", "id": context_id}
    return built


def text_message(sender: str, body: str, **kwargs: Any) -> dict[str, Any]:
    return message(sender, "text", {"body": body}, **kwargs)


def list_reply(sender: str, row_id: str, title: str, **kwargs: Any) -> dict[str, Any]:
    content = {"type": "list_reply", "list_reply": {"id": row_id, "title": title}}
    return message(sender, "interactive", content, **kwargs)


def button_reply(sender: str, button_id: str, title: str, **kwargs: Any) -> dict[str, Any]:
    content = {"type": "button_reply", "button_reply": {"id": button_id, "title": title}}
    return message(sender, "interactive", content, **kwargs)


def status(wamid: str, recipient: str, state: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": wamid,
        "status": state,
        "timestamp": str(int(time.time())),
        "recipient_id": recipient,
        **extra,
    }
