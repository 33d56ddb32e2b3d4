"""The concept lexicon: its entries' form and the cues it finds in a message's words."""

from clinicbot.ptbr.concepts import CONCEPTS, concept_cues, is_symbols_only
from clinicbot.ptbr.text import fold_accents


def test_lexicon_entries_are_in_the_form_they_are_matched_in() -> None:
    for phrases in CONCEPTS.values():
        for phrase in phrases:
            assert phrase and all(word == fold_accents(word) for word in phrase), phrase


def test_words_never_seen_in_training_still_name_their_concept() -> None:
    assert concept_cues(["jamais"]) == ["_c_no_"]
    assert concept_cues(["bjs"]) == ["_c_farewell_"]
    assert concept_cues(["salve"]) == ["_c_greeting_"]


def test_the_longest_phrase_wins_and_counts_once() -> None:
    assert concept_cues(["nao", "precisa"]) == ["_c_no_"]
    assert concept_cues(["de", "jeito", "nenhum"]) == ["_c_no_"]
    assert concept_cues(["bom", "dia"]) == ["_c_greeting_"]


def test_laughter_of_any_length() -> None:
    for word in ("kkkkkkk", "hahaha", "hehe", "rsrs"):
        assert "_c_laughter_" in concept_cues([word])
    assert concept_cues(["kiko"]) == []


def test_symbols_only() -> None:
    assert is_symbols_only("...")
    assert is_symbols_only("👍👍")
    assert not is_symbols_only("ok 👍")
    assert not is_symbols_only("3")
