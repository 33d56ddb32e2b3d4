"""The repository's default templates: ``domain.yml``'s responses and the proactive texts.

They seed ``message_templates`` and are what is sent whenever the clinic's version cannot be
(missing row, missing value). The variables a template declares are the ones its default text
uses: the code that sends it supplies exactly those.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from clinicbot.messages.placeholders import placeholders
from clinicbot.services import templates as proactive
from clinicbot.settings import PROJECT_ROOT

DOMAIN_FILE = PROJECT_ROOT / "domain.yml"

CATEGORIES = ("conversation", "question", "faq", "proactive", "feedback", "channel")

# The channel's own notices (clinicbot/whatsapp): sent without a Rasa turn.
CHANNEL_ONLY_TEXT = "channel.only_text"
CHANNEL_TOO_MANY_MESSAGES = "channel.too_many_messages"
CHANNEL_TURN_FAILED = "channel.turn_failed"
CHANNEL_TEXTS: dict[str, str] = {
    CHANNEL_ONLY_TEXT: proactive.ONLY_TEXT_REPLY,
    CHANNEL_TOO_MANY_MESSAGES: proactive.TOO_MANY_MESSAGES,
    CHANNEL_TURN_FAILED: proactive.TURN_FAILED_APOLOGY,
}

# The satisfaction survey (clinicbot/messages/satisfaction.py): sent outside a Rasa turn.
FEEDBACK_ASK = "feedback.ask"
FEEDBACK_ASK_COMMENT = "feedback.ask_comment"
FEEDBACK_THANKS = "feedback.thanks"
FEEDBACK_TEXTS: dict[str, str] = {
    FEEDBACK_ASK: (
        "Oi! 😊 Uma pergunta rápida: de 1 a 5, o que achou de marcar sua consulta por aqui?"
    ),
    FEEDBACK_ASK_COMMENT: (
        "Obrigada pela nota! Quer deixar um comentário? É só escrever; se não quiser, "
        "responda *não*."
    ),
    FEEDBACK_THANKS: "Obrigada pelo retorno! 💙 Ele ajuda a clínica a melhorar.",
}
# The survey's options: a WhatsApp list on Z-API, numbered text elsewhere.
FEEDBACK_OPTIONS = (
    "5 - Excelente",
    "4 - Bom",
    "3 - Regular",
    "2 - Ruim",
    "1 - Muito ruim",
)


@dataclass(frozen=True)
class DefaultTemplate:
    key: str
    category: str
    text: str
    variables: tuple[str, ...]
    buttons: tuple[dict[str, str], ...] = field(default=())


def _category(key: str) -> str:
    """``utter_faq_*``: faq; ``utter_ask_*`` (a form's question): question; else conversation."""
    kind = key.removeprefix("utter_").split("_", 1)[0]
    return {"faq": "faq", "ask": "question"}.get(kind, "conversation")


def _from_domain(path: Path) -> list[DefaultTemplate]:
    domain: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    found = []
    for key, variations in (domain.get("responses") or {}).items():
        first = variations[0]  # the project's responses have one variation each
        text = str(first.get("text") or "")
        buttons = tuple(
            {"title": str(button["title"]), "payload": str(button["payload"])}
            for button in first.get("buttons") or []
        )
        found.append(DefaultTemplate(key, _category(key), text, tuple(placeholders(text)), buttons))
    return found


def _plain(texts: dict[str, str], category: str) -> list[DefaultTemplate]:
    return [
        DefaultTemplate(key, category, text, tuple(placeholders(text)))
        for key, text in texts.items()
    ]


@lru_cache(maxsize=1)
def default_templates() -> dict[str, DefaultTemplate]:
    """Every default template by key (read once per process)."""
    found = [
        *_from_domain(DOMAIN_FILE),
        *_plain(proactive.DEFAULT_TEMPLATES, "proactive"),
        *_plain(FEEDBACK_TEXTS, "feedback"),
        *_plain(CHANNEL_TEXTS, "channel"),
    ]
    return {template.key: template for template in found}
