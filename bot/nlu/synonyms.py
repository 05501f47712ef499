"""Rasa component that maps category / service wordings to canonical ids, accents or not.

Rasa's EntitySynonymMapper matches the extracted value exactly (lower-cased), so "đèn đường"
maps to street_lighting but "den duong", "Đèn  đường" or "đèn đuờng" do not. This mapper
learns the same synonyms (synonym blocks, annotated values, lookup tables) keyed by the
folded form (bot.text.fold: no diacritics, lower case, one spacing) and resolves any
value whose key it knows.

It can also act as a gazetteer: when no extractor found an entity of a type it maps, a
known wording of that type appearing in the text (whole words, accents optional) becomes
the entity. This catches unaccented and unseen phrasings the statistical extractor misses.
"""

from __future__ import annotations

import json
import logging
import re
from collections import defaultdict
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa.shared.utils.io import read_json_file, write_text_file

from bot.nlu.normalize import normalize_with_offsets
from bot.text import fold, strip_diacritics

logger = logging.getLogger(__name__)

_NON_WORD = re.compile(r"[\W_]+")
_NON_WORD_CHAR = re.compile(r"[\W_]")
_FILE = "folded_synonyms.json"


def synonym_key(text: str) -> str:
    """The lookup key of a wording: folded, punctuation and spacing collapsed."""
    return _NON_WORD.sub(" ", fold(text)).strip()


