"""TfidfIntentClassifier: real confidences and ranking, and a persistence round trip."""

import json
from pathlib import Path

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy import sparse

from clinicbot.nlu.classifier import TfidfIntentClassifier, classifier_input, shape_input
from clinicbot.nlu.intent_model import ARRAYS, ARRAYS_FILE, VECTORIZERS_FILE
from clinicbot.nlu.tokenizer import PortugueseTokenizer

EXAMPLES = {
    "agendar_consulta": [
        "quero marcar uma consulta",
        "gostaria de agendar consulta",
        "preciso marcar com o pediatra",
        "da pra agendar pra amanha?",
        "qro marcar consulta pfv",
        "marcar consulta com dermatologista",
    ],
    "cancelar_consulta": [
        "quero cancelar minha consulta",
        "preciso desmarcar",
        "cancela meu horario por favor",
        "nao vou poder ir, pode cancelar",
        "desmarca pra mim",
        "cancelar o agendamento de amanha",
    ],
    "saudacao": ["oi", "ola, bom dia", "boa tarde", "oi, tudo bem?", "bom dia!", "e ai"],
    "agradecer": ["obrigada", "muito obrigado", "valeu", "obg", "brigadao", "agradeço"],
}
TESTS = ["quero marcar consulta", "pode cancelar a consulta", "oi bom dia", "muito obrigada!"]


@pytest.fixture(scope="module")
def tokenizer() -> PortugueseTokenizer:
    return PortugueseTokenizer(PortugueseTokenizer.get_default_config())


def messages(tokenizer: PortugueseTokenizer, texts: list[str]) -> list[Message]:
    return tokenizer.process([Message(data={"text": text}) for text in texts])


@pytest.fixture()
def trained(tmp_path: Path, tokenizer: PortugueseTokenizer):
    storage = LocalModelStorage(tmp_path)
    resource = Resource("intent_classifier")
    context = ExecutionContext(GraphSchema({}), "test")
    config = TfidfIntentClassifier.get_default_config()
    data = TrainingData(
        [
            Message(data={"text": text, "intent": intent})
            for intent, texts in EXAMPLES.items()
            for text in texts
        ]
    )
    tokenizer.process_training_data(data)
    classifier = TfidfIntentClassifier.create(config, storage, resource, context)
    classifier.train(data)
    return classifier, (config, storage, resource, context)


def test_predicts_intents_with_a_ranking(trained, tokenizer: PortugueseTokenizer) -> None:
    classifier, _ = trained
    parsed = classifier.process(messages(tokenizer, TESTS))
    assert [m.get("intent")["name"] for m in parsed] == [
        "agendar_consulta",
        "cancelar_consulta",
        "saudacao",
        "agradecer",
    ]
    for message in parsed:
        ranking = message.get("intent_ranking")
        confidences = [entry["confidence"] for entry in ranking]
        assert len(ranking) == len(EXAMPLES)
        assert confidences == sorted(confidences, reverse=True)
        assert ranking[0] == message.get("intent")
        assert 0.0 < confidences[-1] < confidences[0] <= 1.0
        assert sum(confidences) == pytest.approx(1.0)


def test_ranking_is_cut_at_ranking_length(trained, tokenizer: PortugueseTokenizer) -> None:
    _, (config, storage, resource, context) = trained
    short = TfidfIntentClassifier.load({**config, "ranking_length": 2}, storage, resource, context)
    (message,) = short.process(messages(tokenizer, ["oi"]))
    assert len(message.get("intent_ranking")) == 2


def test_persistence_round_trip_gives_the_same_predictions(
    trained, tokenizer: PortugueseTokenizer
) -> None:
    classifier, (config, storage, resource, context) = trained
    loaded = TfidfIntentClassifier.load(config, storage, resource, context)
    before = [m.get("intent_ranking") for m in classifier.process(messages(tokenizer, TESTS))]
    after = [m.get("intent_ranking") for m in loaded.process(messages(tokenizer, TESTS))]
    assert after == before


def test_model_files_are_plain_data(trained) -> None:
    """Arrays that load without pickle and JSON: a model file cannot run code."""
    _, (_, storage, resource, _) = trained
    with storage.read_from(resource) as model_dir:
        with np.load(model_dir / ARRAYS_FILE, allow_pickle=False) as saved:
            assert set(saved.files) == set(ARRAYS)
            assert all(saved[name].dtype.kind == "f" for name in saved.files)
        state = json.loads((model_dir / VECTORIZERS_FILE).read_text(encoding="utf-8"))
    assert state["chars"]["params"]["analyzer"] == "char_wb"
    assert all(isinstance(column, int) for column in state["words"]["vocabulary"].values())


def test_untrained_classifier_leaves_messages_alone(tmp_path: Path, tokenizer) -> None:
    context = ExecutionContext(GraphSchema({}), "test")
    config = TfidfIntentClassifier.get_default_config()
    storage = LocalModelStorage(tmp_path)
    classifier = TfidfIntentClassifier.load(config, storage, Resource("missing"), context)
    (message,) = classifier.process(messages(tokenizer, ["oi"]))
    assert message.get("intent") is None


def test_hand_computed_probabilities_equal_sklearns(
    trained, tokenizer: PortugueseTokenizer
) -> None:
    classifier, _ = trained
    model = classifier._model
    parsed = messages(tokenizer, [*TESTS, "xyz", "vc aceita pix?", "nao"])
    texts = [classifier_input(m) for m in parsed]
    shapes = [shape_input(m) for m in parsed]
    reference = model.classifier.predict_proba(
        sparse.hstack(
            [
                model.words.transform(texts),
                model.chars.transform(texts),
                model.shapes.transform(shapes),
            ],
            format="csr",
        )
    )
    assert np.allclose(model.predict_proba(texts, shapes), reference, atol=1e-9)
