"""PortugueseTokenizer: original text and offsets, folded lemmas, entity-shaped tokens."""

import pytest
import spacy
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.message import Message

from clinicbot.nlu.tokenizer import PortugueseTokenizer
from clinicbot.ptbr.text import ABBREVIATIONS, fold_accents


@pytest.fixture(scope="module")
def tokenizer() -> PortugueseTokenizer:
    return PortugueseTokenizer(PortugueseTokenizer.get_default_config())


def tokenize(tokenizer: PortugueseTokenizer, text: str) -> list:
    return tokenizer.tokenize(Message(data={"text": text}), "text")


def test_fold_accents_lowercases_and_strips_marks_only() -> None:
    assert fold_accents("Não, AMANHÃ às 9h à tarde 😀") == "nao, amanha as 9h a tarde 😀"


def test_tokens_keep_original_text_and_offsets(tokenizer: PortugueseTokenizer) -> None:
    text = "Não consigo amanhã, só às 14h30!"
    tokens = tokenize(tokenizer, text)
    assert [t.text for t in tokens] == ["Não", "consigo", "amanhã", ",", "só", "às", "14h30", "!"]
    assert all(text[t.start : t.end] == t.text for t in tokens)


def test_lemmas_are_folded_and_lemmatized(tokenizer: PortugueseTokenizer) -> None:
    lemmas = {t.text: t.lemma for t in tokenize(tokenizer, "Não marquei consultas amanhã")}
    assert lemmas == {
        "Não": "nao",
        "marquei": "marcar",
        "consultas": "consulto",
        "amanhã": "amanha",
    }


def test_accented_and_unaccented_spellings_share_a_lemma(tokenizer: PortugueseTokenizer) -> None:
    with_accents = [t.lemma for t in tokenize(tokenizer, "não é você")]
    without = [t.lemma for t in tokenize(tokenizer, "nao e voce")]
    assert with_accents[0] == without[0] == "nao"
    assert with_accents[2] == without[2] == "voce"


@pytest.mark.parametrize(
    ("abbreviation", "lemma"),
    [("vc", "voce"), ("qro", "querer"), ("td", "tudo"), ("hj", "hoje"), ("obg", "obrigar")],
)
def test_chat_abbreviations_get_the_lemma_of_the_full_word(
    tokenizer: PortugueseTokenizer, abbreviation: str, lemma: str
) -> None:
    (token,) = tokenize(tokenizer, abbreviation)
    assert token.text == abbreviation
    assert token.lemma == lemma


@pytest.mark.parametrize(
    "value", ["390.533.447-05", "39053344705", "14h30", "14:30", "15/12", "15/12/2025"]
)
def test_entity_shaped_values_stay_one_token(tokenizer: PortugueseTokenizer, value: str) -> None:
    tokens = tokenize(tokenizer, f"é {value}, ok")
    assert value in [t.text for t in tokens]


def test_email_is_one_token(tokenizer: PortugueseTokenizer) -> None:
    tokens = tokenize(tokenizer, "meu email: Ana.Lima@Exemplo.com.br")
    assert tokens[-1].text == "Ana.Lima@Exemplo.com.br"


def test_lemmas_are_spacys_lookup_lemmas(tokenizer: PortugueseTokenizer) -> None:
    """The table read directly gives what spaCy's own lookup lemmatizer gives, word for word
    of the training data (the lemmatizer is not in the pipeline: it is slow to build)."""
    nlp = spacy.blank("pt")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    nlp.initialize()
    words = {
        token.text
        for message in load_data("data/nlu").training_examples
        for token in nlp.tokenizer(message.get("text").lower())
    }
    words -= set(ABBREVIATIONS)  # those are expanded first, on purpose
    assert len(words) > 1000
    spacys = {word: fold_accents(nlp(word)[0].lemma_) for word in words if len(nlp(word)) == 1}
    ours = {word: tokenize(tokenizer, word)[0].lemma for word in spacys}
    assert ours == spacys
