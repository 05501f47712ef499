"""FoldedSynonymMapper: category / service wordings map to ids with or without diacritics."""

from __future__ import annotations

import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.synonyms import FoldedSynonymMapper, synonym_key

SYNONYMS = {
    "đèn đường": "street_lighting",
    "đèn hẻm": "street_lighting",
    "cột đèn": "street_lighting",
    "ổ gà": "roads",
    "mất nước": "water_supply",
    "nước máy": "water_supply",
    "giấy khai sinh": "birth_registration",
    "khai sinh": "birth_registration",
}


def training_data() -> TrainingData:
    examples = [
        Message(
            data={
                TEXT: "đèn đường hỏng",
                "intent": "file_complaint",
                ENTITIES: [
                    {"entity": "category", "start": 0, "end": 9, "value": "street_lighting"}
                ],
            }
        ),
        Message(
            data={
                TEXT: "có ổ gà",
                "intent": "file_complaint",
                ENTITIES: [{"entity": "category", "start": 3, "end": 7, "value": "roads"}],
            }
        ),
        Message(
            data={
                TEXT: "làm giấy khai sinh",
                "intent": "ask_service_info",
                ENTITIES: [
                    {"entity": "service", "start": 4, "end": 18, "value": "birth_registration"}
                ],
            }
        ),
    ]
    return TrainingData(
        training_examples=examples,
        entity_synonyms=dict(SYNONYMS),
        lookup_tables=[{"name": "category", "elements": ["mất nước", "nước máy"]}],
    )


@pytest.fixture
def mapper(tmp_path) -> FoldedSynonymMapper:
    storage = LocalModelStorage(tmp_path)
    resource = Resource("folded_synonyms")
    config = FoldedSynonymMapper.get_default_config()
    trained = FoldedSynonymMapper(config, storage, resource)
    trained.train(training_data())
    context = ExecutionContext(graph_schema=None, model_id="test")  # type: ignore[arg-type]
    return FoldedSynonymMapper.load(config, storage, resource, context)


def run(mapper: FoldedSynonymMapper, text: str, entities: list[dict]) -> list[dict]:
    message = Message(data={TEXT: text, ENTITIES: entities})
    mapper.process([message])
    return message.get(ENTITIES)


@pytest.mark.parametrize(
    "typed", ["đèn đường", "den duong", "Đèn  Đường", "DEN DUONG", "đèn đuờng"]
)
def test_wordings_map_to_the_id_with_or_without_diacritics(mapper, typed: str) -> None:
    text = f"{typed} trước nhà hỏng"
    entities = run(
        mapper, text, [{"entity": "category", "start": 0, "end": len(typed), "value": typed}]
    )
    assert [e["value"] for e in entities] == ["street_lighting"]


def test_service_wordings_map_too(mapper) -> None:
    entities = run(
        mapper,
        "lam giay khai sinh",
        [{"entity": "service", "start": 4, "end": 18, "value": "giay khai sinh"}],
    )
    assert [e["value"] for e in entities] == ["birth_registration"]


def test_canonical_ids_stay_as_they_are(mapper) -> None:
    entities = run(mapper, "x", [{"entity": "category", "start": 0, "end": 1, "value": "roads"}])
    assert entities[0]["value"] == "roads"


def test_other_entity_types_are_untouched(mapper) -> None:
    entities = [{"entity": "phone", "start": 0, "end": 10, "value": "den duong"}]
    assert run(mapper, "den duong", entities)[0]["value"] == "den duong"


def test_gazetteer_finds_a_wording_no_extractor_found(mapper) -> None:
    text = "o hem 5 den duong tat ca thang nay"
    entities = run(mapper, text, [])
    assert [(e["entity"], e["value"]) for e in entities] == [("category", "street_lighting")]
    assert text[entities[0]["start"] : entities[0]["end"]] == "den duong"


def test_gazetteer_uses_lookup_tables_for_the_type(mapper) -> None:
    entities = run(mapper, "Nhà tôi mất nước 2 ngày", [])
    assert [(e["entity"], e["value"]) for e in entities] == [("category", "water_supply")]


def test_gazetteer_does_not_match_inside_words(mapper) -> None:
    assert run(mapper, "toi la nguoi mat nuocmia", []) == []


def test_a_cut_short_span_is_repaired_from_known_wordings(mapper) -> None:
    text = "den duong bi hong"
    entities = run(mapper, text, [{"entity": "category", "start": 0, "end": 3, "value": "den"}])
    assert [(e["value"], e["start"], e["end"]) for e in entities] == [("street_lighting", 0, 9)]


def test_unknown_value_next_to_a_known_one_is_dropped(mapper) -> None:
    entities = run(
        mapper,
        "nuoc may bi duc",
        [
            {"entity": "category", "start": 0, "end": 8, "value": "nuoc may"},
            {"entity": "category", "start": 12, "end": 15, "value": "duc"},
        ],
    )
    assert [e["value"] for e in entities] == ["water_supply"]


def test_synonym_key_folds_case_accents_and_punctuation() -> None:
    assert synonym_key("  Đèn-Đường! ") == "den duong"


def test_values_that_map_to_no_id_are_dropped(mapper) -> None:
    entities = run(
        mapper, "chuyển giúp tôi", [{"entity": "category", "start": 0, "end": 6, "value": "chuyển"}]
    )
    assert entities == []


def test_unresolved_values_can_be_kept(tmp_path) -> None:
    storage = LocalModelStorage(tmp_path)
    config = {**FoldedSynonymMapper.get_default_config(), "drop_unresolved": False}
    keeper = FoldedSynonymMapper(config, storage, Resource("keep"))
    keeper.train(training_data())
    entities = run(
        keeper, "chuyển giúp tôi", [{"entity": "category", "start": 0, "end": 6, "value": "chuyển"}]
    )
    assert [e["value"] for e in entities] == ["chuyển"]


def test_one_entity_per_id_even_when_repeated(mapper) -> None:
    text = "den duong hong, den duong tat"
    entities = run(
        mapper,
        text,
        [
            {"entity": "category", "start": 0, "end": 9, "value": "den duong"},
            {"entity": "category", "start": 16, "end": 25, "value": "den duong"},
        ],
    )
    assert [(e["value"], e["start"]) for e in entities] == [("street_lighting", 0)]
