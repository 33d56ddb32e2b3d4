"""Whole-message yes, no and "prefiro não dizer"."""

import pytest

from clinicbot.ptbr.concepts import CONCEPTS
from clinicbot.ptbr.replies import declines_to_say, says_no, says_yes


@pytest.mark.parametrize(
    "text", ["sim", "Sim!", "s", "ok", "pode", "Pode ser.", "claro", "confirmo", "isso", "👍", "👍️"]
)
def test_yes(text: str) -> None:
    assert says_yes(text)
    assert not says_no(text)


@pytest.mark.parametrize("text", ["não", "Nao.", "n", "nop", "negativo", "de jeito nenhum", "👎"])
def test_no(text: str) -> None:
    assert says_no(text)
    assert not says_yes(text)


@pytest.mark.parametrize("text", ["sim, mas outro dia", "pode marcar sexta?", "talvez", ""])
def test_a_longer_or_other_message_is_neither(text: str) -> None:
    assert not says_yes(text)
    assert not says_no(text)


def test_the_lexicon_never_lists_a_phrase_as_both_yes_and_no() -> None:
    assert not CONCEPTS["yes"] & CONCEPTS["no"]


@pytest.mark.parametrize("text", ["Prefiro não dizer.", "prefiro nao dizer", "não quero dizer!"])
def test_declining_to_give_a_reason(text: str) -> None:
    assert declines_to_say(text)


def test_a_reason_is_not_declining() -> None:
    assert not declines_to_say("não vou estar na cidade")
