"""Entity extractor: Rasa's CRF corrected by a grammar for dates, times, periods and names."""

from __future__ import annotations

import shutil
from collections import OrderedDict
from pathlib import Path
from typing import Any

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import ENTITY_ATTRIBUTE_CONFIDENCE_TYPE
from rasa.nlu.extractors.crf_entity_extractor import CRFEntityExtractor, CRFToken
from rasa.shared.nlu.constants import (
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_TYPE,
    ENTITY_ATTRIBUTE_VALUE,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.utils.io import read_json_file
from sklearn_crfsuite import CRF

from clinicbot.nlu.options import OPTION
from clinicbot.nlu.spans import Span, find_datetime_spans, find_name_spans
from clinicbot.ptbr.names import could_be_name, is_shouted, without_remark
from clinicbot.ptbr.text import fold_accents
from clinicbot.ptbr.words import WEEKDAY_ORDINAL_HOMONYMS

GRAMMAR_ENTITIES = frozenset({"data", "hora", "periodo"})
NAME = "nome"


def _tagger_file(tag_name: str) -> str:
    return f"crf_{tag_name}.crfsuite"


def _saved_tagger(path: Path) -> CRF:
    """A CRF tagger read from its model file now (the model's directory is temporary)."""
    if not path.is_file():
        raise FileNotFoundError(path)
    tagger = CRF(model_filename=str(path))
    tagger.tagger_  # noqa: B018  (opens the file: CRFsuite reads it whole into memory)
    return tagger


def _span(entity: dict[str, Any]) -> Span:
    return Span(
        entity[ENTITY_ATTRIBUTE_TYPE], entity[ENTITY_ATTRIBUTE_START], entity[ENTITY_ATTRIBUTE_END]
    )


def _entity(span: Span, text: str) -> dict[str, Any]:
    return {
        ENTITY_ATTRIBUTE_TYPE: span.entity,
        ENTITY_ATTRIBUTE_START: span.start,
        ENTITY_ATTRIBUTE_END: span.end,
        ENTITY_ATTRIBUTE_VALUE: text[span.start : span.end],
        ENTITY_ATTRIBUTE_CONFIDENCE_TYPE: 1.0,
    }


def _replace_overlapping(
    entities: list[dict[str, Any]], span: Span, text: str
) -> list[dict[str, Any]]:
    return [e for e in entities if not _span(e).overlaps(span)] + [_entity(span, text)]


def merge_with_grammar(text: str, learned: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The CRF's entities corrected by the grammar of :mod:`clinicbot.nlu.spans`.

    Dates, times and periods come from the grammar alone: it matches the data's span
    conventions exactly (perfect precision and recall on them), while the CRF clips "próxima
    terça" to "terça" or misses an unseen "03/01". The exception is a bare weekday/ordinal
    homonym the CRF labelled ``numero_opcao`` ("a segunda" after a list of options).
    A cue-introduced name ("me chamo joão pedro da silva") replaces an overlapping CRF name or
    option (the CRF's name boundaries are less reliable) and adds one the CRF missed; the
    CRF's other names are checked by :func:`_learned_name_checked`.
    """
    kept = [e for e in learned if e[ENTITY_ATTRIBUTE_TYPE] not in GRAMMAR_ENTITIES]
    options = [_span(e) for e in kept if e[ENTITY_ATTRIBUTE_TYPE] == OPTION]
    for span in find_datetime_spans(text):
        homonym = fold_accents(text[span.start : span.end]) in WEEKDAY_ORDINAL_HOMONYMS
        if not (homonym and any(option.overlaps(span) for option in options)):
            kept = _replace_overlapping(kept, span, text)
    cued = find_name_spans(text)
    for span in cued:
        overlapping = [_span(e) for e in kept if _span(e).overlaps(span)]
        if all(other.entity in (NAME, OPTION) for other in overlapping):
            kept = _replace_overlapping(kept, span, text)
    kept = [
        checked
        for entity in kept
        if (checked := _learned_name_checked(entity, text, cued)) is not None
    ]
    return sorted(kept, key=lambda e: e[ENTITY_ATTRIBUTE_START])


def _learned_name_checked(
    entity: dict[str, Any], text: str, cued: list[Span]
) -> dict[str, Any] | None:
    """A CRF name without the remark after a comma ("Ana Lima, pode ser com y"); None for
    one holding words of a request, or in a request typed in capitals ("QUERO REMARCAR MINHA
    CONSULTA": the CRF reads capitalised words as a name; "JOSÉ CARLOS PEREIRA" stays a name).
    Cue-introduced names are kept as the grammar found them."""
    if entity[ENTITY_ATTRIBUTE_TYPE] != NAME or _span(entity) in cued:
        return entity
    start, end = entity[ENTITY_ATTRIBUTE_START], entity[ENTITY_ATTRIBUTE_END]
    name = without_remark(text[start:end])
    if not name or not could_be_name(name) or (is_shouted(text) and not could_be_name(text)):
        return None
    if len(name) == end - start:
        return entity
    return _entity(Span(NAME, start, start + len(name)), text)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class ClinicEntityExtractor(CRFEntityExtractor):
    """``CRFEntityExtractor`` (same config and training) plus the date grammar.

    The CRF still trains on every annotation, so it learns that date words are not names;
    at parse time its output is corrected by :func:`merge_with_grammar`.

    Rasa 3.6 persists the CRF as its training set and trains it again on every load (a
    third of a second to seconds of each rasa start). This also saves each trained tagger
    as CRFsuite's own model file (weights and labels, no code) and loads those instead.
    """

    def persist(self, dataset: list[list[CRFToken]]) -> None:
        super().persist(dataset)
        with self._model_storage.write_to(self._resource) as model_dir:
            for tag_name, tagger in self.entity_taggers.items():
                shutil.copyfile(tagger.modelfile.name, model_dir / _tagger_file(tag_name))

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> CRFEntityExtractor:
        """The saved taggers; without them (an untrained resource), Rasa's load."""
        try:
            with model_storage.read_from(resource) as model_dir:
                crf_order = read_json_file(model_dir / "crf_order.json")
                taggers = OrderedDict(
                    (tag_name, _saved_tagger(model_dir / _tagger_file(tag_name)))
                    for tag_name in crf_order
                )
        except (ValueError, FileNotFoundError):
            return super().load(config, model_storage, resource, execution_context, **kwargs)
        extractor = cls(config, model_storage, resource, taggers)
        extractor.crf_order = crf_order
        return extractor

    def extract_entities(self, message: Message) -> list[dict[str, Any]]:
        """CRF entities merged with the grammar's spans."""
        return merge_with_grammar(message.get(TEXT), super().extract_entities(message))
