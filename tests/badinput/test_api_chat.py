"""`POST /api/chat` against the committed corpus of hostile texts and malformed bodies.

Every answer is below 500 and, when refused, names what is wrong; a refused request leaves
no trace in the database, an accepted one is stored exactly once as the resident's text.
"""

from __future__ import annotations

import json
import unicodedata

from sqlalchemy import func, select

from bot.messages import InboundMessage
from tests.badinput.conftest import corpus_strings

TOKEN = "unit-test-token-123456"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
STRINGS = corpus_strings()


def stored_count(gateway) -> int:
    with gateway.session() as session:
        return session.scalar(select(func.count()).select_from(InboundMessage))


def expected_outcome(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "invalid_text"
    if len(text) > 2000:
        return "text_too_long"
    visible = "".join(c for c in text if unicodedata.category(c) != "Cc" or c in "\t\n\r")
    return "empty_text" if not visible.strip() else "answered"


async def test_every_corpus_text_is_answered_or_refused_clearly(start_gateway, rasa) -> None:
    gateway = await start_gateway({"RATE_LIMIT_PER_SENDER": "0"})
    outcomes: dict[str, int] = {}
    for number, case in enumerate(STRINGS):
        before = stored_count(gateway)
        # Raw JSON with ASCII escapes: lone surrogates travel as \\udXXX, as a client may send.
        raw = json.dumps({"sender": f"corpus-{number}", "text": case["text"]})
        response = await gateway.client.post(
            "/api/chat", data=raw, headers={**HEADERS, "Content-Type": "application/json"}
        )
        body = await response.json()
        expected = expected_outcome(case["text"])
        outcomes[expected] = outcomes.get(expected, 0) + 1
        where = f"case {number} ({case['kind']}): {case['text'][:40]!r}"
        if expected == "answered":
            assert response.status == 200, where
            assert body["messages"] and body["messages"][0]["text"], where
            assert stored_count(gateway) == before + 1, where
            sent = rasa.received[-1]["message"]
            assert "\x00" not in sent and unicodedata.is_normalized("NFC", sent), where
        else:
            assert response.status in (400, 413), where
            assert body["error"]["code"] == expected, where
            assert body["error"]["message"], where
            assert stored_count(gateway) == before, where
    assert outcomes["answered"] > 200  # the corpus is mostly texts a resident could send


def malformed_bodies() -> list[tuple[str, bytes, str]]:
    """(name, raw body, the error code expected)."""
    deep = b"[" * 30_000 + b"]" * 30_000
    deep_object = b'{"a":' * 10_000 + b"1" + b"}" * 10_000
    cases = [
        ("empty", b"", "malformed_json"),
        ("not json", b"xin chao", "malformed_json"),
        ("truncated", b'{"sender": "a", "text": "xin', "malformed_json"),
        ("trailing comma", b'{"sender": "a", "text": "x",}', "malformed_json"),
        ("single quotes", b"{'sender': 'a', 'text': 'x'}", "malformed_json"),
        ("invalid utf-8", b'{"sender": "a", "text": "\xff\xfe"}', "invalid_encoding"),
        ("latin-1", '{"sender": "a", "text": "ch\xe0o"}'.encode("latin-1"), "invalid_encoding"),
        ("utf-16", '{"sender": "a", "text": "x"}'.encode("utf-16"), "invalid_encoding"),
        ("overlong utf-8", b'{"sender": "a", "text": "\xc0\xaf"}', "invalid_encoding"),
        ("nul byte", b'{"sender": "a"\x00, "text": "x"}', "malformed_json"),
        ("deep array", deep, "malformed_json"),
        ("deep object", deep_object, "malformed_json"),
        ("array", b'[{"sender": "a", "text": "x"}]', "invalid_body"),
        ("string", b'"xin chao"', "invalid_body"),
        ("number", b"42", "invalid_body"),
        ("null", b"null", "invalid_body"),
        ("true", b"true", "invalid_body"),
        ("no sender", b'{"text": "x"}', "missing_sender"),
        ("sender null", b'{"sender": null, "text": "x"}', "missing_sender"),
        ("sender number", b'{"sender": 42, "text": "x"}', "missing_sender"),
        ("sender list", b'{"sender": ["a"], "text": "x"}', "missing_sender"),
        ("sender object", b'{"sender": {"id": 1}, "text": "x"}', "missing_sender"),
        ("sender blank", b'{"sender": "   ", "text": "x"}', "missing_sender"),
        (
            "sender too long",
            json.dumps({"sender": "a" * 129, "text": "x"}).encode(),
            "invalid_sender",
        ),
        ("sender newline", b'{"sender": "a\\nb", "text": "x"}', "invalid_sender"),
        ("sender nul", b'{"sender": "a\\u0000b", "text": "x"}', "invalid_sender"),
        ("sender surrogate", b'{"sender": "a\\ud800", "text": "x"}', "invalid_sender"),
        ("sender rtl override", b'{"sender": "a\\u202eb", "text": "x"}', "invalid_sender"),
        ("no text", b'{"sender": "a"}', "missing_text"),
        ("text null", b'{"sender": "a", "text": null}', "missing_text"),
        ("text number", b'{"sender": "a", "text": 1}', "missing_text"),
        ("text list", b'{"sender": "a", "text": ["x"]}', "missing_text"),
        ("text object", b'{"sender": "a", "text": {"vi": "x"}}', "missing_text"),
        ("text bool", b'{"sender": "a", "text": false}', "missing_text"),
        ("text empty", b'{"sender": "a", "text": ""}', "empty_text"),
        ("lang number", b'{"sender": "a", "text": "x", "lang": 1}', "invalid_lang"),
        ("lang unknown", b'{"sender": "a", "text": "x", "lang": "fr"}', "invalid_lang"),
        ("lang upper", b'{"sender": "a", "text": "x", "lang": "VI"}', "invalid_lang"),
        ("lang list", b'{"sender": "a", "text": "x", "lang": ["vi"]}', "invalid_lang"),
        ("huge body", b'{"sender": "a", "text": "' + b"x" * 70_000 + b'"}', "body_too_large"),
        ("nan", b'{"sender": "a", "text": NaN}', "missing_text"),
        ("duplicate keys", b'{"sender": "a", "text": 1, "text": 2}', "missing_text"),
        ("big number", b'{"sender": "a", "text": 1' + b"0" * 5000 + b"}", "malformed_json"),
    ]
    return cases


async def test_malformed_bodies_are_refused_with_a_reason(start_gateway) -> None:
    gateway = await start_gateway({})
    for name, raw, code in malformed_bodies():
        response = await gateway.client.post(
            "/api/chat", data=raw, headers={**HEADERS, "Content-Type": "application/json"}
        )
        assert 400 <= response.status < 500, name
        body = await response.json()
        assert body["error"]["code"] == code, name
        assert body["error"]["message"], name
    assert stored_count(gateway) == 0


WRONG_AUTHORIZATION = [
    None,
    "",
    "Bearer",
    "Bearer ",
    "Basic dXNlcjpwYXNz",
    f"Bearer {TOKEN}x",
    f"Bearer {TOKEN[:-1]}",
    f"bearer\t{TOKEN}\x00",
    "Bearer ' OR '1'='1",
    "Bearer " + "A" * 8000,
    "Bearer xin-chào",
]


async def test_a_wrong_token_is_refused_without_storing(start_gateway) -> None:
    gateway = await start_gateway({"RATE_LIMIT_REFUSED": "0"})
    for header in WRONG_AUTHORIZATION:
        headers = {"Content-Type": "application/json"}
        if header is not None:
            headers["Authorization"] = header.encode("utf-8").decode("latin-1")
        response = await gateway.client.post(
            "/api/chat", data=b'{"sender": "a", "text": "x"}', headers=headers
        )
        if header is not None and "\x00" in header:  # refused by the HTTP parser itself
            assert response.status == 400, header
            continue
        assert response.status == 401, header
        assert (await response.json())["error"]["code"] == "unauthorized"
    assert stored_count(gateway) == 0
