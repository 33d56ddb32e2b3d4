"""Lexical cues for the CRF entity extractor, stored where Rasa's CRF reads them."""

from __future__ import annotations

import re
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from clinicbot.ptbr.cpf import WRITTEN_CPF
from clinicbot.ptbr.text import expand_abbreviation, fold_accents
from clinicbot.ptbr.words import CARDINALS, FULL_WEEKDAY_NAMES, MONTHS, ORDINALS, WEEKDAYS

# Rasa's CRFEntityExtractor turns every key of a token's "pattern" dict into a feature.
PATTERN_KEY = "pattern"

_REGEX_CUES: dict[str, re.Pattern[str]] = {
    "cpf": re.compile(rf"^{WRITTEN_CPF}$"),
    "email": re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$"),
    "clock": re.compile(r"^\d{1,2}(?:h|hs|hrs?|:\d{2}|h\d{2})(?:h|hs|min)?$"),
    "numeric_date": re.compile(r"^\d{1,2}/\d{1,2}(?:/\d{2,4})?$"),
    "small_number": re.compile(r"^\d{1,2}[ao]?$"),
}
_WORD_CUES: dict[str, frozenset[str]] = {
    "weekday": frozenset(WEEKDAYS)
    | {fold_accents(name) for name in FULL_WEEKDAY_NAMES}
    | {"feira"},
    "month": frozenset(MONTHS),
    "ordinal": frozenset(ORDINALS),
    "cardinal": frozenset(CARDINALS),
    "relative_day": frozenset({"hoje", "amanha", "ontem", "depois"}),
    "period": frozenset({"manha", "tarde", "noite", "cedo", "manhazinha", "tardinha"}),
    "hour_unit": frozenset({"h", "hs", "hora", "horas", "hr", "hrs"}),
}


def token_cues(token: Token) -> dict[str, bool]:
    """The cues that hold for one token, plus its accent-folded form (``word=<form>``)."""
    form = fold_accents(expand_abbreviation(token.text))
    cues = {name: True for name, regex in _REGEX_CUES.items() if regex.match(form)}
    cues.update({name: True for name, words in _WORD_CUES.items() if form in words})
    cues[f"word={form}"] = True
    return cues


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class LexicalPatternFeaturizer(GraphComponent):
    """Marks tokens with Portuguese date/number/CPF/e-mail cues and their folded form.

    ``CRFEntityExtractor`` reads these as ``pattern`` features, so the CRF generalises over
    accents ("amanhã"/"amanha") and unseen values (another CPF, another month). The cues are
    merged into what ``RegexFeaturizer`` (training-data regexes and lookup tables) put there,
    so place this component after it.
    """

    @classmethod
    def required_components(cls) -> list[type]:
        """Needs tokens."""
        return [Tokenizer]

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LexicalPatternFeaturizer:
        """Stateless: nothing to configure or load."""
        return cls()

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Marks the tokens of every training example."""
        self.process(training_data.training_examples)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        """Marks the text tokens of each message."""
        for message in messages:
            for token in message.get(TOKENS_NAMES[TEXT]) or []:
                token.set(PATTERN_KEY, {**token.get(PATTERN_KEY, {}), **token_cues(token)})
        return messages
