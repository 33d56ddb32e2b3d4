"""spaCy Portuguese tokenizer with folded lookup lemmas, without any downloaded model."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, cast

import spacy
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.training_data.message import Message
from spacy.language import Language
from spacy.lookups import Table
from spacy.pipeline import Lemmatizer
from spacy.tokenizer import Tokenizer as SpacyTokenizer

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
    """The blank ``pt`` pipeline with a lookup lemmatizer (tables from spacy-lookups-data).

    Built once per process: loading the lookup tables takes about two seconds.
    """
    nlp = spacy.blank("pt")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    nlp.initialize()
    # spaCy types Language.tokenizer as any callable; a blank pipeline has the rule-based one.
    tokenizer: SpacyTokenizer = nlp.tokenizer
    default_match = tokenizer.token_match

    def token_match(text: str) -> bool:
        return bool(_KEEP_WHOLE.match(text) or (default_match and default_match(text)))

    tokenizer.token_match = token_match
    return nlp


def _lemma_table(nlp: Language) -> Table:
    lemmatizer = cast(Lemmatizer, nlp.get_pipe("lemmatizer"))  # added by load_pipeline
    return lemmatizer.lookups.get_table("lemma_lookup")


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
        self._lemmas = _lemma_table(self._nlp)

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
                lemma=self._feature_form(token.text.lower(), token.lemma_),
            )
            for token in doc
            if not token.is_space
        ]
        return self._apply_token_pattern(tokens)

    def _feature_form(self, word: str, lemma: str) -> str:
        expansion = ABBREVIATIONS.get(word)
        if expansion is not None:
            lemma = " ".join(self._lemmas.get(part, part) for part in expansion.split())
        return fold_accents(lemma or word)
