"""TicketPhoneExtractor: loosely typed ticket codes and phone numbers, canonical values."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.patterns import normalize_phone, normalize_ticket_code
from bot.nlu.ticket_phone import TicketPhoneExtractor


def extract(text: str, entities: list | None = None) -> list[dict]:
    message = Message(data={TEXT: text, ENTITIES: entities or []})
    TicketPhoneExtractor().process([message])
    return message.get(ENTITIES)


def values(text: str, entity_type: str) -> list[str]:
    return [e["value"] for e in extract(text) if e["entity"] == entity_type]


@pytest.mark.parametrize(
    "typed",
    [
        "PA-2611-K7M3Q",
        "pa-2611-k7m3q",
        "pa2611k7m3q",
        "PA 2611 K7M3Q",
        "pa 2611-k7m3q",
        "Pa_2611_K7m3q",
    ],
)
def test_ticket_codes_are_found_and_normalised(typed: str) -> None:
    text = f"cho em hỏi hồ sơ {typed} tới đâu rồi"
    found = [e for e in extract(text) if e["entity"] == "ticket_code"]
    assert [e["value"] for e in found] == ["PA-2611-K7M3Q"]
    assert text[found[0]["start"] : found[0]["end"]] == typed


@pytest.mark.parametrize(
    "text",
    [
        "PA-2611-K7M3",
        "PA-2611-K7M3QX",
        "PA-2611-K7M3O",
        "PA-2611-K1M3Q",
        "XPA-2611-K7M3Q",
        "PB-2611-K7M3Q",
    ],
)
def test_things_that_are_not_ticket_codes_are_ignored(text: str) -> None:
    assert values(text, "ticket_code") == []


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("0905123456", "0905123456"),
        ("0905 123 456", "0905123456"),
        ("090.512.3456", "0905123456"),
        ("0905-123-456", "0905123456"),
        ("+84 905 123 456", "0905123456"),
        ("+84905123456", "0905123456"),
        ("84905123456", "0905123456"),
        ("(+84) 905 123 456", "0905123456"),
        ("0236 3 123 456", "02363123456"),
        ("024 3826 1234", "02438261234"),
        ("0353 123 456", "0353123456"),
    ],
)
def test_phone_numbers_are_found_and_normalised(typed: str, expected: str) -> None:
    text = f"sđt của em là {typed}, gọi giúp em"
    found = [e for e in extract(text) if e["entity"] == "phone"]
    assert [e["value"] for e in found] == [expected]
    assert text[found[0]["start"] : found[0]["end"]] == typed


@pytest.mark.parametrize(
    "text",
    [
        "mã 12345",
        "năm 2026",
        "số nhà 0905",
        "0905 123 45",
        "09051234567",
        "0105123456",
        "11/2026",
        "113",
    ],
)
def test_numbers_that_are_not_phones_are_ignored(text: str) -> None:
    assert values(text, "phone") == []


def test_no_phone_is_taken_from_inside_a_ticket_code() -> None:
    text = "hồ sơ PA-2605-23456 của em"
    entities = extract(text)
    assert [(e["entity"], e["value"]) for e in entities] == [("ticket_code", "PA-2605-23456")]


def test_ticket_and_phone_in_one_message() -> None:
    entities = extract("mã pa 2611 k7m3q, sđt 0905 123 456")
    assert [(e["entity"], e["value"]) for e in entities] == [
        ("ticket_code", "PA-2611-K7M3Q"),
        ("phone", "0905123456"),
    ]


def test_statistical_guesses_for_these_types_are_replaced() -> None:
    text = "mã PA-2611-K7M3Q nhé, đèn đường hỏng"
    diet = [
        {
            "entity": "ticket_code",
            "start": 3,
            "end": 10,
            "value": "PA-2611",
            "extractor": "DIETClassifier",
        },
        {"entity": "phone", "start": 7, "end": 11, "value": "2611", "extractor": "DIETClassifier"},
        {
            "entity": "category",
            "start": 3,
            "end": 16,
            "value": "roads",
            "extractor": "DIETClassifier",
        },
        {
            "entity": "category",
            "start": 22,
            "end": 31,
            "value": "street_lighting",
            "extractor": "DIETClassifier",
        },
        {
            "entity": "language",
            "start": 0,
            "end": 0,
            "value": "vi",
            "extractor": "LanguageDetector",
        },
    ]
    entities = extract(text, diet)
    assert sorted((e["entity"], e["value"]) for e in entities) == [
        ("category", "street_lighting"),
        ("language", "vi"),
        ("ticket_code", "PA-2611-K7M3Q"),
    ]


def test_diet_phone_without_a_valid_number_is_dropped() -> None:
    entities = extract(
        "số của em là 12345", [{"entity": "phone", "start": 13, "end": 18, "value": "12345"}]
    )
    assert entities == []


def test_extracted_entities_name_the_extractor_and_are_certain() -> None:
    (entity,) = extract("0905123456")
    assert entity["extractor"] == "TicketPhoneExtractor"
    assert entity["confidence_entity"] == 1.0


def test_normalisers_reject_other_text() -> None:
    assert normalize_ticket_code(" pa2611k7m3q ") == "PA-2611-K7M3Q"
    assert normalize_ticket_code("PA-2611-K7M3Q extra") is None
    assert normalize_phone("+84 (0) 905") is None
    assert normalize_phone("84 236 3123 456") == "02363123456"


def test_the_same_number_typed_twice_is_one_entity() -> None:
    entities = extract("gọi 0905 123 456 nhé, số 0905123456, hoặc 0912 345 678")
    assert [e["value"] for e in entities] == ["0905123456", "0912345678"]
