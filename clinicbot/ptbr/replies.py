"""Whole-message answers to the assistant's questions: yes, no, or "I'd rather not say".

Yes and no are the phrases of the concept lexicon (:mod:`clinicbot.ptbr.concepts`), so a word
added there for the intent classifier is also understood when it is the whole answer.
"""

from __future__ import annotations

from clinicbot.ptbr.concepts import CONCEPTS
from clinicbot.ptbr.text import EMOJI_VARIANT, normalized_form

# "Pode" alone answers "Posso confirmar?", but inside a message ("pode marcar outro dia?") it
# says neither yes nor no, so it is not a cue of the lexicon.
_YES: frozenset[tuple[str, ...]] = CONCEPTS["yes"] | {("pode",)}
# "nop": a no the lexicon lacks; adding it there would change the trained intent model.
_NO: frozenset[tuple[str, ...]] = CONCEPTS["no"] | {("nop",)}
_NO_REASON: frozenset[tuple[str, ...]] = frozenset(
    {("prefiro", "nao", "dizer"), ("nao", "quero", "dizer")}
)


def _phrase(text: str) -> tuple[str, ...]:
    """``text`` as the lexicon lists phrases: folded, abbreviations expanded, no punctuation."""
    return tuple(normalized_form(text.replace(EMOJI_VARIANT, "")).split())


def says_yes(text: str) -> bool:
    """Whether the whole of ``text`` is a yes ("Sim!", "pode ser", "s", "👍")."""
    return _phrase(text) in _YES


def says_no(text: str) -> bool:
    """Whether the whole of ``text`` is a no ("Não.", "n", "de jeito nenhum", "👎")."""
    return _phrase(text) in _NO


def declines_to_say(text: str) -> bool:
    """Whether ``text`` refuses to answer ("Prefiro não dizer.", "não quero dizer")."""
    return _phrase(text) in _NO_REASON
