"""Property-based tests (hypothesis) for the parsers every resident's input goes through:
whatever arrives, they return an answer or a named refusal and never raise."""

from __future__ import annotations

import json
import re
import string
import unicodedata

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.nlu.language import detect_language
from bot.nlu.patterns import find_codes_and_phones, normalize_phone, normalize_ticket_code
from bot.nlu.ticket_phone import extract_ticket_codes_and_phones
from bot.nlu.tokenizer import tokenize_text
from bot.text import NotText, clean, fold, resident_text, strip_diacritics
from channels.api import parse_chat_request
from channels.widget.transport import parse_message
from tests.badinput.conftest import corpus_strings

CODE = re.compile(r"PA-\d{4}-[23456789ABCDEFGHJKLMNPQRSTUVWXYZ]{5}")
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# JSON values of every shape, including the wrong ones.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
chat_bodies = st.fixed_dictionaries(
    {},
    optional={"sender": json_values, "text": json_values, "lang": json_values},
)
vietnamese = st.text(
    alphabet=st.sampled_from(
        list(string.ascii_letters + string.digits + " .,?!-")
        + list("àáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ")
        + ["\u0300", "\u0301", "\u0303", "\u0309", "\u0323", "\u200b", "\u202e", "\ufeff"]
    ),
    max_size=80,
)
any_text = st.text(max_size=200) | vietnamese


def check_chat_outcome(raw: bytes) -> None:
    request, failure = parse_chat_request(raw)
    assert (request is None) != (failure is None)
    if failure is not None:
        assert 400 <= failure.status < 500
        body = json.loads(failure.text or "{}")
        assert body["error"]["code"] and body["error"]["message"]
    else:
        assert isinstance(request["sender"], str) and request["sender"]
        assert isinstance(request["text"], str) and request["text"].strip()
        assert request["lang"] in (None, "vi", "en")


@FAST
@given(chat_bodies)
def test_chat_bodies_of_any_shape_are_parsed_or_refused(body: dict) -> None:
    check_chat_outcome(json.dumps(body).encode())


@FAST
@given(st.binary(max_size=300))
def test_chat_bodies_of_any_bytes_are_parsed_or_refused(raw: bytes) -> None:
    check_chat_outcome(raw)


@FAST
@given(
    st.fixed_dictionaries(
        {"type": st.just("message")},
        optional={
            "id": json_values | st.uuids().map(str),
            "text": json_values,
            "payload": json_values,
            "lang": json_values,
        },
    )
)
def test_widget_frames_of_any_shape_are_accepted_or_refused(frame: dict) -> None:
    message, problem = parse_message(frame)
    assert (message is None) != (problem is None)
    if problem is not None:
        assert problem["type"] == "error" and problem["code"] and problem["message"]
    else:
        assert message["text"].strip() and message["lang"] in (None, "vi", "en")


@FAST
@given(any_text)
def test_resident_text_is_storable_or_refused(text: str) -> None:
    try:
        cleaned = resident_text(text)
    except NotText:
        assert any(0xD800 <= ord(c) <= 0xDFFF for c in text)
        return
    cleaned.encode("utf-8")  # always storable
    assert "\x00" not in cleaned
    assert unicodedata.is_normalized("NFC", cleaned)


@FAST
@given(any_text)
def test_folding_is_stable(text: str) -> None:
    # A mark NFC cannot fold into its letter (two accents on one vowel) stays a character
    # of its own: folding keeps lengths so that offsets stay valid.
    assume(not any(unicodedata.combining(c) for c in unicodedata.normalize("NFC", text)))
    assert fold(fold(text)) == fold(text)
    assert len(strip_diacritics(clean(text))) == len(clean(text))


@FAST
@given(any_text)
def test_codes_and_phones_found_anywhere_are_well_formed(text: str) -> None:
    codes, phones = find_codes_and_phones(text)
    for match in codes:
        assert CODE.fullmatch(match.value) and 0 <= match.start < match.end <= len(text)
    for match in phones:
        assert match.value.isdigit() and match.value.startswith("0")
        assert 0 <= match.start < match.end <= len(text)
    normalize_ticket_code(text)
    normalize_phone(text)


@FAST
@given(any_text)
def test_tokens_point_into_the_text(text: str) -> None:
    for token in tokenize_text(text):
        assert 0 <= token.start < token.end <= len(text), (text, token.text)


def test_the_nlu_parts_take_every_corpus_text() -> None:
    """Tokenizer, language detector and entity extractor over the committed corpus."""
    for case in corpus_strings():
        text = case["text"]
        for token in tokenize_text(text):
            assert 0 <= token.start < token.end <= len(text), case
        guess = detect_language(text, hint="en")
        assert guess.language in ("vi", "en"), case
        for entity in extract_ticket_codes_and_phones(text, []):
            assert text[entity["start"] : entity["end"]], case
