"""ClinicEntityExtractor loads its saved CRF taggers instead of training them again."""

import shutil
from pathlib import Path

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.extractors.crf_entity_extractor import CRFEntityExtractor
from rasa.nlu.featurizers.sparse_featurizer.regex_featurizer import RegexFeaturizer
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.message import Message

from clinicbot.nlu.extractor import ClinicEntityExtractor
from clinicbot.nlu.pattern_featurizer import LexicalPatternFeaturizer
from clinicbot.nlu.tokenizer import PortugueseTokenizer
from tests.nlu.test_pipeline import TRAINING_DATA

TEXTS = ["me chamo Joana Prado", "a segunda", "meu cpf é 390.533.447-05", "terça de manhã"]
CONTEXT = ExecutionContext(GraphSchema({}), "test")


def test_a_loaded_extractor_finds_what_the_trained_one_did_without_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_file = tmp_path / "nlu.yml"
    data_file.write_text(TRAINING_DATA, encoding="utf-8")
    data = load_data(str(data_file))
    (tmp_path / "trained").mkdir()
    storage = LocalModelStorage(tmp_path / "trained")
    config = {**ClinicEntityExtractor.get_default_config(), "BILOU_flag": False}
    tokenizer = PortugueseTokenizer(PortugueseTokenizer.get_default_config())
    regex = RegexFeaturizer.create(
        {**RegexFeaturizer.get_default_config(), "case_sensitive": False},
        storage,
        Resource("regex"),
        CONTEXT,
    )
    cues = LexicalPatternFeaturizer()
    tokenizer.process_training_data(data)
    regex.train(data)
    regex.process_training_data(data)
    cues.process_training_data(data)
    trained = ClinicEntityExtractor.create(config, storage, Resource("extractor"), CONTEXT)
    trained.train(data)

    def entities(extractor: CRFEntityExtractor) -> list[list[tuple[str, str]]]:
        messages = [Message(data={"text": text}) for text in TEXTS]
        for step in (tokenizer, regex, cues, extractor):
            messages = step.process(messages)
        return [[(e["entity"], e["value"]) for e in m.get("entities", [])] for m in messages]

    expected = entities(trained)
    assert any(found for found in expected), expected

    # As `rasa run` does: the model in a temporary directory, gone once the graph is loaded.
    copy = tmp_path / "unpacked"
    shutil.copytree(tmp_path / "trained", copy)
    monkeypatch.setattr(CRFEntityExtractor, "train_model", _no_training)
    loaded = ClinicEntityExtractor.load(
        config, LocalModelStorage(copy), Resource("extractor"), CONTEXT
    )
    shutil.rmtree(copy)
    assert entities(loaded) == expected


def _no_training(*args: object, **kwargs: object) -> None:
    raise AssertionError("the CRF was trained again at load")
