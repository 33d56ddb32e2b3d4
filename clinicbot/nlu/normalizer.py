"""Adds the contract's normalised values to the entities the extractors found."""

from __future__ import annotations

import difflib
import json
import logging
from collections.abc import Callable, Mapping
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_TYPE,
    ENTITY_ATTRIBUTE_VALUE,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from clinicbot.clock import now
from clinicbot.nlu.options import DATE, OPTION, parse_option_number, weekday_or_option
from clinicbot.ptbr.cpf import cpf_digits, is_valid_cpf
from clinicbot.ptbr.date_ranges import parse_date_range
from clinicbot.ptbr.dates import parse_date_expression, parse_period, parse_time_expression
from clinicbot.ptbr.names import title_case_name
from clinicbot.ptbr.text import fold_accents
from clinicbot.ptbr.vague_times import parse_vague_time
from clinicbot.settings import get_settings
from clinicbot.tenancy.current import UnknownClinic, clinic_config

logger = logging.getLogger(__name__)

SYNONYMS_FILE = "canonical_values.json"

Clock = Callable[[], datetime]


def message_tz(metadata: Mapping[str, Any] | None) -> ZoneInfo:
    """The wall clock a message's dates are read on: its clinic's (``clinic_id`` in the
    metadata of a WhatsApp turn), else the default clinic's (``CLINIC_TZ``). "amanhã" written
    at 23:30 in Manaus is already the day after tomorrow in São Paulo."""
    clinic_id = (metadata or {}).get("clinic_id")
    if clinic_id is None:
        return get_settings().clinic_tz
    try:
        return clinic_config(int(clinic_id)).tz
    except UnknownClinic:
        logger.warning("message of unknown clinic %s: dates read on CLINIC_TZ", clinic_id)
        return get_settings().clinic_tz


def _date_value(surface: str, today: date) -> str | dict[str, str] | None:
    """A range as ``{"from": ISO, "to": ISO}``, a single day as its ISO date."""
    if (days := parse_date_range(surface, today)) is not None:
        return days.as_value()
    day = parse_date_expression(surface, today)
    return day.isoformat() if day else None


def cpf_value(text: str) -> dict[str, Any]:
    """Digits only, plus whether the check digits are right."""
    return {ENTITY_ATTRIBUTE_VALUE: cpf_digits(text), "valid": is_valid_cpf(text)}


