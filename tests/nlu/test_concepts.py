"""The concept lexicon and the cue tokens the intent classifier adds to every message."""

from rasa.shared.nlu.training_data.message import Message

from clinicbot.nlu.classifier import classifier_input, cue_tokens
from clinicbot.nlu.concepts import CONCEPTS, concept_cues, is_symbols_only
from clinicbot.nlu.pattern_featurizer import LexicalPatternFeaturizer
from clinicbot.nlu.text import fold_accents
from clinicbot.nlu.tokenizer import PortugueseTokenizer


def parsed(text: str) -> Message:
    message = Message(data={"text": text})
    PortugueseTokenizer(PortugueseTokenizer.get_default_config()).process([message])
    LexicalPatternFeaturizer().process([message])
    return message


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


def test_cues_fold_accents_expand_abbreviations_and_read_token_patterns() -> None:
    cues = cue_tokens(parsed("Não, obg! Pode ser sexta às 10h?"))
    assert {"_c_no_", "_c_thanks_", "_c_yes_"} <= set(cues)
    assert {"_p_weekday_", "_p_clock_"} <= set(cues)
    assert not any(cue.startswith("_p_word") for cue in cues)
    assert cue_tokens(parsed("❤️")) == ["_c_thanks_", "_symbols_"]


def test_the_classifier_sees_lemmas_words_and_cues() -> None:
    text = classifier_input(parsed("vc aceita pix?"))
    assert "voce" in text and "pix" in text and "_c_money_" in text
