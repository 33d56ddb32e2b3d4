"""Portuguese calendar and number words.

The lookup tables are keyed by accent-folded words, as :func:`clinicbot.ptbr.text.fold_accents`
writes them ("terca", "marco"), and map to numbers.
"""

from __future__ import annotations

from clinicbot.ptbr.text import fold_accents

# As patients read them, in ``date.weekday()`` order (Monday first).
WEEKDAY_NAMES: tuple[str, ...] = (
    "segunda",
    "terça",
    "quarta",
    "quinta",
    "sexta",
    "sábado",
    "domingo",
)
# In full, Monday to Friday are "-feira" days ("segunda-feira"); "sábado" and "domingo" are not.
FULL_WEEKDAY_NAMES: tuple[str, ...] = tuple(
    f"{name}-feira" if index < 5 else name for index, name in enumerate(WEEKDAY_NAMES)
)
WEEKDAYS: dict[str, int] = {fold_accents(name): index for index, name in enumerate(WEEKDAY_NAMES)}

MONTHS: dict[str, int] = {
    "janeiro": 1,
    "jan": 1,
    "fevereiro": 2,
    "fev": 2,
    "marco": 3,
    "mar": 3,
    "abril": 4,
    "abr": 4,
    "maio": 5,
    "mai": 5,
    "junho": 6,
    "jun": 6,
    "julho": 7,
    "jul": 7,
    "agosto": 8,
    "ago": 8,
    "setembro": 9,
    "set": 9,
    "outubro": 10,
    "out": 10,
    "novembro": 11,
    "nov": 11,
    "dezembro": 12,
    "dez": 12,
}

CARDINALS: dict[str, int] = {
    "um": 1,
    "uma": 1,
    "dois": 2,
    "duas": 2,
    "tres": 3,
    "quatro": 4,
    "cinco": 5,
    "seis": 6,
    "sete": 7,
    "oito": 8,
    "nove": 9,
    "dez": 10,
    "onze": 11,
    "doze": 12,
}

# Feminine and masculine ordinals ("a segunda", "o terceiro horário").
ORDINALS: dict[str, int] = {
    stem + ending: value
    for stem, value in (
        ("primeir", 1),
        ("segund", 2),
        ("terceir", 3),
        ("quart", 4),
        ("quint", 5),
        ("sext", 6),
        ("setim", 7),
        ("oitav", 8),
        ("non", 9),
        ("decim", 10),
    )
    for ending in ("a", "o")
}

# Words that are both a weekday and an ordinal: "segunda" is Monday or "the second one".
WEEKDAY_ORDINAL_HOMONYMS: frozenset[str] = frozenset(WEEKDAYS) & frozenset(ORDINALS)


def alternation(words: dict[str, int] | frozenset[str]) -> str:
    """A regex alternation of ``words``, longest first so that "janeiro" wins over "jan"."""
    return "|".join(sorted(words, key=len, reverse=True))
