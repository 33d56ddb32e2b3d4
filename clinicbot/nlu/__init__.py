"""Portuguese NLU for the clinic assistant.

Rasa graph components (referenced from ``config.yml`` by module path):

- :class:`clinicbot.nlu.tokenizer.PortugueseTokenizer`: spaCy ``pt`` tokens with folded lemmas;
- :class:`clinicbot.nlu.pattern_featurizer.LexicalPatternFeaturizer`: lexical cues for the CRF;
- :class:`clinicbot.nlu.classifier.TfidfIntentClassifier`: scikit-learn intent classifier;
- :class:`clinicbot.nlu.extractor.ClinicEntityExtractor`: CRF corrected by a date/time/name grammar;
- :class:`clinicbot.nlu.normalizer.EntityNormalizer`: normalised entity values.

Their grammars: :mod:`clinicbot.nlu.options` (option numbers, weekday/ordinal homonyms) and
:mod:`clinicbot.nlu.spans` (date, time, period and name spans). The Portuguese words, dates and
CPF helpers they share with the services and actions are in :mod:`clinicbot.ptbr`.
"""
