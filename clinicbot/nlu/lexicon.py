"""Portuguese calendar and number words, accent-folded like `text.fold_accents` output."""

from __future__ import annotations

WEEKDAYS: dict[str, int] = {
    "segunda": 0,
    "terca": 1,
    "quarta": 2,
    "quinta": 3,
    "sexta": 4,
    "sabado": 5,
    "domingo": 6,
}

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


# Lower-case inside names: "Maria das Dores", "João da Silva".
NAME_PARTICLES: frozenset[str] = frozenset({"da", "das", "de", "do", "dos", "e"})


def alternation(words: dict[str, int] | frozenset[str]) -> str:
    """A regex alternation of ``words``, longest first so that "janeiro" wins over "jan"."""
    return "|".join(sorted(words, key=len, reverse=True))
