"""Messages the NLU was unsure about: the dashboard's review table and its Rasa NLU export.

A patient's message is up for review when Rasa answered it with the fallback (``nlu_fallback``)
or the classifier's confidence in its best intent was below a threshold. Curators read them on
the dashboard and download them as a Rasa NLU file (``version: "3.1"``) in which each example
sits under the intent the classifier predicted, with a comment saying how sure it was, how often
patients wrote it and whether the fallback fired: they move each example to the intent it really
expresses, or delete it, and copy the rest into ``data/nlu/`` for the next ``rasa train``.

Texts leave the database masked (CPFs and phone numbers, :func:`clinicbot.pii.mask_text`):
the export is meant to end up in the repository.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from clinicbot.db.models import ConversationMessage
from clinicbot.pii import mask_text
from clinicbot.services.analytics import Period, clinic_scope
from clinicbot.tenancy import DEFAULT_CLINIC_ID

FALLBACK_INTENT = "nlu_fallback"
# Above the FallbackClassifier's threshold (0.5 in config.yml): the near misses count too.
DEFAULT_BELOW = 0.6
MAX_MESSAGES = 1000
# Rasa reads "[text](entity)" and "[text]{...}" in an example as an entity annotation.
_ANNOTATION = re.compile(r"\]([({])")


@dataclass(frozen=True)
class ReviewMessage:
    """One inbound message, its text masked and on one line."""

    at: datetime
    text: str
    intent: str | None  # what Rasa acted on
    predicted_intent: str | None  # the classifier's best guess (None: logged before 0015)
    confidence: float | None

    @property
    def fallback(self) -> bool:
        return self.intent == FALLBACK_INTENT

    @property
    def guess(self) -> str | None:
        """The intent to file the message under in the export."""
        guess = self.predicted_intent or self.intent
        return None if guess == FALLBACK_INTENT else guess

    def to_json(self, tz: ZoneInfo) -> dict[str, Any]:
        return {
            "at": self.at.astimezone(tz).isoformat(timespec="seconds"),
            "text": self.text,
            "intent": self.intent,
            "predicted_intent": self.guess,
            "confidence": self.confidence,
            "fallback": self.fallback,
        }


def messages_to_review(
    session: Session,
    period: Period,
    *,
    tz: ZoneInfo,
    below: float = DEFAULT_BELOW,
    clinic_id: int = DEFAULT_CLINIC_ID,
    limit: int = MAX_MESSAGES,
) -> list[ReviewMessage]:
    """The newest ``limit`` messages of ``period`` to review, newest first."""
    since, until = period.bounds(tz)
    message = ConversationMessage
    rows = session.execute(
        select(
            message.created_at,
            message.text,
            message.intent,
            message.predicted_intent,
            message.confidence,
        )
        .where(
            message.direction == "in",
            message.created_at >= since,
            message.created_at < until,
            func.length(func.trim(message.text)) > 0,
            or_(message.intent == FALLBACK_INTENT, message.confidence < below),
            clinic_scope(message, clinic_id),
        )
        .order_by(message.created_at.desc(), message.id.desc())
        .limit(limit)
    ).all()
    return [
        ReviewMessage(at, " ".join(mask_text(text).split()), intent, predicted, confidence)
        for at, text, intent, predicted, confidence in rows
    ]


@dataclass
class _Example:
    text: str
    messages: int = 0
    fallbacks: int = 0
    confidences: list[float] = field(default_factory=list)
    last: datetime | None = None

    def add(self, message: ReviewMessage) -> None:
        self.messages += 1
        self.fallbacks += message.fallback
        if message.confidence is not None:
            self.confidences.append(message.confidence)
        if self.last is None or message.at > self.last:
            self.last = message.at

    def comment(self, tz: ZoneInfo) -> str:
        parts = []
        if self.confidences:
            parts.append(f"confidence {min(self.confidences):.2f}")
        if self.fallbacks:
            parts.append(f"fallback {self.fallbacks}x")
        parts.append(f"{self.messages} message{'s' if self.messages > 1 else ''}")
        if self.last is not None:
            parts.append(f"last {self.last.astimezone(tz):%Y-%m-%d %H:%M}")
        return ", ".join(parts)

    def sort_key(self) -> tuple[float, str]:
        return (min(self.confidences, default=0.0), self.text)


def _example_text(text: str) -> str:
    """A YAML double-quoted scalar (JSON's escapes are YAML's) Rasa reads as plain text."""
    return json.dumps(_ANNOTATION.sub(r"] \1", text), ensure_ascii=False)


def rasa_nlu_yaml(
    messages: list[ReviewMessage],
    period: Period,
    *,
    below: float,
    tz: ZoneInfo,
    truncated: bool = False,
) -> str:
    """A Rasa NLU training file of ``messages``, one example per distinct text, for review.

    ``truncated``: ``messages`` are only the range's newest (the file says so).
    """
    groups: dict[str | None, dict[str, _Example]] = {}
    for message in messages:
        key = " ".join(message.text.casefold().split())
        examples = groups.setdefault(message.guess, {})
        examples.setdefault(key, _Example(message.text)).add(message)
    lines = [
        f"# Messages the assistant was unsure about, {period.start} to {period.end}: answered",
        f"# with the fallback ({FALLBACK_INTENT}) or predicted with a confidence below "
        f"{below:.2f}.",
        "# Each example sits under the intent the classifier predicted; its comment gives the",
        "# lowest confidence, how often the fallback fired, how many messages had this text and",
        "# the last one's date. Before `rasa train`: move each example to the intent it really",
        "# expresses (or delete it), check that no personal data is left (CPFs and phones are",
        "# masked with *), then copy the examples into data/nlu/.",
        *(
            [f"# Only the newest {len(messages)} messages: export a shorter range for the rest."]
            if truncated
            else []
        ),
        'version: "3.1"',
    ]
    known = sorted(intent for intent in groups if intent is not None)
    lines.append("nlu:" if known else "nlu: []")
    for intent in known:
        lines += [f"- intent: {intent}", "  examples:"]
        for example in sorted(groups[intent].values(), key=_Example.sort_key):
            lines += [f"  # {example.comment(tz)}", f"  - text: {_example_text(example.text)}"]
    if None in groups:
        lines += [
            "# Predicted intent unknown (logged before it was stored): file these by hand.",
            *(
                f"#   - text: {_example_text(example.text)}  # {example.comment(tz)}"
                for example in sorted(groups[None].values(), key=_Example.sort_key)
            ),
        ]
    return "\n".join(lines) + "\n"
