"""Shaping the assistant's answers for WhatsApp: numbered menus and message length.

In the path of a message: used by :mod:`clinicbot.whatsapp.rasa_output` on the way out, before
an answer is enqueued.
"""

from __future__ import annotations

from typing import Any

# WhatsApp accepts ~4096 characters, but long walls of text read badly on a phone.
MAX_MESSAGE_CHARS = 1200


def numbered_menu(text: str, buttons: list[dict[str, Any]]) -> str:
    """``text`` followed by one ``N. title`` line per button: the patient can answer with N."""
    lines = [f"{index}. {button.get('title', '')}" for index, button in enumerate(buttons, 1)]
    return "\n".join([text, "", *lines]) if lines else text


def split_message(text: str, limit: int = MAX_MESSAGE_CHARS) -> list[str]:
    """Split at paragraph, then line, then word boundaries so that no part exceeds ``limit``."""
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    for separator in ("\n\n", "\n", " "):
        cut = text.rfind(separator, 0, limit + 1)
        if cut > 0:
            return [text[:cut].strip(), *split_message(text[cut:], limit)]
    return [text[:limit], *split_message(text[limit:], limit)]
