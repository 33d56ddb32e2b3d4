"""The components together, in-process: extractor + grammar + normalizer, and message metadata."""

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from rasa.core.channels.channel import UserMessage
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.graph_components.converters.nlu_message_converter import NLUMessageConverter
from rasa.nlu.featurizers.sparse_featurizer.regex_featurizer import RegexFeaturizer
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.message import Message

from clinicbot.nlu.extractor import ClinicEntityExtractor
from clinicbot.nlu.normalizer import EntityNormalizer
from clinicbot.nlu.pattern_featurizer import LexicalPatternFeaturizer
from clinicbot.nlu.tokenizer import PortugueseTokenizer

TRAINING_DATA = """
version: "3.1"
nlu:
- intent: escolher_opcao
  examples: |
    - a [segunda](numero_opcao)
    - a [primeira](numero_opcao)
    - quero a [terceira](numero_opcao)
    - [2](numero_opcao)
    - opção [1](numero_opcao)
    - o [segundo](numero_opcao) horário
- intent: informar_data_hora
  examples: |
    - na [segunda](data)
    - [terça](data) [de manhã](periodo)
    - [amanhã](data) às [10h](hora)
    - [quinta](data) [a tarde](periodo)
- intent: informar_nome
  examples: |
    - me chamo [Ana Lima](nome)
    - meu nome é [carlos souza](nome)
    - [Maria Souza](nome)
- intent: informar_cpf
  examples: |
    - meu cpf é [390.533.447-05](cpf)
    - [111.444.777-35](cpf)
- regex: cpf
  examples: |
    - \\b\\d{3}\\.?\\d{3}\\.?\\d{3}-?\\d{2}\\b
"""
NOW = datetime(2025, 3, 12, 10, 0, tzinfo=ZoneInfo("America/Sao_Paulo"))  # a Wednesday


@pytest.fixture(scope="module")
def parse(tmp_path_factory: pytest.TempPathFactory):
    """Trains the entity part of the pipeline on a small data set; returns a parse function."""
    tmp_path: Path = tmp_path_factory.mktemp("pipeline")
    data_file = tmp_path / "nlu.yml"
    data_file.write_text(TRAINING_DATA, encoding="utf-8")
    data = load_data(str(data_file))
    (tmp_path / "model").mkdir()
    storage = LocalModelStorage(tmp_path / "model")
    context = ExecutionContext(GraphSchema({}), "test")

    def create(component, name: str, **config):
        return component.create(
            {**component.get_default_config(), **config}, storage, Resource(name), context
        )

    tokenizer = PortugueseTokenizer(PortugueseTokenizer.get_default_config())
    regex = create(RegexFeaturizer, "regex", case_sensitive=False)
    cues = LexicalPatternFeaturizer()
    extractor = create(ClinicEntityExtractor, "extractor", BILOU_flag=False)
    normalizer = create(EntityNormalizer, "normalizer")
    tokenizer.process_training_data(data)
    regex.train(data)
    regex.process_training_data(data)
    cues.process_training_data(data)
    extractor.train(data)
    normalizer.train(data)
    normalizer.clock = lambda: NOW
    steps = [tokenizer, regex, cues, extractor, normalizer]

    def run(text: str, metadata: dict | None = None) -> list[tuple[str, object]]:
        messages = [Message(data={"text": text, "metadata": metadata})]
        for step in steps:
            messages = step.process(messages)
        return [(e["entity"], e["value"]) for e in messages[0].get("entities", [])]

    return run


def test_rasa_puts_user_message_metadata_on_the_nlu_message() -> None:
    user_message = UserMessage("a segunda", metadata={"options_offered": True})
    (message,) = NLUMessageConverter.create({}, None, None, None).convert_user_message(
        [user_message]
    )
    assert message.get("metadata") == {"options_offered": True}


def test_dates_times_and_periods_come_normalised(parse) -> None:
    assert parse("pode ser próxima terça às 14h30 ou depois de amanhã à tarde") == [
        ("data", "2025-03-18"),
        ("hora", "14:30"),
        ("data", "2025-03-14"),
        ("periodo", "tarde"),
    ]


def test_cpf_and_cue_introduced_name(parse) -> None:
    assert parse("me chamo joão pedro da silva") == [("nome", "João Pedro da Silva")]
    assert ("cpf", "39053344705") in parse("o cpf é 390.533.447-05")


@pytest.mark.parametrize("text", ["a segunda", "segunda"])
def test_segunda_is_option_two_right_after_options(parse, text: str) -> None:
    assert parse(text, {"options_offered": True}) == [("numero_opcao", 2)]


@pytest.mark.parametrize("text", ["a segunda", "segunda"])
def test_segunda_is_monday_when_no_options_were_offered(parse, text: str) -> None:
    assert parse(text, {"options_offered": False}) == [("data", "2025-03-17")]


@pytest.mark.parametrize("options_offered", [True, False])
def test_weekday_phrases_are_monday_whatever_the_metadata(parse, options_offered: bool) -> None:
    metadata = {"options_offered": options_offered}
    assert parse("na segunda", metadata) == [("data", "2025-03-17")]
    assert parse("segunda-feira", metadata) == [("data", "2025-03-17")]
    assert parse("segunda que vem", metadata) == [("data", "2025-03-17")]
    assert parse("segunda de manhã", metadata) == [("data", "2025-03-17"), ("periodo", "manha")]


def test_segunda_opcao_is_option_two_whatever_the_metadata(parse) -> None:
    for metadata in ({"options_offered": False}, {"options_offered": True}, None):
        assert parse("a segunda opção", metadata) == [("numero_opcao", 2)]
