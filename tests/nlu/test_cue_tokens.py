"""The cue tokens the intent classifier adds to every message (concepts, token patterns)."""

from rasa.shared.nlu.training_data.message import Message

from clinicbot.nlu.classifier import classifier_input, cue_tokens
from clinicbot.nlu.pattern_featurizer import LexicalPatternFeaturizer
from clinicbot.nlu.tokenizer import PortugueseTokenizer


def parsed(text: str) -> Message:
    message = Message(data={"text": text})
    PortugueseTokenizer(PortugueseTokenizer.get_default_config()).process([message])
    LexicalPatternFeaturizer().process([message])
    return message


def test_cues_fold_accents_expand_abbreviations_and_read_token_patterns() -> None:
    cues = cue_tokens(parsed("Não, obg! Pode ser sexta às 10h?"))
    assert {"_c_no_", "_c_thanks_", "_c_yes_"} <= set(cues)
    assert {"_p_weekday_", "_p_clock_"} <= set(cues)
    assert not any(cue.startswith("_p_word") for cue in cues)
    assert cue_tokens(parsed("❤️")) == ["_c_thanks_", "_symbols_"]


def test_the_classifier_sees_lemmas_words_and_cues() -> None:
    text = classifier_input(parsed("vc aceita pix?"))
    assert "voce" in text and "pix" in text and "_c_money_" in text
