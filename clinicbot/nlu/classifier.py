"""Intent classifier: word and character n-gram TF-IDF with a calibrated linear model."""

from __future__ import annotations

import json
import logging
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

from clinicbot.nlu import intent_model
from clinicbot.nlu.intent_model import IntentModel
from clinicbot.nlu.pattern_featurizer import PATTERN_KEY
from clinicbot.ptbr.concepts import concept_cues, is_symbols_only
from clinicbot.ptbr.text import EMOJI_VARIANT, expand_abbreviation, fold_accents

logger = logging.getLogger(__name__)

LABELS_FILE = "intent_labels.json"


def classifier_input(message: Message) -> str:
    """The text the model sees: folded lemmas, the folded words as written, then cue tokens.

    Lemmas generalise over inflection ("marquei"/"marcar"); the words themselves keep what
    lookup lemmatization merges wrongly ("me chamo" and "me chama" both lemmatize to
    "chamar"). The cues (``cue_tokens``) carry what the words cannot: which concept of the
    hand-written lexicon a word belongs to, and what the featurizers before this component
    recognised (a weekday, a clock time, a specialty from the lookup tables).
    """
    tokens = message.get(TOKENS_NAMES[TEXT])
    if not tokens:
        return fold_accents(message.get(TEXT) or "")
    lemmas = " ".join(fold_accents(token.lemma) for token in tokens)
    words = " ".join(fold_accents(token.text) for token in tokens)
    return f"{lemmas} {words} {' '.join(cue_tokens(message))}"


def cue_tokens(message: Message) -> list[str]:
    """``_c_<concept>_`` from the concept lexicon and ``_p_<cue>_`` from token patterns.

    Patterns are what ``RegexFeaturizer`` (training-data regexes and lookup tables) and
    ``LexicalPatternFeaturizer`` stored on the tokens; their ``word=`` entries are skipped,
    the words are already in the text. A message of symbols only ("...", "👍👍") adds
    ``_symbols_``.
    """
    tokens = message.get(TOKENS_NAMES[TEXT]) or []
    words = [
        word
        for token in tokens
        for word in fold_accents(expand_abbreviation(token.text)).replace(EMOJI_VARIANT, "").split()
    ]
    cues = concept_cues(words)
    for token in tokens:
        patterns = token.get(PATTERN_KEY) or {}
        cues.extend(f"_p_{name}_" for name, hit in patterns.items() if hit and "=" not in name)
    if is_symbols_only(message.get(TEXT) or ""):
        cues.append("_symbols_")
    return cues


