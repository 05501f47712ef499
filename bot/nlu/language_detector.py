"""Rasa component that tags every message with its language as a `language` entity.

The entity (start 0, end 0) fills a `language` slot through an ordinary from_entity mapping,
so replies follow the language of the resident's last message. The rules live in
`bot.nlu.language`; the channel's hint comes from the message metadata (`{"lang": "en"}`),
which the REST channel passes through.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.language import detect_language, hint_from_metadata

LANGUAGE_ENTITY = "language"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class LanguageDetector(GraphComponent, EntityExtractorMixin):
    """Adds `{"entity": "language", "value": "vi" | "en"}` to each parsed message."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            # Metadata key carrying the channel's language hint.
            "metadata_key": "lang",
            # Also expose how the language was decided in the parse data (debugging).
            "add_source": False,
            # False: no entity, only a top-level "language" key in the parse data. For
            # `rasa test` runs, which compare every predicted entity with the story's.
            "emit_entity": True,
        }

    def __init__(self, config: dict[str, Any]) -> None:
        self._config = config

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LanguageDetector:
        return cls(config)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        # Training examples keep their annotations: the language entity is not learned.
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT)
            if not isinstance(text, str):
                continue
            metadata = message.get("metadata")
            key = self._config.get("metadata_key", "lang")
            hint = (
                hint_from_metadata({"lang": metadata.get(key)})
                if isinstance(metadata, dict)
                else None
            )
            guess = detect_language(text, hint)
            # The language is a property of the whole message, so the entity spans it all
            # (conversation tests annotate it that way).
            entity: dict[str, Any] = {
                "entity": LANGUAGE_ENTITY,
                "value": guess.language,
                "start": 0,
                "end": len(text),
                "confidence_entity": 1.0,
                "extractor": self.name,
            }
            if self._config.get("add_source"):
                entity["source"] = guess.source
            message.set(LANGUAGE_ENTITY, guess.language, add_to_output=True)
            if not self._config.get("emit_entity", True):
                continue
            entities = [
                existing
                for existing in message.get(ENTITIES) or []
                if existing.get("entity") != LANGUAGE_ENTITY
            ]
            entities.append(entity)
            message.set(ENTITIES, entities, add_to_output=True)
        return messages
