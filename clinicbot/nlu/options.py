"""Option numbers ("2", "a segunda", "terceira opção") and the weekday/ordinal homonyms."""

from __future__ import annotations

import re

from clinicbot.ptbr.text import matching_form
from clinicbot.ptbr.words import CARDINALS, ORDINALS, WEEKDAY_ORDINAL_HOMONYMS, alternation

DATE = "data"
OPTION = "numero_opcao"

_DIGIT = re.compile(r"\b(\d{1,2})(?:a|o)?\b")
_ORDINAL = re.compile(rf"\b({alternation(ORDINALS)})\b")
_CARDINAL = re.compile(rf"\b({alternation(CARDINALS)})\b")
_HOMONYM = re.compile(rf"\b({alternation(WEEKDAY_ORDINAL_HOMONYMS)})\b")

# Context that makes a homonym a weekday: "segunda-feira", "segunda que vem", "na segunda",
# "próxima segunda", "segunda de manhã", "segunda às 10", "segunda dia 3".
_WEEKDAY_BEFORE = re.compile(r"\b(?:na|nessa|nesta|essa|esta|dia|ate|toda|proxima|ou)\s*$")
_WEEKDAY_AFTER = re.compile(
    r"^\s*(?:-?\s*feira|que\s+vem|da\s+semana|da\s+proxima|de\s+(?:manha|tarde|noite)"
    r"|a\s+(?:tarde|noite)|cedo|as\s+\d|\d{1,2}\s*(?:h|:)|dia\s+\d|ou\s+(?:terca|quarta|quinta|sexta))"
)
# Context that makes it an ordinal: "segunda opção", "a segunda da lista", "segundo horário".
_OPTION_AFTER = re.compile(r"^\s*(?:opcao|opcoes|op|alternativa|horario|da\s+lista|que\s+voce)")


def parse_option_number(text: str) -> int | None:
    """The option number in ``text``: a digit ("2", "2ª"), an ordinal or a cardinal word."""
    expression = matching_form(text)
    for pattern, lookup in ((_DIGIT, None), (_ORDINAL, ORDINALS), (_CARDINAL, CARDINALS)):
        if match := pattern.search(expression):
            word = match.group(1)
            return int(word) if lookup is None else lookup[word]
    return None


def weekday_or_option(
    message_text: str, start: int, end: int | None, options_offered: bool | None
) -> str | None:
    """Decide whether the span ``message_text[start:end]`` is a date or an option number.

    Only spans holding a weekday/ordinal homonym ("segunda", "quarta", "quinta", "sexta") get
    a decision. Context inside the message wins ("segunda-feira", "na segunda" -> date;
    "segunda opção" -> option). A bare "segunda"/"a segunda" is an option when the bot has
    just offered options, a date when it has not; when the caller does not know
    (``options_offered`` is None) the function returns None and the extractor's label stands.
    """
    span = matching_form(message_text[start:end])
    homonym = _HOMONYM.search(span)
    if homonym is None:
        return None
    before = f"{matching_form(message_text[:start])} {span[: homonym.start()]}"
    after = f"{span[homonym.end() :]} {matching_form(message_text[end:])}"
    if _OPTION_AFTER.search(after):
        return OPTION
    if _WEEKDAY_BEFORE.search(before) or _WEEKDAY_AFTER.search(after):
        return DATE
    if options_offered is None:
        return None
    return OPTION if options_offered else DATE
