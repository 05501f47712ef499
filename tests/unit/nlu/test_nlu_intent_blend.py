"""LinearIntentBlender: a small linear model averaged with DIET's ranking (tiny in-memory data)."""

from __future__ import annotations

import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.intent_blend import LinearIntentBlender
from bot.nlu.tokenizer import VietnameseTokenizer

EXAMPLES = {
    "greet": ["xin chào", "chào em", "chào bạn nhé", "hello", "hi there", "chào buổi sáng"],
    "file_complaint": [
        "đèn đường hỏng rồi",
        "nhà tôi mất nước",
        "đường bị ngập nước",
        "the street light is broken",
        "my water is off",
        "rác không ai thu gom",
    ],
    "check_status": [
        "hồ sơ của tôi tới đâu rồi",
        "kiểm tra tình trạng phản ánh",
        "what is the status of my report",
        "phản ánh của tôi xử lý chưa",
        "tra cứu mã hồ sơ",
        "any update on my ticket",
    ],
}
TOKENIZER = VietnameseTokenizer(VietnameseTokenizer.get_default_config())


def message(text: str, ranking: list[tuple[str, float]] | None = None) -> Message:
    msg = Message(data={TEXT: text})
    TOKENIZER.process([msg])
    if ranking:
        msg.set(INTENT, {"name": ranking[0][0], "confidence": ranking[0][1]})
        msg.set(INTENT_RANKING_KEY, [{"name": n, "confidence": c} for n, c in ranking])
    return msg


def trained(tmp_path, **config) -> LinearIntentBlender:
    examples = [
        Message(data={TEXT: text, INTENT: intent})
        for intent, texts in EXAMPLES.items()
        for text in texts
    ]
    data = TOKENIZER.process_training_data(TrainingData(examples))
    storage = LocalModelStorage(tmp_path)
    resource = Resource("blend")
    settings = {**LinearIntentBlender.get_default_config(), **config}
    LinearIntentBlender(settings, storage, resource).train(data)
    context = ExecutionContext(graph_schema=None, model_id="test")  # type: ignore[arg-type]
    return LinearIntentBlender.load(settings, storage, resource, context)


def test_linear_model_alone_classifies_unaccented_text(tmp_path) -> None:
    blender = trained(tmp_path, diet_weight=0.0)
    for text, expected in [("xin chao", "greet"), ("den duong hong", "file_complaint"),
                           ("ho so toi toi dau roi", "check_status")]:  # fmt: skip
        msg = message(text)
        blender.process([msg])
        assert msg.get(INTENT)["name"] == expected, text


def test_blend_averages_the_two_rankings(tmp_path) -> None:
    blender = trained(tmp_path, diet_weight=0.5)
    msg = message("đèn đường hỏng", [("greet", 0.9), ("file_complaint", 0.1)])
    blender.process([msg])
    ranking = {item["name"]: item["confidence"] for item in msg.get(INTENT_RANKING_KEY)}
    assert sum(ranking.values()) == pytest.approx(1.0, abs=1e-6)
    assert msg.get(INTENT)["name"] == max(ranking, key=ranking.get)
    assert 0.05 < ranking["greet"] < 0.9  # pulled down from DIET's 0.9


def test_full_diet_weight_keeps_diets_choice(tmp_path) -> None:
    blender = trained(tmp_path, diet_weight=1.0)
    msg = message("đèn đường hỏng", [("greet", 0.9), ("file_complaint", 0.1)])
    blender.process([msg])
    assert msg.get(INTENT) == {"name": "greet", "confidence": pytest.approx(0.9)}


def test_messages_without_tokens_are_left_alone(tmp_path) -> None:
    blender = trained(tmp_path)
    msg = message("   ", [("greet", 0.7)])
    blender.process([msg])
    assert msg.get(INTENT) == {"name": "greet", "confidence": 0.7}


def test_untrained_blender_passes_diet_through(tmp_path) -> None:
    storage = LocalModelStorage(tmp_path)
    blender = LinearIntentBlender(LinearIntentBlender.get_default_config(), storage, Resource("x"))
    msg = message("xin chào", [("greet", 0.8)])
    blender.process([msg])
    assert msg.get(INTENT)["name"] == "greet"


@pytest.mark.parametrize("text", ["😀", "!!!", "你好，我想投诉", "zzqxj"])
def test_messages_without_a_known_word_get_no_confidence(tmp_path, text: str) -> None:
    blender = trained(tmp_path, diet_weight=0.3)
    msg = message(text, [("greet", 0.95), ("file_complaint", 0.05)])
    blender.process([msg])
    assert msg.get(INTENT)["confidence"] == 0.0


def test_a_known_word_is_enough_for_a_confident_answer(tmp_path) -> None:
    blender = trained(tmp_path, diet_weight=0.3)
    msg = message("xin chào 😀", [("greet", 0.95), ("file_complaint", 0.05)])
    blender.process([msg])
    assert msg.get(INTENT)["name"] == "greet"
    assert msg.get(INTENT)["confidence"] > 0.5


def test_a_bare_phone_number_or_ticket_code_counts_as_known(tmp_path) -> None:
    examples = {
        **EXAMPLES,
        "inform": ["số của tôi là 0905123456", "0912 345 678", "sđt 0987654321"],
    }
    messages = [Message(data={TEXT: t, INTENT: i}) for i, ts in examples.items() for t in ts]
    data = TOKENIZER.process_training_data(TrainingData(messages))
    storage = LocalModelStorage(tmp_path)
    settings = {**LinearIntentBlender.get_default_config(), "diet_weight": 0.0}
    blender = LinearIntentBlender(settings, storage, Resource("b"))
    blender.train(data)
    msg = message("0777.888.999")
    blender.process([msg])
    assert msg.get(INTENT)["name"] == "inform"
    assert msg.get(INTENT)["confidence"] > 0.3
