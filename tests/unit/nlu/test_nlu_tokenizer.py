"""VietnameseTokenizer: offsets always valid on the original text, whatever residents type."""

from __future__ import annotations

import time
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.normalize import normalize_text, retone_syllable
from bot.nlu.tokenizer import PATTERN_KIND, VietnameseTokenizer, tokenize_text
from bot.text import fold

NASTY = [
    "",
    " ",
    "\n\t  ",
    "😀",
    "😀😀 👍🏽 🇻🇳",
    "!!!???...",
    "\u200b\u200c\u200d\ufeff",
    "đèn\u200b đường\u200d hỏng\ufeff",
    unicodedata.normalize("NFD", "Tôi muốn làm giấy khai sinh ở phường Hoà Thuận"),
    "a\u0301\u0323\u0300",  # one letter, three stacked combining marks
    "\u0301\u0300 dấu đứng đầu",
    "你好，我想投诉路灯坏了",
    "مرحبا، أريد تقديم شكوى",
    "שלום עולם and mixed مرحبا with Tiếng Việt",
    "PA-2611-K7M3Q",
    "pa 2611 k7m3q và 0905 123 456, +84 905 123 456!",
    "Straße İstanbul ﬁle ǅemal",
    "x" * 10_000,
    ("Tôi muốn phản ánh đèn đường hỏng ở hẻm 12. " * 250)[:10_000],
    "___---___",
    "tab\tseparated\u00a0nbsp\u3000ideographic space",
    "a\u0000b\u0007c",
]


def assert_offsets_valid(text: str, tokens: list) -> None:
    previous_end = 0
    for token in tokens:
        assert 0 <= token.start < token.end <= len(text), (text, token)
        assert text[token.start : token.end].strip(), (text, token)
        assert token.start >= previous_end, "tokens must not overlap"
        assert token.text, "token text must not be empty"
        previous_end = token.end


@pytest.mark.parametrize("text", NASTY, ids=range(len(NASTY)))
def test_nasty_inputs_give_tokens_with_valid_offsets(text: str) -> None:
    tokens = tokenize_text(text)
    assert_offsets_valid(text, tokens)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200))
def test_random_unicode_never_crashes_and_offsets_point_into_the_original(text: str) -> None:
    assert_offsets_valid(text, tokenize_text(text))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "hoà",
                "Thuỷ",
                "giấy",
                "khai",
                "sinh",
                "ko",
                "dc",
                "😀",
                "PA-2611-K7M3Q",
                "\u200b",
                "0905 123 456",
                "đường",
                ",",
                " ",
                "  ",
                "\u0301",
                "ạ",
                "A",
                "e",
            ]
        ),
        max_size=30,
    )
)
def test_random_vietnamese_fragments_keep_offsets_valid(parts: list[str]) -> None:
    text = "".join(parts)
    assert_offsets_valid(text, tokenize_text(text))


def test_message_text_is_never_changed() -> None:
    original = unicodedata.normalize("NFD", "Cho em hỏi  thủ tục\u200b làm giấy khai sinh ạ 😀")
    message = Message(data={TEXT: original})
    tokenizer = VietnameseTokenizer(VietnameseTokenizer.get_default_config())
    tokenizer.process([message])
    assert message.get(TEXT) == original
    assert_offsets_valid(original, message.get("text_tokens"))


def test_multi_syllable_words_are_joined_and_span_the_original_syllables() -> None:
    text = "Tôi muốn làm Giấy Khai Sinh cho con"
    tokens = tokenize_text(text)
    joined = [t for t in tokens if "_" in t.text]
    assert joined, [t.text for t in tokens]
    for token in joined:
        assert text[token.start : token.end].lower().split() == token.text.split("_")


def test_lemma_is_the_folded_form() -> None:
    tokens = tokenize_text("Đường Hòa Thuận bị ngập")
    assert [t.lemma for t in tokens] == [fold(t.text) for t in tokens]
    assert all(t.lemma.isascii() for t in tokens)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("ko", "không"),
        ("k", "không"),
        ("hok", "không"),
        ("hong", "không"),
        ("hông", "không"),
        ("dc", "được"),
        ("đc", "được"),
        ("sdt", "số_điện_thoại"),
        ("tn", "tin_nhắn"),
        ("j", "gì"),
        ("bn", "bao_nhiêu"),
        ("ntn", "như_thế_nào"),
        ("r", "rồi"),
        ("vs", "với"),
        ("mik", "mình"),
        ("mk", "mình"),
        ("e", "em"),
        ("cj", "chị"),
    ],
)
def test_chat_shorthand_is_expanded(typed: str, expected: str) -> None:
    tokens = tokenize_text(f"{typed} cần hỏi thủ tục")
    assert tokens[0].text == expected
    assert tokens[0].start == 0 and tokens[0].end == len(typed)


def test_shorthand_a_is_anh_before_words_and_a_particle_at_the_end() -> None:
    assert tokenize_text("a ơi cho em hỏi")[0].text == "anh"
    assert tokenize_text("cảm ơn a")[-1].text == "ạ"


