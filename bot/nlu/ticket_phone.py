"""Rasa component that extracts ticket codes and phone numbers with tolerant patterns.

Regexes beat a statistical model here: the formats are fixed, residents type them loosely
(pa 2611 k7m3q, 090.512.3456, +84 905 123 456) and the value must be canonical for the
ticket lookup and the handoff form. Whatever an earlier extractor (DIET) predicted for these
two entity types is dropped, and so is any other entity overlapping a code or a number.
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

from bot.nlu.patterns import Match, find_codes_and_phones

TICKET_CODE = "ticket_code"
PHONE = "phone"


def extract_ticket_codes_and_phones(
    text: str, entities: list[dict[str, Any]], extractor: str = "TicketPhoneExtractor"
) -> list[dict[str, Any]]:
    """`entities` with ticket codes and phone numbers replaced by the ones found in `text`."""
    tickets, phones = find_codes_and_phones(text)
    found = [(TICKET_CODE, match) for match in tickets] + [(PHONE, match) for match in phones]

    def overlaps(entity: dict[str, Any], match: Match) -> bool:
        start, end = entity.get("start", 0), entity.get("end", 0)
        return start < end and start < match.end and match.start < end

    kept = [
        entity
        for entity in entities
        if entity.get("entity") not in (TICKET_CODE, PHONE)
        and not any(overlaps(entity, match) for _, match in found)
    ]
    seen: set[tuple[str, str]] = set()
    for entity_type, match in sorted(found, key=lambda item: item[1].start):
        if (entity_type, match.value) in seen:
            continue  # the same number typed twice is one entity
        seen.add((entity_type, match.value))
        kept.append(
            {
                "entity": entity_type,
                "start": match.start,
                "end": match.end,
                "value": match.value,
                "confidence_entity": 1.0,
                "extractor": extractor,
            }
        )
    return kept


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class TicketPhoneExtractor(GraphComponent, EntityExtractorMixin):
    """Extracts `ticket_code` (PA-2611-K7M3Q) and `phone` (0905123456), normalised."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {}

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> TicketPhoneExtractor:
        return cls()

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT)
            if not isinstance(text, str):
                continue
            entities = extract_ticket_codes_and_phones(
                text, list(message.get(ENTITIES) or []), self.name
            )
            message.set(ENTITIES, entities, add_to_output=True)
        return messages
