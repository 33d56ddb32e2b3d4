"""Turn a Cloud API webhook body into :class:`InboundEvent` s (pure functions, no I/O).

Envelope: ``{"object": "whatsapp_business_account", "entry": [{"changes": [{"field":
"messages", "value": {metadata, contacts, messages?, statuses?, errors?}}]}]}``; one body may
carry several messages and statuses (third_party_apis.md §3).

In the path of a message: called by :class:`~clinicbot.whatsapp.meta.connector.MetaInput` once
the signature is checked; each event then goes to the connector's ``handle_event``.
"""

from __future__ import annotations

from typing import Any

from clinicbot.ptbr.phones import normalize_phone
from clinicbot.whatsapp.events import (
    MAX_PHONE_CHARS,
    InboundEvent,
    InboundKind,
    MalformedPayload,
    StatusUpdate,
    epoch_to_datetime,
    provider_id,
    tapped_text,
)

MEDIA_KINDS = ("image", "audio", "video", "document", "sticker", "location", "contacts")
CAPTIONED_KINDS = ("image", "video", "document")
META_STATUSES = {"sent": "sent", "delivered": "delivered", "read": "read", "failed": "failed"}


def parse_webhook(payload: Any, phone_number_id: str | None = None) -> list[InboundEvent]:
    """Every event in the body; ``phone_number_id`` drops changes for another number."""
    if not isinstance(payload, dict) or payload.get("object") != "whatsapp_business_account":
        raise MalformedPayload("expected a whatsapp_business_account webhook")
    entries = payload.get("entry")
    if not isinstance(entries, list):
        raise MalformedPayload("expected an 'entry' list")
    events: list[InboundEvent] = []
    for entry in entries:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        if not isinstance(changes, list):
            raise MalformedPayload("expected entry[].changes[]")
        for change in changes:
            value = change.get("value") if isinstance(change, dict) else None
            if not isinstance(value, dict):
                raise MalformedPayload("expected entry[].changes[].value")
            if change.get("field") != "messages":
                events.append(
                    InboundEvent(InboundKind.IGNORED, reason=f"field {change.get('field')}")
                )
                continue
            metadata = value.get("metadata")
            number = metadata.get("phone_number_id") if isinstance(metadata, dict) else None
            if phone_number_id and number != phone_number_id:
                events.append(InboundEvent(InboundKind.IGNORED, reason="other phone number"))
                continue
            events.extend(_message(item) for item in _items(value, "messages"))
            events.extend(_status(item) for item in _items(value, "statuses"))
    return events


def phone_number_ids(payload: dict[str, Any]) -> set[str]:
    """The phone number ids the ``messages`` changes of a (well-formed) body are for."""
    numbers = set()
    for entry in payload.get("entry") or []:
        for change in entry.get("changes") or []:
            value = change.get("value")
            metadata = value.get("metadata") if change.get("field") == "messages" else None
            number = metadata.get("phone_number_id") if isinstance(metadata, dict) else None
            if number is not None:
                numbers.add(str(number))
    return numbers


def _items(value: dict[str, Any], key: str) -> list[Any]:
    items = value.get(key) or []
    if not isinstance(items, list):
        raise MalformedPayload(f"expected a '{key}' list")
    return items


def _message(item: Any) -> InboundEvent:
    if not isinstance(item, dict):
        raise MalformedPayload("message is not an object")
    sender = provider_id(item.get("from"), "message 'from'", MAX_PHONE_CHARS)
    message_id = provider_id(item.get("id"), "message 'id'")
    kind = str(item.get("type") or "")
    if kind in ("reaction", "system", "unsupported", "request_welcome"):
        return InboundEvent(InboundKind.IGNORED, reason=kind)
    text, reply_id = _text(kind, item)
    phone = normalize_phone(sender)
    data: dict[str, Any] = {"chat_id": sender, "kind": "reply" if reply_id else kind}
    if reply_id:
        data["reply_id"] = reply_id
    context = item.get("context")
    if isinstance(context, dict) and context.get("id"):
        data["reference_id"] = str(context["id"])
    common: dict[str, Any] = {
        "phone": phone,
        "message_id": message_id,
        "moment": epoch_to_datetime(item.get("timestamp")),
        "data": data,
    }
    if text:
        return InboundEvent(InboundKind.MESSAGE, reason="text", text=text, **common)
    if kind in MEDIA_KINDS:
        return InboundEvent(InboundKind.UNSUPPORTED, reason=kind, **common)
    return InboundEvent(InboundKind.IGNORED, reason=f"type {kind or 'missing'}")


def _text(kind: str, item: dict[str, Any]) -> tuple[str | None, str | None]:
    content_item = item.get(kind)
    content: dict[str, Any] = content_item if isinstance(content_item, dict) else {}
    if kind == "text":
        return str(content.get("body") or "").strip() or None, None
    if kind == "interactive":
        reply_type = content.get("type")
        reply = content.get(reply_type) if isinstance(reply_type, str) else None
        if isinstance(reply, dict):
            return tapped_text(reply.get("id"), reply.get("title"))
        return None, None
    if kind == "button":  # quick reply on a template
        return tapped_text(content.get("payload"), content.get("text"))
    if kind in CAPTIONED_KINDS:
        return str(content.get("caption") or "").strip() or None, None
    return None, None


def _status(item: Any) -> InboundEvent:
    if not isinstance(item, dict):
        raise MalformedPayload("status is not an object")
    wamid = provider_id(item.get("id"), "status 'id'")
    status = META_STATUSES.get(str(item.get("status")))
    if status is None:
        return InboundEvent(InboundKind.IGNORED, reason=f"status {item.get('status')}")
    errors = item.get("errors")
    error = ""
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        error = str(errors[0].get("title") or errors[0].get("message") or errors[0].get("code"))
    return InboundEvent(
        InboundKind.STATUS,
        reason="status",
        moment=epoch_to_datetime(item.get("timestamp")),
        status=StatusUpdate((wamid,), status, error),
    )
