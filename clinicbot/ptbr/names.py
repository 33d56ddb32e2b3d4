"""Brazilian personal names: the particles that stay lower-case, and title-casing around them."""

from __future__ import annotations

# Lower-case inside names: "Maria das Dores", "João da Silva".
NAME_PARTICLES: frozenset[str] = frozenset({"da", "das", "de", "do", "dos", "e"})


def title_case_name(name: str) -> str:
    """Capitalise each word but the particles: "ana DE souza" -> "Ana de Souza".

    The first word is capitalised even when it is a particle: it starts the name.
    """
    words = name.split()
    return " ".join(
        word.lower() if index and word.lower() in NAME_PARTICLES else word.capitalize()
        for index, word in enumerate(words)
    )
