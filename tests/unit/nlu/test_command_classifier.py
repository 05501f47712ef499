"""CorrectionCommandClassifier: the complaint summary's edit commands are `inform`, whatever
the model guessed; other messages keep the model's intent."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.command_classifier import CorrectionCommandClassifier


def _message(text: str, intent: str, confidence: float) -> Message:
    message = Message(data={"text": text})
    message.set("intent", {"name": intent, "confidence": confidence})
    message.set(
        "intent_ranking",
        [{"name": intent, "confidence": confidence}, {"name": "inform", "confidence": 0.1}],
    )
    return message


@pytest.mark.parametrize(
    ("text", "guessed"),
    [
        ("change address", "ask_contact"),  # what the model made of it once
        ("sửa địa chỉ", "affirm"),  # at the summary, affirm submits the report
        ("doi sdt", "nlu_fallback"),
        ("Sửa lại nội dung giúp em", "file_complaint"),
    ],
)
def test_edit_commands_become_inform(text: str, guessed: str) -> None:
    message = _message(text, guessed, 0.6)
    CorrectionCommandClassifier({}).process([message])
    assert message.get("intent") == {"name": "inform", "confidence": 1.0}
    ranking = message.get("intent_ranking")
    assert ranking[0]["name"] == "inform" and [r["name"] for r in ranking].count("inform") == 1
    assert guessed in [r["name"] for r in ranking]


@pytest.mark.parametrize(
    "text",
    [
        "đèn đường hư lâu rồi không ai sửa, địa chỉ 12 Lê Lợi phường 7 quận 3",
        "how do I change my address on my residence registration with the ward office",
        "/affirm",
        "",
    ],
)
def test_other_messages_keep_their_intent(text: str) -> None:
    message = _message(text, "file_complaint", 0.8)
    CorrectionCommandClassifier({}).process([message])
    assert message.get("intent") == {"name": "file_complaint", "confidence": 0.8}
