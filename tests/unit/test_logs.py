"""Structured logs: one JSON object per line, phones / ID numbers / e-mails masked wherever
they appear (message, arguments, traceback, extra fields), a request id on every gateway
response and on the log lines of that request, and no message text at INFO."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot import logs
from tests.unit.test_api import auth, client, rasa_probe  # noqa: F401

RESIDENT_TEXT = "Cống trước nhà tôi bị tắc, gọi 0912 345 678, CCCD 001089012345, hoa@example.vn"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("gọi 0912345678 nhé", "gọi [phone …78] nhé"),
        ("gọi 0912 345 678 nhé", "gọi [phone …78] nhé"),
        ("số 0912.345.678", "số [phone …78]"),
        ("+84 912 345 678", "[phone …78]"),
        ("84912345678", "[phone …78]"),
        ("máy bàn 028 3829 6052", "máy bàn [phone …52]"),
        ("CCCD 001089012345.", "CCCD [id]."),
        ("mail Nguyen.Hoa+pa@songthu.gov.vn ạ", "mail [email] ạ"),
    ],
)
def test_personal_numbers_and_addresses_are_masked(text: str, masked: str) -> None:
    assert logs.mask(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "ticket PA-2611-K7M3Q moved to resolved",
        "outbox 1234567: will retry at 2026-11-21 05:20:01 UTC",
        "model warmed up in 0.123456789 s",
        "handled 10 update(s) in 1.0912345678 s",
        "sender tg:987654321",
        "sender tg:8412345678",
    ],
)
def test_ordinary_log_lines_are_left_alone(text: str) -> None:
    assert logs.mask(text) == text


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """What the gateway's handler writes, at INFO, for the duration of a test."""
    stream = io.StringIO()
    handler = logs.handler(stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_each_line_is_one_json_object_with_everything_masked(captured: io.StringIO) -> None:
    log = logging.getLogger("tiepdan.test")
    log.warning("could not reach %s", "0987 111 222", extra={"contact": "hoa@example.vn"})
    try:
        raise ValueError(f"bad row: {RESIDENT_TEXT}")
    except ValueError:
        log.exception("saving failed for %s", "001089012345")
    first, second = lines(captured)
    assert first["level"] == "WARNING" and first["logger"] == "tiepdan.test"
    assert first["msg"] == "could not reach [phone …22]"
    assert first["contact"] == "[email]"
    assert second["msg"] == "saving failed for [id]" and "ValueError" in second["exc"]
    written = captured.getvalue()
    for secret in ("0912 345 678", "001089012345", "hoa@example.vn", "0987 111 222"):
        assert secret not in written


async def test_every_response_carries_a_request_id_that_its_log_lines_share(
    client,  # noqa: F811
    captured: io.StringIO,
) -> None:
    refused = await client.post("/api/chat", json={"sender": "a", "text": "hi"})
    assert refused.status == 401
    generated = refused.headers["X-Request-Id"]
    assert len(generated) == 16

    answered = await client.post(
        "/api/chat", json={"sender": "a", "text": "xin chào"}, headers=auth()
    )
    assert answered.status == 200
    assert answered.headers["X-Request-Id"] not in {generated, ""}

    missing = await client.get("/no-such-page", headers={"X-Request-Id": "proxy-abc-12345"})
    assert missing.status == 404
    assert missing.headers["X-Request-Id"] == "proxy-abc-12345"  # a proxy's id is kept
    forged = await client.get(
        "/healthz/live", headers={"X-Request-Id": "<script>alert(1)</script>"}
    )
    assert forged.headers["X-Request-Id"] != "<script>alert(1)</script>"

    access = {
        line["request_id"]: line for line in lines(captured) if line["logger"] == "tiepdan.http"
    }
    assert access[generated]["msg"] == "POST /api/chat 401" and access[generated]["status"] == 401
    assert access["proxy-abc-12345"]["status"] == 404
    assert access[answered.headers["X-Request-Id"]]["ms"] >= 0


async def test_no_message_text_reaches_the_logs_at_info(
    client,  # noqa: F811
    rasa_probe,  # noqa: F811
    captured: io.StringIO,
) -> None:
    response = await client.post(
        "/api/chat", json={"sender": "hoa", "text": RESIDENT_TEXT}, headers=auth()
    )
    assert response.status == 200
    _, received = rasa_probe
    assert received[-1]["message"] == RESIDENT_TEXT  # it did go through
    written = captured.getvalue()
    assert written, "the request was logged"
    for fragment in ("Cống trước nhà", "0912 345 678", "001089012345", "hoa@example.vn"):
        assert fragment not in written


def test_database_errors_do_not_carry_what_the_resident_wrote(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    from bot.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE note (body TEXT UNIQUE)"))
        connection.execute(text("INSERT INTO note VALUES (:body)"), {"body": RESIDENT_TEXT})
    with pytest.raises(IntegrityError) as failed, engine.begin() as connection:
        connection.execute(text("INSERT INTO note VALUES (:body)"), {"body": RESIDENT_TEXT})
    engine.dispose()
    assert "UNIQUE constraint failed" in str(failed.value)
    assert "Cống" not in str(failed.value) and "hidden" in str(failed.value)


# Names that hold what a resident wrote (or a whole platform update) in our code.
BODY_NAMES = {"text", "body", "payload", "data", "comment", "description", "rasa_text", "entry"}


def _names(node):  # type: ignore[no-untyped-def]
    import ast

    if (
        isinstance(node, ast.Subscript)
        and isinstance(node.slice, ast.Constant)
        and str(node.slice.value).endswith("id")
    ):
        return  # data["update_id"] is an id, not the update
    for child in ast.walk(node):
        if isinstance(child, ast.Name):
            yield child.id
        elif isinstance(child, ast.Attribute):
            yield child.attr


def test_no_log_call_at_info_or_above_passes_a_message_body() -> None:
    import ast
    from pathlib import Path

    root = Path(__file__).parents[2]
    found = []
    for folder in ("bot", "channels", "actions"):
        for path in sorted((root / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for call in ast.walk(tree):
                if not (
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Attribute)
                    and call.func.attr in {"info", "warning", "error", "exception", "critical"}
                    and isinstance(call.func.value, ast.Name)
                    and call.func.value.id in {"log", "logger", "logging"}
                ):
                    continue
                used = {name for arg in call.args[1:] for name in _names(arg)} & BODY_NAMES
                if used:
                    found.append(f"{path.relative_to(root)}:{call.lineno} logs {sorted(used)}")
    assert not found, "message bodies belong at DEBUG: " + "; ".join(found)
