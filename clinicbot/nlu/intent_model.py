"""The intent model: TF-IDF blocks and a calibrated linear SVM, and its files.

A trained model is saved as plain arrays (``.npz``, read back without pickle) and the
vectorizers' parameters and vocabularies (JSON): nothing in a model file can run code, and
loading needs neither skops nor pickle. (skops, used before, spent seconds of every rasa
start scanning all of sklearn's and TensorFlow's modules for the types it trusts.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.preprocessing import normalize

ARRAYS_FILE = "intent_model.npz"
VECTORIZERS_FILE = "intent_vectorizers.json"
ARRAYS = ("word_idf", "char_idf", "shape_idf", "coef", "intercept", "sigmoid_a", "sigmoid_b")
VECTORIZERS = ("words", "chars", "shapes")


@dataclass
class IntentModel:
    """Word, character and shape TF-IDF side by side, then a sigmoid-calibrated linear SVM.

    Training goes through sklearn. Prediction does the same arithmetic by hand from arrays
    saved at fit time (IDF vectors, the SVM's weights, one sigmoid per intent): per message,
    sklearn's input checks, its ``idf_`` rebuild and a Python loop over 25 calibrators cost
    more than the model itself (about 1 ms of a 3 ms parse). ``test_classifier`` checks that
    both give the same probabilities. ``shapes`` is ``None`` when shape features are off;
    ``classifier`` is ``None`` in a loaded model (only the arrays are saved, :func:`save`).
    """

    words: TfidfVectorizer
    chars: TfidfVectorizer
    classifier: CalibratedClassifierCV | None = None
    shapes: TfidfVectorizer | None = None
    shape_idf: NDArray[np.float64] | None = None
    word_idf: NDArray[np.float64] | None = None
    char_idf: NDArray[np.float64] | None = None
    coef: NDArray[np.float64] | None = None
    intercept: NDArray[np.float64] | None = None
    sigmoid_a: NDArray[np.float64] | None = None
    sigmoid_b: NDArray[np.float64] | None = None

    def fit(self, texts: list[str], shapes: list[str], label_ids: NDArray[np.int_]) -> None:
        blocks = [self.words.fit_transform(texts), self.chars.fit_transform(texts)]
        self.word_idf, self.char_idf = self.words.idf_, self.chars.idf_
        if self.shapes is not None:
            self.shapes.fit(shapes)
            self.shape_idf = self.shapes.idf_
            blocks.append(self._shape_block(shapes))
        if self.classifier is None:
            raise NotFittedError("a loaded intent model cannot be trained again")
        self.classifier.fit(sparse.hstack(blocks, format="csr"), label_ids)
        calibrated = self.classifier.calibrated_classifiers_[0]
        self.coef, self.intercept = (
            calibrated.base_estimator.coef_,
            calibrated.base_estimator.intercept_,
        )
        calibrators = calibrated.calibrators
        self.sigmoid_a = np.array([calibrator.a_ for calibrator in calibrators])
        self.sigmoid_b = np.array([calibrator.b_ for calibrator in calibrators])

    def features(self, texts: list[str], shapes: list[str]) -> sparse.csr_matrix:
        """The feature rows the SVM sees, equal to the fitted vectorizers' ``transform``."""
        blocks = [
            _tfidf(self.words, _fitted(self.word_idf), texts),
            _tfidf(self.chars, _fitted(self.char_idf), texts),
        ]
        if self.shapes is not None:
            blocks.append(self._shape_block(shapes))
        return sparse.hstack(blocks, format="csr")

    def predict_proba(self, texts: list[str], shapes: list[str]) -> NDArray[np.float64]:
        """``classifier.predict_proba`` for many intents: one sigmoid per intent, normalised."""
        features = self.features(texts, shapes)
        decision = np.asarray(features @ _fitted(self.coef).T) + _fitted(self.intercept)
        probabilities = expit(-(decision * _fitted(self.sigmoid_a) + _fitted(self.sigmoid_b)))
        totals = probabilities.sum(axis=1, keepdims=True)
        uniform = np.full_like(probabilities, 1 / probabilities.shape[1])
        return np.divide(probabilities, totals, out=uniform, where=totals != 0)

    def _shape_block(self, shapes: list[str]) -> sparse.csr_matrix:
        """``self.shapes.transform(shapes)`` computed directly: sublinear TF times IDF, L2-norm.

        The vocabulary is a dozen cues, and sklearn's ``transform`` (and even its ``idf_``
        property) spends more time on checks than this takes; ``shape_idf`` holds the IDF.
        """
        if self.shapes is None:
            raise NotFittedError("the intent model has no shape features")
        vocabulary, idf = self.shapes.vocabulary_, _fitted(self.shape_idf)
        data: list[float] = []
        indices: list[int] = []
        indptr = [0]
        for text in shapes:
            counts: dict[int, int] = {}
            for cue in text.split():
                column = vocabulary.get(cue)
                if column is not None:
                    counts[column] = counts.get(column, 0) + 1
            columns = sorted(counts)
            weights = np.array([(1.0 + np.log(counts[c])) * idf[c] for c in columns])
            norm = np.sqrt(weights @ weights) if columns else 1.0
            data.extend(weights / norm)
            indices.extend(columns)
            indptr.append(len(indices))
        return sparse.csr_matrix(
            (np.array(data), np.array(indices, dtype=np.int32), np.array(indptr, dtype=np.int32)),
            shape=(len(shapes), len(vocabulary)),
        )


def _fitted(array: NDArray[np.float64] | None) -> NDArray[np.float64]:
    """An array that :meth:`IntentModel.fit` sets (``None`` only on a model never fitted)."""
    if array is None:
        raise NotFittedError("the intent model is not fitted")
    return array


def _tfidf(
    vectorizer: TfidfVectorizer, idf: NDArray[np.float64], texts: list[str]
) -> sparse.csr_matrix:
    """``vectorizer.transform(texts)`` of a fitted sublinear-TF vectorizer whose IDF is ``idf``."""
    counts = CountVectorizer.transform(vectorizer, texts).astype(np.float64)
    counts.data = (np.log(counts.data) + 1.0) * idf[counts.indices]
    return normalize(counts, copy=False)


def save(model: IntentModel, directory: Path) -> None:
    """Write a fitted ``model`` into ``directory`` (the arrays file and the JSON one)."""
    arrays = {name: getattr(model, name) for name in ARRAYS if getattr(model, name) is not None}
    np.savez(directory / ARRAYS_FILE, **arrays)
    vectorizers = {name: _vectorizer_state(getattr(model, name)) for name in VECTORIZERS}
    (directory / VECTORIZERS_FILE).write_text(json.dumps(vectorizers), encoding="utf-8")


def load(directory: Path) -> IntentModel:
    """The model :func:`save` wrote into ``directory``; ``FileNotFoundError`` when none."""
    with np.load(directory / ARRAYS_FILE, allow_pickle=False) as saved:
        arrays = {name: saved[name] for name in saved.files}
    state = json.loads((directory / VECTORIZERS_FILE).read_text(encoding="utf-8"))
    words, chars, shapes = (_vectorizer(state[name]) for name in VECTORIZERS)
    if words is None or chars is None:
        raise ValueError(f"{directory / VECTORIZERS_FILE}: no word or character vectorizer")
    return IntentModel(words=words, chars=chars, shapes=shapes, **arrays)


def _vectorizer_state(vectorizer: TfidfVectorizer | None) -> dict[str, Any] | None:
    """A fitted vectorizer's constructor parameters and vocabulary (its IDF is an array).

    ``dtype`` is left out (the default, float64); any other parameter that is not plain data
    (a callable tokenizer) makes ``json.dumps`` fail at training, never silently at parse time.
    """
    if vectorizer is None:
        return None
    params = {key: value for key, value in vectorizer.get_params().items() if key != "dtype"}
    vocabulary = {term: int(column) for term, column in vectorizer.vocabulary_.items()}
    return {"params": params, "vocabulary": vocabulary}


def _vectorizer(state: dict[str, Any] | None) -> TfidfVectorizer | None:
    if state is None:
        return None
    params = dict(state["params"])
    params["ngram_range"] = tuple(params["ngram_range"])
    vectorizer = TfidfVectorizer(**params)
    vectorizer.vocabulary_ = state["vocabulary"]
    return vectorizer