def shape_input(message: Message, max_length: int = 4) -> str:
    """Surface cues the folded text loses: capitalised words, numbers and message length.

    One ``_cap_`` per capitalised word ("Gabriel Araújo" reads as a name), one ``_num_`` per
    word with a digit, and ``_len1_`` to ``_len<max_length>_`` for the number of tokens. They
    get a TF-IDF block of their own, normalised apart from the words and characters, which
    scored clearly better in cross-validation than mixing them into the text.
    """
    tokens = message.get(TOKENS_NAMES[TEXT])
    words = [token.text for token in tokens] if tokens else (message.get(TEXT) or "").split()
    cues = []
    for word in words:
        if word[:1].isupper() and word[1:].islower():
            cues.append("_cap_")
        if any(ch.isdigit() for ch in word):
            cues.append("_num_")
    cues.append(f"_len{min(len(words), max_length)}_")
    return " ".join(cues)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class TfidfIntentClassifier(GraphComponent, IntentClassifier):
    """Linear SVM over TF-IDF of words, lemmas, character n-grams and shape cues, calibrated.

    It needs no featurizer: it builds its own sparse features from the tokens' lemmas
    (``PortugueseTokenizer`` makes them accent-folded), which keeps training to seconds and
    parsing well under a millisecond. Character n-grams absorb typos ("marcrar", "consuta").
    """

    @classmethod
    def required_components(cls) -> list[type]:
        """Needs tokens (with lemmas, ideally from ``PortugueseTokenizer``)."""
        return [Tokenizer]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Defaults chosen by 5-fold cross-validation on the project's data."""
        return {
            "word_ngram_range": [1, 2],
            "char_ngram_range": [2, 5],
            "C": 1.0,
            "shape_features": True,
            "calibration_folds": 5,
            "ranking_length": 10,
        }

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: IntentModel | None = None,
        labels: list[str] | None = None,
    ) -> None:
        self._config = config
        self._model_storage = model_storage
        self._resource = resource
        self._model = model
        self._labels = labels or []

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> TfidfIntentClassifier:
        """An untrained classifier."""
        return cls(config, model_storage, resource)

    def _build_model(self, calibration_folds: int) -> IntentModel:
        return IntentModel(
            words=TfidfVectorizer(
                analyzer="word",
                token_pattern=r"\S+",
                ngram_range=tuple(self._config["word_ngram_range"]),
                sublinear_tf=True,
            ),
            chars=TfidfVectorizer(
                analyzer="char_wb",
                ngram_range=tuple(self._config["char_ngram_range"]),
                sublinear_tf=True,
            ),
            # ensemble=False: the sigmoids are fitted on out-of-fold decisions and the SVM on
            # all the data, so a single SVM runs at parse time.
            classifier=CalibratedClassifierCV(
                LinearSVC(C=self._config["C"]),
                cv=calibration_folds,
                method="sigmoid",
                ensemble=False,
            ),
            shapes=(
                TfidfVectorizer(analyzer="word", token_pattern=r"\S+", sublinear_tf=True)
                if self._config["shape_features"]
                else None
            ),
        )

    def train(self, training_data: TrainingData) -> Resource:
        """Fits the model on the intent examples and persists it."""
        examples = [e for e in training_data.intent_examples if e.get(INTENT)]
        self._labels = sorted({e.get(INTENT) for e in examples})
        if len(self._labels) < 2:
            logger.warning("TfidfIntentClassifier needs two intents or more; not trained.")
            return self._resource
        label_ids = np.array([self._labels.index(e.get(INTENT)) for e in examples])
        smallest_class = int(np.bincount(label_ids).min())
        if smallest_class < 2:
            raise ValueError("TfidfIntentClassifier needs at least 2 examples of every intent.")
        self._model = self._build_model(min(self._config["calibration_folds"], smallest_class))
        self._model.fit(
            [classifier_input(e) for e in examples], [shape_input(e) for e in examples], label_ids
        )
        self.persist()
        return self._resource

    def process(self, messages: list[Message]) -> list[Message]:
        """Sets ``intent`` and the top-``ranking_length`` ``intent_ranking``."""
        if self._model is None:
            return messages
        probabilities = self._model.predict_proba(
            [classifier_input(m) for m in messages], [shape_input(m) for m in messages]
        )
        ranking_length = self._config["ranking_length"]
        for message, row in zip(messages, probabilities, strict=False):
            ranking = [
                {"name": self._labels[i], "confidence": float(row[i])}
                for i in np.argsort(row)[::-1][:ranking_length]
            ]
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set("intent_ranking", ranking, add_to_output=True)
        return messages

    def persist(self) -> None:
        """Writes the model (arrays and JSON, no pickle) and the label names into model storage."""
        if self._model is None:
            return  # not trained: fewer than two intents
        with self._model_storage.write_to(self._resource) as model_dir:
            intent_model.save(self._model, model_dir)
            (model_dir / LABELS_FILE).write_text(json.dumps(self._labels), encoding="utf-8")

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> TfidfIntentClassifier:
        """Loads a trained model; an untrained one if training was skipped."""
        try:
            with model_storage.read_from(resource) as model_dir:
                model = intent_model.load(model_dir)
                labels = json.loads((model_dir / LABELS_FILE).read_text(encoding="utf-8"))
        except (ValueError, FileNotFoundError):
            logger.debug(f"No trained model for '{resource.name}'; loading an untrained one.")
            return cls(config, model_storage, resource)
        return cls(config, model_storage, resource, model, labels)
