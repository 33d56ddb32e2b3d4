"""Brazilian personal names: the particles that stay lower-case, and title-casing around them."""

from __future__ import annotations

import re

from clinicbot.ptbr.text import fold_accents

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


# What follows a name after a comma or a dash is a remark: "Ana Lima, pode ser com y".
_REMARK = re.compile(r"\s*(?:[,;(\n]|\s[-–—]\s|\.\s).*$", re.DOTALL)
# Words of a request, never of a name: a shouted "QUERO REMARCAR MINHA CONSULTA" is no name.
NOT_NAME_WORDS: frozenset[str] = frozenset(
    {"quero", "queria", "gostaria", "preciso", "pode", "poderia", "posso", "tem", "ter"}
    | {"marcar", "remarcar", "desmarcar", "agendar", "reagendar", "cancelar", "mudar", "trocar"}
    | {"consulta", "consultas", "horario", "horarios", "agenda", "vaga", "exame", "medico"}
    | {"minha", "meu", "sua", "seu", "uma", "um", "o", "a", "os", "as", "para", "pra", "com"}
    | {"sim", "nao", "oi", "ola", "bom", "boa", "dia", "tarde", "noite", "obrigado", "obrigada"}
    | {"por", "favor", "que", "eu", "voce", "ser", "qual", "quando", "onde", "como", "ajuda"}
)


def without_remark(text: str) -> str:
    """The name before a remark: "Ana Lima, pode ser com y" -> "Ana Lima"."""
    return _REMARK.sub("", text.strip())


def is_shouted(text: str) -> bool:
    """Whether every letter of ``text`` is a capital (and it has at least two words)."""
    letters = [char for char in text if char.isalpha()]
    return len(text.split()) > 1 and bool(letters) and all(char.isupper() for char in letters)


def could_be_name(text: str) -> bool:
    """False when a word of ``text`` is one of a request ("quero", "consulta", "remarcar")."""
    return not any(fold_accents(word) in NOT_NAME_WORDS for word in re.findall(r"\w+", text))
