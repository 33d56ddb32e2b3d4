"""Accent folding and chat abbreviations: the forms Portuguese text is compared in."""

from __future__ import annotations

import re
import unicodedata

# Emoji presentation selector: "❤️" is "❤" followed by it.
EMOJI_VARIANT = "\ufe0f"

# Informal WhatsApp spellings mapped to the standard (accent-free) word they stand for.
ABBREVIATIONS: dict[str, str] = {
    "vc": "voce",
    "vcs": "voces",
    "pfv": "por favor",
    "pf": "por favor",
    "pfvr": "por favor",
    "qro": "quero",
    "qr": "quer",
    "q": "que",
    "oq": "o que",
    "td": "tudo",
    "tds": "todos",
    "tb": "tambem",
    "tbm": "tambem",
    "hj": "hoje",
    "amnh": "amanha",
    "amn": "amanha",
    "n": "nao",
    "ñ": "nao",
    "nn": "nao",
    "s": "sim",
    "ss": "sim",
    "pq": "porque",
    "p": "para",
    "pra": "para",
    "pro": "para o",
    "cmg": "comigo",
    "obg": "obrigado",
    "obgd": "obrigado",
    "obgda": "obrigada",
    "vlw": "valeu",
    "blz": "beleza",
    "msg": "mensagem",
    "tô": "estou",
    "to": "estou",
    "ta": "esta",
    "tá": "esta",
    "tah": "esta",
    "eh": "e",
    "agr": "agora",
    "dps": "depois",
    "mt": "muito",
    "mto": "muito",
    "qd": "quando",
    "qdo": "quando",
    "qnd": "quando",
    "qto": "quanto",
    "qnto": "quanto",
    "cel": "celular",
    "add": "adicionar",
    "dr": "doutor",
    "dra": "doutora",
    "seg": "segunda",
    "sab": "sabado",
    "dom": "domingo",
}


def fold_accents(text: str) -> str:
    """Lower-case ``text`` and strip combining marks ("Não é" -> "nao e").

    Characters without a decomposition (emojis, digits) are kept as they are.
    """
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def expand_abbreviation(word: str) -> str:
    """The standard spelling of a chat abbreviation, or ``word`` itself."""
    return ABBREVIATIONS.get(word.lower(), word)


def matching_form(text: str) -> str:
    """Folded, abbreviation-expanded ``text`` with single spaces ("Amnh às 14h" -> "amanha as 14h").

    Punctuation stays: the date and option grammars read "15/12" and "14:30".
    """
    folded = re.sub(r"\w+", lambda m: ABBREVIATIONS.get(m.group(), m.group()), fold_accents(text))
    return " ".join(folded.split())


# Words, and symbols such as emojis; punctuation is dropped.
_WORD_OR_SYMBOL = re.compile(r"\w+|[^\w\s.,;:!?()\[\]\"'\-]")


def normalized_form(text: str) -> str:
    """The form that spelling variants of one message share ("Não, obg!" -> "nao obrigado").

    Accents folded, chat abbreviations expanded, punctuation dropped, emojis kept. The NLU
    benchmark keeps examples with the same form in one fold, so that a variant in training
    does not make its twin in the test fold look understood.
    """
    return " ".join(expand_abbreviation(w) for w in _WORD_OR_SYMBOL.findall(fold_accents(text)))
