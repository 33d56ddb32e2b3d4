"""The grammar's corrections to the CRF's names: shouting, remarks after a comma."""

from clinicbot.nlu.extractor import merge_with_grammar


def crf_name(text: str, surface: str) -> dict:
    start = text.index(surface)
    return {"entity": "nome", "start": start, "end": start + len(surface), "value": surface}


def names(text: str, learned: list[dict]) -> list[str]:
    return [
        text[e["start"] : e["end"]]
        for e in merge_with_grammar(text, learned)
        if e["entity"] == "nome"
    ]


def test_a_message_in_capitals_is_not_a_name() -> None:
    text = "QUERO REMARCAR MINHA CONSULTA"
    assert names(text, [crf_name(text, "REMARCAR MINHA CONSULTA")]) == []


def test_a_name_typed_in_capitals_is_kept() -> None:
    text = "JOSÉ CARLOS PEREIRA"
    assert names(text, [crf_name(text, text)]) == [text]
    shouted = "NOME: MARCOS PAULO SILVA"
    assert names(shouted, [crf_name(shouted, "MARCOS PAULO SILVA")]) == ["MARCOS PAULO SILVA"]


def test_a_name_beside_a_shouted_request_is_dropped() -> None:
    text = "QUERO MARCAR PRA ANA LIMA"
    assert names(text, [crf_name(text, "ANA LIMA")]) == []


def test_a_cue_introduced_name_in_capitals_is_kept() -> None:
    assert names("MEU NOME É ANA LIMA", []) == ["ANA LIMA"]


def test_the_remark_after_a_comma_is_not_part_of_the_name() -> None:
    text = "Ana Lima, pode ser com y"
    assert names(text, [crf_name(text, "Ana Lima, pode")]) == ["Ana Lima"]
    cued = "me chamo Ana Lima, pode ser com y"
    assert names(cued, [crf_name(cued, "Ana Lima, pode")]) == ["Ana Lima"]


def test_request_words_are_no_name() -> None:
    text = "quero marcar consulta"
    assert names(text, [crf_name(text, "marcar consulta")]) == []


def test_an_ordinary_name_stays() -> None:
    text = "Maria das Dores Souza"
    assert names(text, [crf_name(text, text)]) == [text]
