"""Option numbers, and "segunda" = Monday or "the second one"."""

import pytest

from clinicbot.nlu.options import DATE, OPTION, parse_option_number, weekday_or_option


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2", 2),
        ("opção 3", 3),
        ("a 2ª", 2),
        ("o 1º", 1),
        ("a segunda", 2),
        ("terceira opção", 3),
        ("o quinto", 5),
        ("a dois", 2),
        ("a última", None),
    ],
)
def test_parse_option_number(text: str, expected: int | None) -> None:
    assert parse_option_number(text) == expected


def decide(message: str, word: str, options_offered: bool | None) -> str | None:
    start = message.index(word)
    return weekday_or_option(message, start, start + len(word), options_offered)


@pytest.mark.parametrize("message", ["a segunda", "segunda", "quero a segunda", "a quinta"])
def test_bare_homonym_is_an_option_right_after_options(message: str) -> None:
    word = message.split()[-1]
    assert decide(message, word, options_offered=True) == OPTION


@pytest.mark.parametrize("message", ["a segunda", "segunda", "a sexta"])
def test_bare_homonym_is_a_weekday_when_no_options_were_offered(message: str) -> None:
    word = message.split()[-1]
    assert decide(message, word, options_offered=False) == DATE


def test_bare_homonym_without_context_is_left_to_the_extractor() -> None:
    assert decide("a segunda", "segunda", options_offered=None) is None


@pytest.mark.parametrize(
    "message",
    [
        "na segunda",
        "segunda-feira",
        "segunda que vem",
        "segunda de manhã",
        "próxima segunda",
        "quinta às 10h",
        "segunda ou terça",
    ],
)
@pytest.mark.parametrize("options_offered", [True, False, None])
def test_weekday_context_wins_over_metadata(message: str, options_offered: bool | None) -> None:
    word = "quinta" if "quinta" in message else "segunda"
    assert decide(message, word, options_offered) == DATE


@pytest.mark.parametrize("message", ["segunda opção", "a segunda opcao", "quarta alternativa"])
@pytest.mark.parametrize("options_offered", [True, False, None])
def test_option_context_wins_over_metadata(message: str, options_offered: bool | None) -> None:
    word = "quarta" if "quarta" in message else "segunda"
    assert decide(message, word, options_offered) == OPTION


def test_words_that_are_not_homonyms_get_no_decision() -> None:
    assert decide("terça", "terça", options_offered=True) is None
    assert decide("a terceira", "terceira", options_offered=False) is None


def test_weekday_suffix_inside_the_span_decides() -> None:
    assert weekday_or_option("segunda-feira", 0, 13, options_offered=True) == DATE
