"""EntityNormalizer: the contract's normalised values, a frozen clock, persisted synonyms."""

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from clinicbot.nlu.normalizer import EntityNormalizer, cpf_value

NOW = datetime(2025, 3, 12, 10, 0, tzinfo=ZoneInfo("America/Sao_Paulo"))  # a Wednesday
CONFIG = EntityNormalizer.get_default_config()


def annotated(text: str, entity: str, surface: str, value: str) -> Message:
    start = text.index(surface)
    entities = [{"entity": entity, "start": start, "end": start + len(surface), "value": value}]
    return Message(data={"text": text, "intent": "x", "entities": entities})


@pytest.fixture()
def normalizer(tmp_path: Path) -> EntityNormalizer:
    storage = LocalModelStorage(tmp_path)
    resource = Resource("normalizer")
    context = ExecutionContext(GraphSchema({}), "test")
    trainer = EntityNormalizer.create(CONFIG, storage, resource, context)
    trainer.train(
        TrainingData(
            [
                annotated("tem pediatra?", "especialidade", "pediatra", "Pediatria"),
                annotated("quero dermato", "especialidade", "dermato", "Dermatologia"),
                annotated("aceita bradesco saúde?", "convenio", "bradesco saúde", "Bradesco Saúde"),
            ],
            entity_synonyms={"dermatologista": "Dermatologia"},
        )
    )
    loaded = EntityNormalizer.load(CONFIG, storage, resource, context)
    loaded.clock = lambda: NOW
    return loaded


def normalise(
    normalizer: EntityNormalizer, text: str, found: list[tuple[str, str]], metadata=None
) -> list[dict]:
    """Runs the normalizer on ``text`` with extractor output ``(entity, surface)``."""
    entities = []
    for entity, surface in found:
        start = text.index(surface)
        entities.append(
            {
                "entity": entity,
                "start": start,
                "end": start + len(surface),
                "value": surface,
                "extractor": "ClinicEntityExtractor",
            }
        )
    message = Message(data={"text": text, "entities": entities, "metadata": metadata})
    return normalizer.process([message])[0].get("entities")


def test_cpf_digits_and_validity() -> None:
    assert cpf_value("390.533.447-05") == {"value": "39053344705", "valid": True}
    assert cpf_value("390.533.447-06") == {"value": "39053344706", "valid": False}
    assert cpf_value("123") == {"value": "123", "valid": False}


@pytest.mark.parametrize(
    ("text", "entity", "surface", "value"),
    [
        ("meu cpf 390.533.447-05", "cpf", "390.533.447-05", "39053344705"),
        ("email: Ana.Lima@Exemplo.COM", "email", "Ana.Lima@Exemplo.COM", "ana.lima@exemplo.com"),
        ("me chamo ana de souza", "nome", "ana de souza", "Ana de Souza"),
        ("pode ser amanhã", "data", "amanhã", "2025-03-13"),
        ("na segunda que vem", "data", "segunda que vem", "2025-03-17"),
        ("dia 3 de dezembro", "data", "dia 3 de dezembro", "2025-12-03"),
        ("às 14h30", "hora", "14h30", "14:30"),
        ("as 9", "hora", "9", "09:00"),
        ("fim da tarde", "periodo", "fim da tarde", "tarde"),
        ("semana que vem", "data", "semana que vem", {"from": "2025-03-17", "to": "2025-03-23"}),
        ("até sexta", "data", "até sexta", {"from": "2025-03-12", "to": "2025-03-14"}),
        ("mes que vem", "data", "mes que vem", {"from": "2025-04-01", "to": "2025-04-30"}),
        ("depois do almoço", "periodo", "depois do almoço", "depois_do_almoco"),
        ("bem cedo", "periodo", "bem cedo", "cedo"),
        ("no fim do dia", "periodo", "fim do dia", "fim_do_dia"),
        ("opção 3", "numero_opcao", "3", 3),
        ("a terceira", "numero_opcao", "terceira", 3),
    ],
)
def test_values(
    normalizer: EntityNormalizer, text: str, entity: str, surface: str, value: object
) -> None:
    (result,) = normalise(normalizer, text, [(entity, surface)])
    assert result["value"] == value
    assert result["text"] == surface
    assert result["extractor"] == "ClinicEntityExtractor"


def test_bare_hour_reads_the_following_period(normalizer: EntityNormalizer) -> None:
    hora, _ = normalise(normalizer, "as 3 da tarde", [("hora", "3"), ("periodo", "da tarde")])
    assert hora["value"] == "15:00"


def test_cpf_entity_carries_validity(normalizer: EntityNormalizer) -> None:
    (valid,) = normalise(normalizer, "39053344705", [("cpf", "39053344705")])
    (invalid,) = normalise(normalizer, "11111111112", [("cpf", "11111111112")])
    assert valid["valid"] is True
    assert invalid["valid"] is False


@pytest.mark.parametrize(
    ("entity", "surface", "canonical"),
    [
        ("especialidade", "Pediatra", "Pediatria"),
        ("especialidade", "dermatologista", "Dermatologia"),  # from the synonyms
        ("especialidade", "pediatraa", "Pediatria"),  # typo
        ("convenio", "bradesco saude", "Bradesco Saúde"),  # accents
    ],
)
def test_canonical_names_survive_persistence(
    normalizer: EntityNormalizer, entity: str, surface: str, canonical: str
) -> None:
    (result,) = normalise(normalizer, f"tem {surface}?", [(entity, surface)])
    assert result["value"] == canonical


def test_unknown_canonical_name_keeps_the_extracted_value(normalizer: EntityNormalizer) -> None:
    (result,) = normalise(normalizer, "tem cirurgia?", [("especialidade", "cirurgia")])
    assert result["value"] == "cirurgia"


@pytest.mark.parametrize("extracted_as", ["data", "numero_opcao"])
def test_segunda_after_options_is_option_two(
    normalizer: EntityNormalizer, extracted_as: str
) -> None:
    (result,) = normalise(
        normalizer, "a segunda", [(extracted_as, "segunda")], {"options_offered": True}
    )
    assert (result["entity"], result["value"]) == ("numero_opcao", 2)


@pytest.mark.parametrize("extracted_as", ["data", "numero_opcao"])
def test_segunda_without_options_is_monday(normalizer: EntityNormalizer, extracted_as: str) -> None:
    (result,) = normalise(
        normalizer, "a segunda", [(extracted_as, "segunda")], {"options_offered": False}
    )
    assert (result["entity"], result["value"]) == ("data", "2025-03-17")


def test_segunda_feira_is_monday_even_after_options(normalizer: EntityNormalizer) -> None:
    (result,) = normalise(
        normalizer,
        "segunda-feira de manhã",
        [("numero_opcao", "segunda")],
        {"options_offered": True},
    )
    assert (result["entity"], result["value"]) == ("data", "2025-03-17")


def test_ranges_read_the_clinic_clock_across_the_year(normalizer: EntityNormalizer) -> None:
    normalizer.clock = lambda: datetime(2026, 12, 28, 9, 0, tzinfo=ZoneInfo("America/Sao_Paulo"))
    (result,) = normalise(normalizer, "tem horário mês que vem?", [("data", "mês que vem")])
    assert result["value"] == {"from": "2027-01-01", "to": "2027-01-31"}
