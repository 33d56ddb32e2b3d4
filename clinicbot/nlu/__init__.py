"""Portuguese NLU for the clinic assistant.

Rasa graph components (referenced from ``config.yml`` by module path):

- :class:`clinicbot.nlu.tokenizer.PortugueseTokenizer`: spaCy ``pt`` tokens with folded lemmas;
- :class:`clinicbot.nlu.pattern_featurizer.LexicalPatternFeaturizer`: lexical cues for the CRF;
- :class:`clinicbot.nlu.classifier.TfidfIntentClassifier`: scikit-learn intent classifier;
- :class:`clinicbot.nlu.extractor.ClinicEntityExtractor`: CRF corrected by a date/time/name grammar;
- :class:`clinicbot.nlu.normalizer.EntityNormalizer`: normalised entity values.

Plain helpers usable outside Rasa (e.g. by the action server): :mod:`clinicbot.nlu.dates`,
:mod:`clinicbot.nlu.options`, :mod:`clinicbot.nlu.spans`, :mod:`clinicbot.nlu.text`.
"""