class SynonymTable:
    """Folded wording → canonical id, and which entity type each canonical id belongs to."""

    def __init__(
        self,
        synonyms: dict[str, str] | None = None,
        types: dict[str, str] | None = None,
        wordings: dict[str, list[str]] | None = None,
    ) -> None:
        self.synonyms: dict[str, str] = dict(synonyms or {})
        self.types: dict[str, str] = dict(types or {})
        # entity type → folded wordings worth looking for in a text
        self.wordings: dict[str, list[str]] = {k: list(v) for k, v in (wordings or {}).items()}
        self._patterns: dict[str, re.Pattern[str]] = {}

    @classmethod
    def from_training_data(
        cls, training_data: TrainingData, entity_types: list[str]
    ) -> SynonymTable:
        conflicts: dict[str, set[str]] = defaultdict(set)
        synonyms: dict[str, str] = {}
        types: dict[str, str] = {}

        def add(wording: str, canonical: str) -> None:
            key = synonym_key(wording)
            if not key:
                return
            conflicts[key].add(canonical)
            synonyms.setdefault(key, canonical)

        for wording, canonical in training_data.entity_synonyms.items():
            add(wording, str(canonical))
            add(str(canonical), str(canonical))
        for example in training_data.entity_examples:
            text = example.get(TEXT) or ""
            for entity in example.get(ENTITIES) or []:
                value = str(entity.get("value"))
                wording = text[entity["start"] : entity["end"]]
                if entity.get("entity") in entity_types:
                    types.setdefault(value, entity["entity"])
                if wording != value:
                    add(wording, value)

        ambiguous = {key for key, targets in conflicts.items() if len(targets) > 1}
        for key in sorted(ambiguous):
            logger.warning(
                "Wording %r maps to several ids (%s) once accents are removed; "
                "it is left to the exact-match synonym mapper.",
                key,
                ", ".join(sorted(conflicts[key])),
            )
            synonyms.pop(key, None)

        wordings: dict[str, set[str]] = defaultdict(set)
        for table in training_data.lookup_tables:
            entity_type = table.get("name")
            if entity_type not in entity_types:
                continue
            for element in table.get("elements") or []:
                canonical = synonyms.get(synonym_key(str(element)))
                if canonical:
                    types.setdefault(canonical, entity_type)
        for key, canonical in synonyms.items():
            entity_type = types.get(canonical)
            if entity_type and key != synonym_key(canonical):
                wordings[entity_type].add(key)
        return cls(synonyms, types, {k: sorted(v) for k, v in wordings.items()})

    def to_json(self) -> dict[str, Any]:
        return {"synonyms": self.synonyms, "types": self.types, "wordings": self.wordings}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SynonymTable:
        return cls(data.get("synonyms"), data.get("types"), data.get("wordings"))

    def canonical(self, value: str) -> str | None:
        return self.synonyms.get(synonym_key(value))

    def find(self, text: str, entity_type: str, min_length: int) -> list[tuple[int, int, str]]:
        """Known wordings of `entity_type` in `text`: (start, end, canonical), no overlaps."""
        pattern = self._pattern(entity_type, min_length)
        if pattern is None:
            return []
        normalized = normalize_with_offsets(text)
        # One space per non-word character keeps offsets valid on the normalised copy.
        folded = _NON_WORD_CHAR.sub(" ", strip_diacritics(normalized.text))
        found = []
        for match in pattern.finditer(folded):
            start, end = normalized.original_span(match.start(), match.end())
            canonical = self.synonyms.get(synonym_key(match.group()))
            if canonical:
                found.append((start, end, canonical))
        return found

    def _pattern(self, entity_type: str, min_length: int) -> re.Pattern[str] | None:
        cache_key = f"{entity_type}:{min_length}"
        if cache_key not in self._patterns:
            keys = [k for k in self.wordings.get(entity_type, []) if len(k) >= min_length]
            if not keys:
                return None
            keys.sort(key=len, reverse=True)
            alternatives = "|".join(
                " +".join(re.escape(word) for word in key.split()) for key in keys
            )
            self._patterns[cache_key] = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")
        return self._patterns[cache_key]


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class FoldedSynonymMapper(GraphComponent, EntityExtractorMixin):
    """Maps entity values to canonical ids by their folded form; optional gazetteer."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            # Entity types whose values are canonical ids.
            "entity_types": ["category", "service"],
            # Add an entity from a known wording when no extractor found one of that type.
            "gazetteer": True,
            # Shortest folded wording the gazetteer looks for ("rac" is too easy to hit).
            "gazetteer_min_length": 4,
            # Drop values that map to no id: a slot of ids has no use for "chuyển" or "xin".
            "drop_unresolved": True,
        }

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        table: SynonymTable | None = None,
    ) -> None:
        self._config = config
        self._model_storage = model_storage
        self._resource = resource
        self.table = table or SynonymTable()

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> FoldedSynonymMapper:
        return cls(config, model_storage, resource)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> FoldedSynonymMapper:
        table = None
        try:
            with model_storage.read_from(resource) as directory:
                path = directory / _FILE
                if path.exists():
                    table = SynonymTable.from_json(read_json_file(path))
        except ValueError:
            logger.debug("No stored synonyms for %s; starting empty.", resource.name)
        return cls(config, model_storage, resource, table)

    def train(self, training_data: TrainingData) -> Resource:
        self.table = SynonymTable.from_training_data(
            training_data, list(self._config["entity_types"])
        )
        with self._model_storage.write_to(self._resource) as directory:
            write_text_file(
                json.dumps(self.table.to_json(), ensure_ascii=False, indent=1),
                directory / _FILE,
            )
        return self._resource

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT)
            if not isinstance(text, str):
                continue
            entities = [dict(entity) for entity in message.get(ENTITIES) or []]
            self.resolve(text, entities)
            message.set(ENTITIES, entities, add_to_output=True)
        return messages

    def resolve(self, text: str, entities: list[dict[str, Any]]) -> None:
        """Canonicalise values in place; repair partial spans; add gazetteer matches.

        A value that is not a known wording is looked up among the known wordings that
        overlap its span (the statistical extractor often cuts "nuoc may bi duc" short);
        if it still has no id it is dropped (with `drop_unresolved`, the default) or kept
        only while no other entity of its type has an id.
        """
        entity_types = list(self._config["entity_types"])
        for entity in entities:
            if entity.get("entity") not in entity_types:
                continue
            value = str(entity.get("value", ""))
            canonical = self.table.canonical(value)
            if canonical is None:
                canonical = self._repair(text, entity)
            if canonical and canonical != value:
                entity["value"] = canonical
                self.add_processor_name(entity)
        known = set(self.table.synonyms.values())
        drop_all = bool(self._config.get("drop_unresolved", True))
        for entity_type in entity_types:
            typed = [e for e in entities if e.get("entity") == entity_type]
            if drop_all or any(e.get("value") in known for e in typed):
                for entity in typed:
                    if entity.get("value") not in known:
                        entities.remove(entity)
        self._drop_duplicates(entities, entity_types)
        if self._config.get("gazetteer"):
            self._add_from_gazetteer(text, entities, entity_types)

    def _repair(self, text: str, entity: dict[str, Any]) -> str | None:
        start, end = entity.get("start", 0), entity.get("end", 0)
        candidates = {
            (s, e, canonical)
            for s, e, canonical in self.table.find(text, entity["entity"], min_length=2)
            if s < end and start < e
        }
        if len({canonical for _, _, canonical in candidates}) != 1:
            return None
        entity["start"] = min([start] + [s for s, _, _ in candidates])
        entity["end"] = max([end] + [e for _, e, _ in candidates])
        return next(iter(candidates))[2]

    @staticmethod
    def _drop_duplicates(entities: list[dict[str, Any]], entity_types: list[str]) -> None:
        """One entity per id: overlapping twins merge, later repetitions go."""
        seen: dict[tuple[str, str], dict[str, Any]] = {}
        for entity in list(entities):
            if entity.get("entity") not in entity_types:
                continue
            key = (entity["entity"], str(entity.get("value")))
            twin = seen.get(key)
            if twin is None:
                seen[key] = entity
                continue
            if entity.get("start", 0) <= twin.get("end", 0) and twin.get("start", 0) <= entity.get(
                "end", 0
            ):
                twin["start"] = min(twin["start"], entity["start"])
                twin["end"] = max(twin["end"], entity["end"])
            entities.remove(entity)

    def _add_from_gazetteer(
        self, text: str, entities: list[dict[str, Any]], entity_types: list[str]
    ) -> None:
        min_length = int(self._config.get("gazetteer_min_length", 4))
        for entity_type in entity_types:
            if any(entity.get("entity") == entity_type for entity in entities):
                continue
            for start, end, canonical in self.table.find(text, entity_type, min_length):
                if any(
                    start < entity.get("end", 0) and entity.get("start", 0) < end
                    for entity in entities
                ):
                    continue
                entities.append(
                    {
                        "entity": entity_type,
                        "start": start,
                        "end": end,
                        "value": canonical,
                        "confidence_entity": 1.0,
                        "extractor": self.name,
                    }
                )
