"""The date/time/period/name grammar follows the span conventions of data/nlu/datetime.yml."""

import pytest

from clinicbot.nlu.spans import find_datetime_spans, find_name_spans


def spans(text: str) -> list[tuple[str, str]]:
    return [(s.entity, text[s.start : s.end]) for s in find_datetime_spans(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("na segunda de manhã", [("data", "segunda"), ("periodo", "de manhã")]),
        ("próxima terça às 10h", [("data", "próxima terça"), ("hora", "10h")]),
        ("sexta-feira que vem", [("data", "sexta-feira que vem")]),
        ("no dia 15 às 14h", [("data", "dia 15"), ("hora", "14h")]),
        ("dia 3 de dezembro às 10 e meia", [("data", "dia 3 de dezembro"), ("hora", "10 e meia")]),
        ("pode ser 15/12?", [("data", "15/12")]),
        ("depois de amanhã", [("data", "depois de amanhã")]),
        ("as 3 da tarde", [("hora", "3"), ("periodo", "da tarde")]),
        ("hj a noite", [("data", "hj"), ("periodo", "a noite")]),
        ("no fim da tarde", [("periodo", "fim da tarde")]),
        ("ao meio-dia", [("hora", "meio-dia")]),
        ("para semana que vem de manhã", [("data", "semana que vem"), ("periodo", "de manhã")]),
        ("pode ser no começo da semana que vem", [("data", "começo da semana que vem")]),
        ("lá pro fim do mês", [("data", "fim do mês")]),
        ("a partir de segunda", [("data", "a partir de segunda")]),
        ("até sexta depois do almoço", [("data", "até sexta"), ("periodo", "depois do almoço")]),
        (
            "depois do dia 10 no fim do dia",
            [("data", "depois do dia 10"), ("periodo", "fim do dia")],
        ),
        ("daqui a 15 dias bem cedo", [("data", "daqui a 15 dias"), ("periodo", "bem cedo")]),
        ("sexta da semana que vem", [("data", "sexta da semana que vem")]),
        ("no fim de semana", [("data", "fim de semana")]),
        ("qualquer horário serve", [("periodo", "qualquer horário")]),
        ("qualquer horário pela manhã", [("periodo", "pela manhã")]),
        ("o mais cedo possível", [("periodo", "mais cedo possível")]),
    ],
)
def test_datetime_spans(text: str, expected: list[tuple[str, str]]) -> None:
    assert spans(text) == expected


@pytest.mark.parametrize(
    "text",
    ["boa tarde", "boa noite, obrigado", "até mais tarde", "bom fim de semana", "mais cedo", "2"],
)
def test_not_annotated_by_convention(text: str) -> None:
    assert spans(text) == []


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("me chamo joão pedro da silva", "joão pedro da silva"),
        ("meu nome é Ana Lima, tudo bem?", "Ana Lima"),
        ("nome: ISABELA MOTA", "ISABELA MOTA"),
        ("sou a carla mendes", "carla mendes"),
        ("me chamo Ana Paula e sou paciente de vcs", "Ana Paula"),
    ],
)
def test_cue_introduced_names(text: str, name: str) -> None:
    (span,) = find_name_spans(text)
    assert (span.entity, text[span.start : span.end]) == ("nome", name)


@pytest.mark.parametrize("text", ["sou a paciente nova", "eu sou eu", "Ana Lima"])
def test_no_name_without_a_cue_or_with_a_non_name(text: str) -> None:
    assert find_name_spans(text) == []
