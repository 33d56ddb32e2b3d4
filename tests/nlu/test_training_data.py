"""Hygiene of the NLU data: no label conflicts, and a held-out set that really is held out."""

from collections import defaultdict
from pathlib import Path

import pytest
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.loading import load_data

from clinicbot.ptbr.text import normalized_form

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def training_forms() -> dict[str, set[str]]:
    """Normalised form of every training example -> the intents it is labelled with."""
    forms: dict[str, set[str]] = defaultdict(set)
    for example in load_data(str(ROOT / "data" / "nlu")).intent_examples:
        forms[normalized_form(example.get(TEXT))].add(example.get(INTENT))
    return forms


def test_normalized_form_merges_spelling_variants_only() -> None:
    assert normalized_form("Não, obg!") == normalized_form("nao obrigado")
    assert normalized_form("até logo 👋") == "ate logo 👋"
    assert normalized_form("vc é robô?") == "voce e robo"
    assert normalized_form("quero marcar") != normalized_form("quero remarcar")


def test_no_message_is_labelled_with_two_intents(training_forms: dict[str, set[str]]) -> None:
    conflicts = {form: sorted(intents) for form, intents in training_forms.items()}
    conflicts = {form: intents for form, intents in conflicts.items() if len(intents) > 1}
    # Punctuation- or emoji-only messages normalise to symbols that may mean different things.
    conflicts.pop("", None)
    assert conflicts == {}


def test_held_out_examples_are_not_in_the_training_data(
    training_forms: dict[str, set[str]],
) -> None:
    held_out = load_data(str(ROOT / "tests" / "nlu" / "test_data.yml")).intent_examples
    leaked = [e.get(TEXT) for e in held_out if normalized_form(e.get(TEXT)) in training_forms]
    assert leaked == []
