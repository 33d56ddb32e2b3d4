"""Turn a Z-API webhook payload into an :class:`InboundEvent` (pure functions, no I/O).

In the path of a message: called by :class:`~clinicbot.whatsapp.zapi.connector.ZapiInput` once
the webhook is authenticated; the event then goes to the connector's ``handle_event``.

Shapes: ``shared/reference/third_party_apis.md`` §2.4. Types are compared case-insensitively
(the docs spell ``ReceivedCallBack`` and ``ReceivedCallback``), ``momment`` may be ms or s.
"""

from __future__ import annotations

import hashlib
import time
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

MEDIA_KINDS = ("image", "audio", "video", "document", "sticker", "location", "contact")
CAPTIONED_KINDS = ("image", "video", "document")
IGNORED_FLAGS = ("fromMe", "isGroup", "isNewsletter", "broadcast", "notification")
# Button/list replies sometimes arrive without messageId; redeliveries land in the same bucket.
SYNTHETIC_BUCKET_SECONDS = 10
ZAPI_STATUSES = {"SENT": "sent", "RECEIVED": "delivered", "READ": "read", "PLAYED": "read"}


def parse_callback(payload: Any) -> InboundEvent:
    """Classify one Z-API callback body."""
    if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
        raise MalformedPayload("expected a JSON object with a 'type'")
    callback_type = payload["type"].lower()
    if callback_type == "receivedcallback":
        return _received(payload)
    if callback_type == "messagestatuscallback":
        return _message_status(payload)
    if callback_type == "deliverycallback":
        error = str(payload.get("error") or "")
        status = StatusUpdate(_ids(payload.get("messageId")), "failed" if error else "sent", error)
        return InboundEvent(InboundKind.STATUS, reason="delivery", status=status)
    if callback_type in ("connectedcallback", "disconnectedcallback"):
        return InboundEvent(
            InboundKind.CONNECTION,
            reason=callback_type.removesuffix("callback"),
            moment=epoch_to_datetime(payload.get("momment") or payload.get("moment")),
            data={"error": str(payload.get("error") or "")},
        )
    return InboundEvent(InboundKind.IGNORED, reason=callback_type)


def _ids(value: Any) -> tuple[str, ...]:
    values = value if isinstance(value, list) else [value]
    return tuple(str(item) for item in values if isinstance(item, str) and item)


def _message_status(payload: dict[str, Any]) -> InboundEvent:
    raw_status = str(payload.get("status") or "").upper()
    status = ZAPI_STATUSES.get(raw_status)
    if status is None:  # READ_BY_ME and friends say nothing about our messages
        return InboundEvent(InboundKind.IGNORED, reason=f"status {raw_status.lower()}")
    ids = _ids(payload.get("ids")) or _ids(payload.get("id"))
    return InboundEvent(
        InboundKind.STATUS, reason="message status", status=StatusUpdate(ids, status)
    )


def _received(payload: dict[str, Any]) -> InboundEvent:
    raw_phone = provider_id(payload.get("phone"), "phone", MAX_PHONE_CHARS)
    for flag in IGNORED_FLAGS:
        if payload.get(flag):
            return InboundEvent(InboundKind.IGNORED, reason=flag)
    if payload.get("waitingMessage"):
        return InboundEvent(InboundKind.IGNORED, reason="waitingMessage")
    if isinstance(payload.get("reaction"), dict):
        return InboundEvent(InboundKind.IGNORED, reason="reaction")

    phone = normalize_phone(raw_phone)
    moment = epoch_to_datetime(payload.get("momment") or payload.get("moment"))
    text, reply_id = _message_text(payload)
    kind = InboundKind.MESSAGE
    reason = "text"
    if text is None:
        media = next((k for k in MEDIA_KINDS if isinstance(payload.get(k), dict)), None)
        if media is None:
            return InboundEvent(InboundKind.IGNORED, reason="no content")
        kind, reason, text = InboundKind.UNSUPPORTED, media, ""
    data: dict[str, Any] = {"chat_id": raw_phone, "kind": reason if reply_id is None else "reply"}
    if reply_id is not None:
        data["reply_id"] = reply_id
    if payload.get("referenceMessageId"):
        data["reference_id"] = str(payload["referenceMessageId"])
    if payload.get("isEdit"):
        data["edited"] = True
    return InboundEvent(
        kind,
        reason=reason,
        phone=phone,
        message_id=_dedupe_key(payload, phone, reply_id or text, _seconds(moment)),
        text=text,
        moment=moment,
        data=data,
    )


def _seconds(moment: Any) -> float:
    return moment.timestamp() if moment is not None else time.time()


def _dedupe_key(payload: dict[str, Any], phone: str, content: str, seconds: float) -> str:
    """``messageId``; an edit gets its own key per new text; no id → phone+content+10 s bucket."""
    raw_id = payload.get("messageId")
    message_id = provider_id(raw_id, "messageId") if raw_id else ""
    digest = hashlib.sha1(content.encode()).hexdigest()[:12]
    if message_id and payload.get("isEdit"):
        return f"{message_id}:edit:{digest}"
    if message_id:
        return message_id
    sender = hashlib.sha1(phone.encode()).hexdigest()[:16]  # ids are logged: no raw phone
    return f"syn:{sender}:{digest}:{int(seconds // SYNTHETIC_BUCKET_SECONDS)}"


def _message_text(payload: dict[str, Any]) -> tuple[str | None, str | None]:
    """The text a patient sent (typed, tapped, or a media caption) and the tapped option's id."""
    text = payload.get("text")
    if isinstance(text, dict) and isinstance(text.get("message"), str):
        return text["message"].strip() or None, None
    list_reply = payload.get("listResponseMessage")
    if isinstance(list_reply, dict):
        return tapped_text(list_reply.get("selectedRowId"), list_reply.get("title"))
    button_reply = payload.get("buttonsResponseMessage")
    if isinstance(button_reply, dict):
        return tapped_text(button_reply.get("buttonId"), button_reply.get("message"))
    for kind in CAPTIONED_KINDS:
        media = payload.get(kind)
        if isinstance(media, dict) and str(media.get("caption") or "").strip():
            return str(media["caption"]).strip(), None
    return None, None
