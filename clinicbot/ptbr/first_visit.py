"""The answer to "É a sua primeira consulta na clínica ou é um retorno?"."""

from __future__ import annotations

import re

from clinicbot.ptbr.replies import says_no, says_yes
from clinicbot.ptbr.text import matching_form

_NOT_FIRST = re.compile(
    r"\b(?:nao\s+(?:e\s+)?(?:a\s+)?primeira|retorno|revisao|voltar|volta"
    r"|ja\s+(?:sou|fui|vim|consultei|passei|tive|estive))\b"
)
_FIRST = re.compile(
    r"\b(?:primeira|primeiro\s+atendimento|nunca|sou\s+nov[ao]|paciente\s+nov[ao])\b"
)


def parse_first_visit(text: str) -> bool | None:
    """True for a first visit, False for a return, None when the answer says neither."""
    expression = matching_form(text)
    if _NOT_FIRST.search(expression):
        return False
    if _FIRST.search(expression):
        return True
    if says_yes(text):
        return True
    if says_no(text):
        return False
    return None
