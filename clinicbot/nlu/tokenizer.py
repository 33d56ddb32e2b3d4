"""spaCy Portuguese tokenizer with folded lookup lemmas, without any downloaded model."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import spacy
import srsly
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.training_data.message import Message
from spacy.language import Language
from spacy.tokenizer import Tokenizer as SpacyTokenizer
from spacy_lookups_data import get_file

from clinicbot.ptbr.cpf import WRITTEN_CPF
from clinicbot.ptbr.text import ABBREVIATIONS, fold_accents

# Surface forms spaCy would split but that are one entity value: a CPF ("390.533.447-05"),
# a clock time ("14h30", "14:30") and a numeric date ("15/12", "15/12/2025").
_KEEP_WHOLE = re.compile(
    rf"""^(?:
        {WRITTEN_CPF}
      | \d{{1,2}}[:h]\d{{2}}(?:h|hs|min)?
      | \d{{1,2}}/\d{{1,2}}(?:/\d{{2,4}})?
    )$""",
    re.VERBOSE | re.IGNORECASE,
)


@lru_cache(maxsize=1)
def load_pipeline() -> Language:
    """The blank ``pt`` pipeline: spaCy's rule-based tokenizer, no components."""
    nlp = spacy.blank("pt")
    # spaCy types Language.tokenizer as any callable; a blank pipeline has the rule-based one.
    tokenizer: SpacyTokenizer = nlp.tokenizer
    default_match = tokenizer.token_match

    def token_match(text: str) -> bool:
        return bool(_KEEP_WHOLE.match(text) or (default_match and default_match(text)))

    tokenizer.token_match = token_match
    return nlp


@lru_cache(maxsize=1)
def load_lemmas() -> dict[str, str]:
    """spaCy's Portuguese lemma lookup table (spacy-lookups-data), as a plain dict.

    The same table and the same rule as spaCy's lookup lemmatizer (a word's lemma is its
    entry, else the word itself), read directly: building spaCy's own ``Table`` of its 825
    thousand entries took about 2 s and 350 MB more at every start.
    """
    lemmas: dict[str, str] = srsly.read_gzip_json(get_file("pt_lemma_lookup.json.gz"))
    return lemmas


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class PortugueseTokenizer(Tokenizer):
    """Tokenizes with spaCy's rule-based ``pt`` tokenizer.

    Each token keeps the original text and character offsets (entity spans stay exact); its
    ``lemma`` is the feature form: chat abbreviations expanded ("vc" -> "voce"), lemmatized by
    lookup ("marquei" -> "marcar") and accent-folded, so "não"/"nao" share features.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Same options as Rasa's other tokenizers."""
        return {
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            "token_pattern": None,
            "prefix_separator_symbol": None,
        }

    @staticmethod
    def required_packages() -> list[str]:
        """spaCy plus the lookup tables package."""
        return ["spacy", "spacy_lookups_data"]

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self._nlp = load_pipeline()
        self._lemmas = load_lemmas()

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        """Tokens of ``message[attribute]`` with original text, offsets and folded lemma."""
        text = message.get(attribute)
        lowered = text.lower()
        # The lookup table is keyed by lower-case words; lower() keeps offsets unless a rare
        # character changes length, in which case spaCy sees the original text.
        doc = self._nlp(lowered if len(lowered) == len(text) else text)
        tokens = [
            Token(
                text[token.idx : token.idx + len(token)],
                token.idx,
                lemma=self._feature_form(token.text),
            )
            for token in doc
            if not token.is_space
        ]
        return self._apply_token_pattern(tokens)

    def _feature_form(self, surface: str) -> str:
        expansion = ABBREVIATIONS.get(surface.lower())
        parts = expansion.split() if expansion is not None else [surface]
        return fold_accents(" ".join(self._lemmas.get(part, part) for part in parts))
