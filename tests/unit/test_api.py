"""The gateway's /api/chat input validation and auth, with a recording stand-in for Rasa's
REST endpoint that proves refused requests never reach it."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot import db
from bot.settings import load_settings
from channels.app import create_app

TOKEN = "unit-test-token-123456"


@pytest.fixture
async def rasa_probe():
    """Answers like Rasa's REST channel and records what it was sent."""
    received: list[dict] = []

    async def webhook(request: web.Request) -> web.Response:
        body = await request.json()
        received.append(body)
        return web.json_response([{"recipient_id": body["sender"], "text": "Dạ, em chào anh/chị."}])

    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", webhook)
    server = TestServer(app)
    await server.start_server()
    yield server.port, received
    await server.close()


@pytest.fixture
async def client(tmp_path: Path, rasa_probe):
    port, _ = rasa_probe
    settings = load_settings(
        {
            "TIEPDAN_HOME": str(tmp_path),
            "TIEPDAN_API_TOKEN": TOKEN,
            "RASA_PORT": str(port),
        }
    )
    db.upgrade(settings.database_url)
    test_client = TestClient(TestServer(create_app(settings)))
    await test_client.start_server()
    yield test_client
    await test_client.close()


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_valid_message_is_namespaced_and_answered(client, rasa_probe) -> None:
    response = await client.post(
        "/api/chat", json={"sender": "a", "text": "xin chào", "lang": "vi"}, headers=auth()
    )
    assert response.status == 200
    body = await response.json()
    assert body == {"messages": [{"text": "Dạ, em chào anh/chị.", "buttons": [], "image": None}]}
    _, received = rasa_probe
    assert received[0]["sender"] == "api:a"
    assert received[0]["metadata"]["lang"] == "vi"


async def test_body_sent_without_json_content_type_is_accepted(client) -> None:
    # curl -d sends application/x-www-form-urlencoded; the README's example must work.
    response = await client.post("/api/chat", data='{"sender":"a","text":"hello"}', headers=auth())
    assert response.status == 200


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, 401),
        (auth("wrong"), 401),
        ({"Authorization": TOKEN}, 401),
        ({"Authorization": "Basic x"}, 401),
    ],
)
async def test_missing_or_wrong_token_is_refused(client, rasa_probe, headers, code) -> None:
    response = await client.post("/api/chat", json={"sender": "a", "text": "hi"}, headers=headers)
    assert response.status == code
    assert (await response.json())["error"]["code"] == "unauthorized"
    assert rasa_probe[1] == []


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ('{"sender": "a", "text": ""}', 400, "empty_text"),
        ('{"sender": "a", "text": "   \\n "}', 400, "empty_text"),
        ('{"sender": "a", "text": "' + "x" * 2001 + '"}', 413, "text_too_long"),
        ('{"sender": "a", "text": ', 400, "malformed_json"),
        ("[1, 2]", 400, "invalid_body"),
        ('{"text": "hi"}', 400, "missing_sender"),
        ('{"sender": 5, "text": "hi"}', 400, "missing_sender"),
        ('{"sender": "a", "text": 5}', 400, "missing_text"),
        ('{"sender": "a", "text": "hi", "lang": "fr"}', 400, "invalid_lang"),
        ('{"sender": "' + "s" * 200 + '", "text": "hi"}', 400, "invalid_sender"),
        ("[" * 100000 + "]" * 100000, 413, "body_too_large"),
    ],
)
async def test_bad_input_gets_a_clear_error_and_never_reaches_rasa(
    client, rasa_probe, body, status, code
) -> None:
    response = await client.post("/api/chat", data=body.encode(), headers=auth())
    assert response.status == status
    error = (await response.json())["error"]
    assert error["code"] == code and error["message"]
    assert rasa_probe[1] == []


async def test_invalid_utf8_is_a_400(client, rasa_probe) -> None:
    response = await client.post(
        "/api/chat", data=b'{"sender":"a","text":"\xff\xfe"}', headers=auth()
    )
    assert response.status == 400
    assert rasa_probe[1] == []


async def test_text_of_exactly_2000_characters_is_accepted(client) -> None:
    response = await client.post(
        "/api/chat", json={"sender": "a", "text": "a" * 2000}, headers=auth()
    )
    assert response.status == 200


async def test_rasa_down_gives_a_polite_busy_reply_in_the_residents_language(
    tmp_path: Path,
) -> None:
    settings = load_settings(
        {"TIEPDAN_HOME": str(tmp_path), "TIEPDAN_API_TOKEN": TOKEN, "RASA_PORT": "9"}
    )
    db.upgrade(settings.database_url)
    async with TestClient(TestServer(create_app(settings))) as test_client:
        response = await test_client.post(
            "/api/chat", json={"sender": "a", "text": "mất nước rồi"}, headers=auth()
        )
        assert response.status == 503
        text = (await response.json())["messages"][0]["text"]
        assert "đang bận" in text and "ghi nhận" in text
        response = await test_client.post(
            "/api/chat", json={"sender": "b", "text": "no water", "lang": "en"}, headers=auth()
        )
        assert "busy" in (await response.json())["messages"][0]["text"]
