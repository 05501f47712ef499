"""LanguageDetector: vi / en per message, channel hint when undecided, Vietnamese by default."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.language import detect_language
from bot.nlu.language_detector import LanguageDetector


def detect(text: str, metadata: object = None) -> dict:
    message = Message(data={TEXT: text, "metadata": metadata})
    LanguageDetector(LanguageDetector.get_default_config()).process([message])
    languages = [e for e in message.get(ENTITIES) if e["entity"] == "language"]
    assert len(languages) == 1
    return languages[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("xin chào", "vi"),
        ("Cho em hỏi làm giấy khai sinh", "vi"),
        ("xin chao", "vi"),
        ("toi can giup", "vi"),
        ("den duong truoc nha bi hong", "vi"),
        ("ko dc a", "vi"),
        ("thanks em", "vi"),  # Vietnamese writer, English word
        ("help me voi", "vi"),
        ("Where is the district office?", "en"),
        ("I want to report a broken street light", "en"),
        ("hello", "en"),
        ("thank you", "en"),
        ("are you a bot", "en"),
    ],
)
def test_language_is_detected_without_a_hint(text: str, expected: str) -> None:
    assert detect(text)["value"] == expected


@pytest.mark.parametrize(
    "text", ["ok", "hi", "PA-2611-K7M3Q", "0905 123 456", "😀", "", "!!!", "你好"]
)
def test_undecidable_messages_follow_the_channel_hint(text: str) -> None:
    assert detect(text, {"lang": "en"})["value"] == "en"
    assert detect(text, {"lang": "vi"})["value"] == "vi"


@pytest.mark.parametrize("text", ["ok", "hi", "PA-2611-K7M3Q", "😀", ""])
def test_undecidable_messages_without_hint_default_to_vietnamese(text: str) -> None:
    assert detect(text)["value"] == "vi"
    assert detect(text, {"lang": "fr"})["value"] == "vi"
    assert detect(text, "not a dict")["value"] == "vi"


def test_diacritics_win_over_the_hint() -> None:
    assert detect("cảm ơn", {"lang": "en"})["value"] == "vi"


def test_a_clear_sentence_wins_over_the_hint() -> None:
    assert detect("where can I pay my water bill", {"lang": "vi"})["value"] == "en"
    assert detect("cho toi hoi gio lam viec", {"lang": "en"})["value"] == "vi"


def test_hint_accepts_locale_codes() -> None:
    assert detect("ok", {"lang": "en-US"})["value"] == "en"


def test_entity_has_the_shape_the_language_slot_mapping_needs() -> None:
    entity = detect("xin chào")
    assert entity == {
        "entity": "language",
        "value": "vi",
        "start": 0,
        "end": len("xin chào"),
        "confidence_entity": 1.0,
        "extractor": "LanguageDetector",
    }


def test_existing_entities_are_kept_and_language_is_not_duplicated() -> None:
    message = Message(
        data={TEXT: "mã PA-2611-K7M3Q", ENTITIES: [{"entity": "ticket_code", "value": "x"}]}
    )
    detector = LanguageDetector(LanguageDetector.get_default_config())
    detector.process([message])
    detector.process([message])
    assert [e["entity"] for e in message.get(ENTITIES)] == ["ticket_code", "language"]


def test_guess_says_why() -> None:
    assert detect_language("xin chào").source == "diacritics"
    assert detect_language("hi", "en").source == "metadata"
    assert detect_language("hi").source == "default"
    assert detect_language("where is the office").source == "score"


def test_language_is_also_a_top_level_key_and_the_entity_can_be_switched_off() -> None:
    message = Message(data={TEXT: "where is the office"})
    config = {**LanguageDetector.get_default_config(), "emit_entity": False}
    LanguageDetector(config).process([message])
    assert message.get("language") == "en"
    assert not message.get(ENTITIES)
