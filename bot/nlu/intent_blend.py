"""Rasa component that blends DIET's intent ranking with a linear model's probabilities.

With about a hundred examples per intent, a TF-IDF logistic regression over words and
folded character n-grams is as accurate as DIET and better calibrated; averaging the two
beats either (measured with `tiepdan nlu eval`: +2 points macro-F1 on vi and en, and a
better out-of-scope / in-scope trade-off for the fallback threshold). The linear model
reads the tokens of `VietnameseTokenizer`: the token text (accented words, compounds
joined) and the lemma split into folded syllables, so unaccented text meets the same
features as accented text.

Place it after DIETClassifier and before FallbackClassifier.
"""

from __future__ import annotations

import logging
from typing import Any

import joblib
import scipy.sparse as sp
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from bot.nlu.tokenizer import PATTERN_KIND

logger = logging.getLogger(__name__)

_FILE = "intent_blend.joblib"

Document = tuple[tuple[str, ...], str]  # (token texts, folded syllables joined by spaces)


def _document(message: Message, folded: bool = True) -> Document | None:
    """Token texts and folded syllables; a ticket code or phone number becomes its type."""
    tokens = message.get(TOKENS_NAMES[TEXT]) or []
    if not tokens:
        return None
    words = []
    for token in tokens:
        kind = token.get(PATTERN_KIND)
        if kind:
            words.append((f"__{kind}__", f"__{kind}__"))
        else:
            words.append((token.text, (token.lemma if folded else token.text).replace("_", " ")))
    return tuple(text for text, _ in words), " ".join(syllables for _, syllables in words)


# Module-level so that the fitted vectorizers can be pickled with the model.
def token_texts(document: Document) -> list[str]:
    return list(document[0])


def folded_syllables(document: Document) -> list[str]:
    return document[1].split()


def folded_text(document: Document) -> str:
    return document[1]


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class LinearIntentBlender(GraphComponent, IntentClassifier):
    """Logistic regression on words and folded n-grams, averaged with DIET's ranking."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            # Share of DIET's confidence in the blend (0: the linear model alone).
            "diet_weight": 0.3,
            # Inverse regularisation strength of the logistic regression.
            "C": 10.0,
            "min_ngram": 1,
            "max_ngram": 4,
            "ranking_length": 10,
            # Confidence given to every intent when none of the message's words (accented or
            # folded) occurs in the training data: emoji, other scripts, gibberish. Below the
            # FallbackClassifier threshold, so such messages end in nlu_fallback.
            "unknown_words_confidence": 0.0,
            # n-grams and syllables of the folded lemma (False: of the accented text; for
            # measuring what folding brings).
            "folded_features": True,
            "random_state": 42,
        }

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: dict[str, Any] | None = None,
    ) -> None:
        self._config = config
        self._model_storage = model_storage
        self._resource = resource
        self._model = model
        self._folded = bool(config.get("folded_features", True))

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LinearIntentBlender:
        return cls(config, model_storage, resource)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> LinearIntentBlender:
        model = None
        try:
            with model_storage.read_from(resource) as directory:
                path = directory / _FILE
                if path.exists():
                    model = joblib.load(path)
        except ValueError:
            logger.debug("No stored linear intent model for %s.", resource.name)
        return cls(config, model_storage, resource, model)

    def _vectorizers(self) -> list[TfidfVectorizer]:
        ngrams = (int(self._config["min_ngram"]), int(self._config["max_ngram"]))
        return [
            TfidfVectorizer(analyzer=token_texts, sublinear_tf=True),
            TfidfVectorizer(
                analyzer="char_wb",
                ngram_range=ngrams,
                preprocessor=folded_text,
                lowercase=False,
                sublinear_tf=True,
            ),
            TfidfVectorizer(analyzer=folded_syllables, sublinear_tf=True),
        ]

    def train(self, training_data: TrainingData) -> Resource:
        documents, intents = [], []
        for example in training_data.intent_examples:
            document = _document(example, self._folded)
            if document is not None and example.get(INTENT):
                documents.append(document)
                intents.append(example.get(INTENT))
        if len(set(intents)) < 2:
            logger.warning(
                "LinearIntentBlender needs two or more intents; it will pass DIET through."
            )
            return self._resource
        vectorizers = self._vectorizers()
        features = sp.hstack([v.fit_transform(documents) for v in vectorizers]).tocsr()
        classifier = LogisticRegression(
            C=float(self._config["C"]),
            max_iter=3000,
            random_state=self._config.get("random_state"),
        )
        classifier.fit(features, intents)
        self._model = {"vectorizers": vectorizers, "classifier": classifier}
        with self._model_storage.write_to(self._resource) as directory:
            joblib.dump(self._model, directory / _FILE)
        return self._resource

    def process(self, messages: list[Message]) -> list[Message]:
        if not self._model:
            return messages
        for message in messages:
            document = _document(message, self._folded)
            if document is None:
                continue
            self._blend(message, self.probabilities(document), self.knows_a_word(document))
        return messages

    def knows_a_word(self, document: Document) -> bool:
        """True when the message shares a word or a 3+ letter n-gram with the training data."""
        assert self._model is not None
        words, characters, syllables = self._model["vectorizers"]
        if any(token in words.vocabulary_ for token in token_texts(document)):
            return True
        if any(syllable in syllables.vocabulary_ for syllable in folded_syllables(document)):
            return True
        return any(
            len(gram.strip()) >= 3 and gram in characters.vocabulary_
            for gram in characters.build_analyzer()(document)
        )

    def probabilities(self, document: Document) -> dict[str, float]:
        """The linear model's probability per intent for one tokenized message."""
        assert self._model is not None
        features = sp.hstack([v.transform([document]) for v in self._model["vectorizers"]])
        probabilities = self._model["classifier"].predict_proba(features.tocsr())[0]
        return dict(zip(self._model["classifier"].classes_, probabilities.tolist(), strict=True))

    def _blend(self, message: Message, linear: dict[str, float], known: bool = True) -> None:
        weight = float(self._config["diet_weight"])
        diet = {
            item[INTENT_NAME_KEY]: float(item[PREDICTED_CONFIDENCE_KEY])
            for item in message.get(INTENT_RANKING_KEY) or []
        }
        if not diet:
            weight = 0.0
        names = set(linear) | set(diet)
        blended = {
            name: weight * diet.get(name, 0.0) + (1 - weight) * linear.get(name, 0.0)
            for name in names
        }
        if not known:
            cap = float(self._config.get("unknown_words_confidence", 0.0))
            blended = {name: min(confidence, cap) for name, confidence in blended.items()}
        ranking = sorted(blended.items(), key=lambda item: item[1], reverse=True)
        ranking = ranking[: int(self._config["ranking_length"])]
        top_name, top_confidence = ranking[0]
        message.set(
            INTENT,
            {INTENT_NAME_KEY: top_name, PREDICTED_CONFIDENCE_KEY: float(top_confidence)},
            add_to_output=True,
        )
        message.set(
            INTENT_RANKING_KEY,
            [{INTENT_NAME_KEY: n, PREDICTED_CONFIDENCE_KEY: float(c)} for n, c in ranking],
            add_to_output=True,
        )