def _bare_hour(surface: str, following: str) -> time | None:
    """A bare number tagged as a time: "às [3](hora) da tarde" -> 15:00."""
    next_words = " ".join(following.split()[:2])
    return parse_time_expression(f"às {surface} {next_words}")


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class EntityNormalizer(GraphComponent):
    """Resolves entity values; it finds no entities itself, so put it after the extractors.

    For every entity it keeps the matched text under ``text`` and puts the normalised value in
    ``value``: CPF digits (+ ``valid``), ISO date relative to the clinic clock (a range as
    ``{"from": ISO, "to": ISO}``), ``HH:MM``, ``manha``/``tarde``/``noite`` or a vague time's
    key (:mod:`clinicbot.ptbr.vague_times`), an ``int`` option number, lower-case e-mail,
    title-cased name, and canonical specialty/insurer names learned from the training data's
    annotations and synonyms (accent-insensitive, typo-tolerant). A value that cannot be
    resolved stays as the extractor gave it.

    "segunda", "quarta", "quinta", "sexta" are weekdays and ordinals: the message context and
    ``metadata["options_offered"]`` decide (see :func:`clinicbot.nlu.options.weekday_or_option`)
    and the entity type is corrected accordingly. The ``extractor`` key is left alone, so
    ``rasa test`` still scores the extractor that found the span.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Which entity types get canonical names from the training data."""
        return {"canonical_entities": ["especialidade", "convenio"], "fuzzy_cutoff": 0.85}

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        canonical: dict[str, dict[str, str]] | None = None,
        clock: Clock = now,
    ) -> None:
        self._config = config
        self._model_storage = model_storage
        self._resource = resource
        self._canonical = canonical or {}
        self.clock = clock

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> EntityNormalizer:
        """A normalizer without canonical names yet."""
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        """Collects folded surface form -> canonical name for the configured entity types.

        Sources: the annotated spans (their value, mapped through the synonyms) and every
        synonym whose canonical name is one of those values.
        """
        synonyms = {
            fold_accents(form): name for form, name in training_data.entity_synonyms.items()
        }
        canonical: dict[str, dict[str, str]] = {
            entity_type: {} for entity_type in self._config["canonical_entities"]
        }
        for example in training_data.entity_examples:
            for entity in example.get(ENTITIES, []):
                forms = canonical.get(entity[ENTITY_ATTRIBUTE_TYPE])
                if forms is None:
                    continue
                value = str(entity[ENTITY_ATTRIBUTE_VALUE])
                name = synonyms.get(fold_accents(value), value)
                start, end = entity[ENTITY_ATTRIBUTE_START], entity[ENTITY_ATTRIBUTE_END]
                forms[fold_accents(example.get(TEXT)[start:end])] = name
                forms[fold_accents(name)] = name
        for forms in canonical.values():
            names = set(forms.values())
            forms.update({form: name for form, name in synonyms.items() if name in names})
        self._canonical = canonical
        with self._model_storage.write_to(self._resource) as model_dir:
            (model_dir / SYNONYMS_FILE).write_text(json.dumps(canonical), encoding="utf-8")
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> EntityNormalizer:
        """Loads the canonical names collected at training time."""
        try:
            with model_storage.read_from(resource) as model_dir:
                canonical = json.loads((model_dir / SYNONYMS_FILE).read_text(encoding="utf-8"))
        except ValueError:
            logger.debug(f"No canonical names for '{resource.name}'; starting without them.")
            canonical = {}
        return cls(config, model_storage, resource, canonical)

    def process(self, messages: list[Message]) -> list[Message]:
        """Normalises the entities of each message in place."""
        for message in messages:
            entities = message.get(ENTITIES)
            if not entities:
                continue
            metadata = message.get("metadata") or {}
            offered = metadata.get("options_offered")
            options_offered = None if offered is None else bool(offered)
            today = self.clock().astimezone(message_tz(metadata)).date()
            for entity in entities:
                self._normalise(entity, message.get(TEXT), options_offered, today)
        return messages

    def _normalise(
        self, entity: dict[str, Any], text: str, options_offered: bool | None, today: date
    ) -> None:
        start, end = entity.get(ENTITY_ATTRIBUTE_START), entity.get(ENTITY_ATTRIBUTE_END)
        surface = text[start:end] if start is not None else str(entity[ENTITY_ATTRIBUTE_VALUE])
        entity["text"] = surface
        if start is not None and entity[ENTITY_ATTRIBUTE_TYPE] in (DATE, OPTION):
            decided = weekday_or_option(text, start, end, options_offered)
            entity[ENTITY_ATTRIBUTE_TYPE] = decided or entity[ENTITY_ATTRIBUTE_TYPE]
        following = text[end:] if end is not None else ""
        entity.update(self._resolve(entity[ENTITY_ATTRIBUTE_TYPE], surface, following, today))

    def _resolve(
        self, entity_type: str, surface: str, following: str, today: date
    ) -> dict[str, Any]:
        value: Any = None
        if entity_type == "cpf":
            return cpf_value(surface)
        if entity_type == "email":
            value = surface.strip().lower()
        elif entity_type == "nome":
            value = title_case_name(surface)
        elif entity_type == DATE:
            value = _date_value(surface, today)
        elif entity_type == "hora":
            at = parse_time_expression(surface) or _bare_hour(surface, following)
            value = at.strftime("%H:%M") if at else None
        elif entity_type == "periodo":
            value = parse_vague_time(surface) or parse_period(surface)
        elif entity_type == OPTION:
            value = parse_option_number(surface)
        elif entity_type in self._canonical:
            value = self._canonical_name(entity_type, surface)
        return {} if value is None else {ENTITY_ATTRIBUTE_VALUE: value}

    def _canonical_name(self, entity_type: str, surface: str) -> str | None:
        forms = self._canonical[entity_type]
        folded = fold_accents(surface.strip())
        if folded in forms:
            return forms[folded]
        close = difflib.get_close_matches(folded, forms, n=1, cutoff=self._config["fuzzy_cutoff"])
        return forms[close[0]] if close else None