def test_shorthand_only_expands_whole_tokens() -> None:
    texts = [t.text for t in tokenize_text("kobe khong dcm")]
    assert "không" not in texts and "được" not in texts


def test_english_keeps_its_articles_and_letters() -> None:
    tokens = tokenize_text("I want a birth certificate, please. Is it ready?")
    assert [t.text for t in tokens] == [
        "i", "want", "a", "birth", "certificate", "please", "is", "it", "ready",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("old", "new"),
    [("hoà", "hòa"), ("thuỷ", "thủy"), ("khoẻ", "khỏe"), ("hoá", "hóa"), ("quý", "quý"),
     ("hoàng", "hoàng"), ("người", "người"), ("ngoài", "ngoài"), ("giá", "giá"), ("thuở", "thuở")],
)  # fmt: skip
def test_tone_marks_are_placed_one_way(old: str, new: str) -> None:
    assert retone_syllable(old) == new
    assert len(retone_syllable(old)) == len(old)


def test_old_and_new_tone_placement_give_the_same_tokens() -> None:
    old = [t.text for t in tokenize_text("Phường Hoà Thuận, thuỷ điện, sức khoẻ")]
    new = [t.text for t in tokenize_text("Phường Hòa Thuận, thủy điện, sức khỏe")]
    assert old == new


def test_nfc_and_nfd_input_give_the_same_tokens() -> None:
    text = "Tôi muốn phản ánh đèn đường hỏng ở phường Hoà Khánh"
    nfc = tokenize_text(unicodedata.normalize("NFC", text))
    nfd = tokenize_text(unicodedata.normalize("NFD", text))
    assert [t.text for t in nfc] == [t.text for t in nfd]
    assert [t.lemma for t in nfc] == [t.lemma for t in nfd]


def test_normalised_copy_is_lower_case_nfc_without_zero_width() -> None:
    assert normalize_text("ĐÈN\u200b ĐƯỜNG") == "đèn đường"


def test_ticket_codes_and_phone_numbers_stay_single_tokens() -> None:
    text = "mã pa 2611 k7m3q, sđt 0905 123 456"
    tokens = tokenize_text(text)
    spans = [text[t.start : t.end] for t in tokens]
    assert "pa 2611 k7m3q" in spans
    assert "0905 123 456" in spans
    assert "pa-2611-k7m3q" in [t.text for t in tokens]


def test_entity_boundaries_are_respected_in_training_examples() -> None:
    text = "làm giấy khai sinh"
    start = text.index("khai")
    message = Message(
        data={
            TEXT: text,
            "intent": "ask_service_info",
            ENTITIES: [{"entity": "service", "start": start, "end": len(text), "value": "x"}],
        }
    )
    tokenizer = VietnameseTokenizer(VietnameseTokenizer.get_default_config())
    tokenizer.process_training_data(TrainingData([message]))
    tokens = message.get("text_tokens")
    assert start in {t.start for t in tokens}
    assert len(text) in {t.end for t in tokens}


def test_long_text_is_fast() -> None:
    text = ("Tôi muốn phản ánh đèn đường hỏng ở hẻm 12 phường Hoà Thuận. " * 200)[:10_000]
    tokenize_text(text)  # load the segmenter
    started = time.perf_counter()
    tokens = tokenize_text(text)
    assert time.perf_counter() - started < 1.0
    assert 0 < len(tokens) <= 200


def test_ticket_and_phone_tokens_say_what_they_are() -> None:
    tokens = tokenize_text("mã pa 2611 k7m3q, sđt 0905 123 456")
    kinds = {t.text: t.get(PATTERN_KIND) for t in tokens}
    assert kinds["pa-2611-k7m3q"] == "ticket_code"
    assert kinds["0905123456"] == "phone"
    assert kinds["mã"] is None


def test_tokens_work_with_rasas_regex_featurizer(tmp_path) -> None:
    from rasa.engine.graph import ExecutionContext
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.nlu.featurizers.sparse_featurizer.regex_featurizer import RegexFeaturizer

    message = Message(data={TEXT: "mã pa 2611 k7m3q, sđt 0905 123 456", "intent": "inform"})
    tokenizer = VietnameseTokenizer(VietnameseTokenizer.get_default_config())
    data = tokenizer.process_training_data(TrainingData([message]))
    featurizer = RegexFeaturizer(
        RegexFeaturizer.get_default_config(),
        LocalModelStorage(tmp_path),
        Resource("regex"),
        ExecutionContext(graph_schema=None, model_id="t"),  # type: ignore[arg-type]
        known_patterns=[{"name": "phone", "pattern": r"0\d{3} \d{3} \d{3}"}],
    )
    featurizer.process_training_data(data)
    sequence, _ = message.get_sparse_features(TEXT)
    assert sequence is not None and sequence.features.shape[0] == len(message.get("text_tokens"))
