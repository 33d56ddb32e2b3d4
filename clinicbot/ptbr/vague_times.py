"""Vague times of day ("cedo", "depois do almoço", "fim do dia") and the key each one names.

The keys are ``periodo`` values beside ``manha``/``tarde``/``noite``; the clinic's windows of
start times for every key are in ``clinic.yml`` (``time_windows``). The pattern runs on
accent-folded text, both to find spans and to resolve them.
"""

from __future__ import annotations

import re

from clinicbot.ptbr.text import matching_form

VAGUE_TIME_PATTERN = re.compile(
    r"\b(?:"
    r"(?P<mais_cedo_possivel>mais\s+cedo\s+possivel)"
    r"|(?P<cedo>(?:bem\s+)?(?<!mais\s)(?:cedo|cedinho))"
    r"|(?P<almoco>hor(?:ario|a)\s+d[oe]\s+almoco)"
    r"|(?P<depois_do_almoco>(?:depois|dps|apos)\s+d?o\s+almoco)"
    r"|(?P<fim_do_dia>(?:fim|final)\s+do\s+dia)"
    r"|(?P<mais_tarde>(?<!ate\s)mais\s+tarde)"
    r"|(?P<qualquer>qualquer\s+hor(?:ario|a))"
    r")\b"
)
VAGUE_TIMES: tuple[str, ...] = tuple(VAGUE_TIME_PATTERN.groupindex)


def parse_vague_time(text: str) -> str | None:
    """The key of the vague time in ``text`` ("depois do almoço" -> ``depois_do_almoco``)."""
    match = VAGUE_TIME_PATTERN.search(matching_form(text))
    return match.lastgroup if match else None
