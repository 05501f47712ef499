"""Rasa component: a short edit command ("sửa địa chỉ", "change the phone number") is
`inform` with full confidence, whatever the model made of it (see bot.nlu.commands).

Place it after the intent classifiers and before FallbackClassifier.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.commands import correction_target


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class CorrectionCommandClassifier(GraphComponent, IntentClassifier):
    """A short edit command of the complaint summary is `inform`."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"intent": "inform"}

    def __init__(self, config: dict[str, Any]) -> None:
        self._intent = str(config.get("intent") or "inform")

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> CorrectionCommandClassifier:
        return cls(config)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT)
            if not isinstance(text, str) or text.startswith("/"):
                continue  # a button's payload names its intent already
            if correction_target(text) is None:
                continue
            ranking = [
                item
                for item in message.get(INTENT_RANKING_KEY) or []
                if item.get(INTENT_NAME_KEY) != self._intent
            ]
            top = {INTENT_NAME_KEY: self._intent, PREDICTED_CONFIDENCE_KEY: 1.0}
            message.set(INTENT, top, add_to_output=True)
            message.set(INTENT_RANKING_KEY, [top, *ranking], add_to_output=True)
        return messages
