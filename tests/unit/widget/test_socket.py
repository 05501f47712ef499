"""The widget's WebSocket against the real gateway app (Rasa replaced by a recording stand-in):
sessions, acknowledgements, de-duplication of resent messages, history, bad input, origins."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bot import db
from bot.messages import InboundMessage
from bot.widget_messages import WidgetMessage
from channels.app import create_app
from channels.widget.sessions import signing_key, verify
from tests.unit.widget.conftest import (
    EMBEDDING_SITE,
    hello,
    receive_until,
    typing_off,
    widget_settings,
)


def message(text: str, **extra: object) -> dict[str, object]:
    return {"type": "message", "id": str(uuid.uuid4()), "text": text, "lang": "vi", **extra}


async def test_first_hello_gets_a_signed_session_and_an_empty_history(client, settings) -> None:
    async with client.ws_connect("/widget/ws") as ws:
        welcome = await hello(ws)
    assert welcome["history"] == [] and welcome["typing"] is False
    session_id = verify(signing_key(settings), welcome["session"])
    assert session_id and welcome["session"].startswith(session_id + ".")


async def test_message_is_acknowledged_answered_and_sent_to_rasa_as_the_web_sender(
    client, settings, rasa_probe
) -> None:
    async with client.ws_connect("/widget/ws") as ws:
        welcome = await hello(ws)
        sent = message("xin chào")
        await ws.send_json(sent)
        frames = await receive_until(ws, typing_off)
    session_id = verify(signing_key(settings), welcome["session"])
    ack = frames[0]
    assert ack == {"type": "ack", "id": sent["id"], "seq": ack["seq"], "duplicate": False}
    bubbles = [f["bubble"] for f in frames if f["type"] == "message"]
    assert [(b["author"], b["text"]) for b in bubbles] == [
        ("resident", "xin chào"),
        ("assistant", "Dạ, em chào anh/chị."),
    ]
    assert bubbles[0]["client_id"] == sent["id"] and bubbles[0]["seq"] == ack["seq"]
    assert {"type": "typing", "on": True} in frames
    assert rasa_probe.received[0]["sender"] == f"web:{session_id}"
    assert rasa_probe.received[0]["metadata"] == {
        "lang": "vi",
        "channel": "widget",
        "inbound_id": 1,
    }


async def test_resent_message_is_acknowledged_again_but_stored_and_answered_once(
    client, rasa_probe, sessions
) -> None:
    sent = message("đèn đường hỏng")
    async with client.ws_connect("/widget/ws") as ws:
        welcome = await hello(ws)
        await ws.send_json(sent)
        first = await receive_until(ws, typing_off)
    # The connection dropped before the widget saw the ack: it reconnects and resends.
    async with client.ws_connect("/widget/ws") as ws:
        await hello(ws, welcome["session"], after=first[0]["seq"])
        await ws.send_json(sent)
        again = await receive_until(ws, lambda f: f["type"] == "ack")
        # Nothing else follows: a later message is answered next, not the duplicate.
        await ws.send_json(message("còn nữa"))
        later = await receive_until(ws, typing_off)
    assert again[-1] == {"type": "ack", "id": sent["id"], "seq": first[0]["seq"], "duplicate": True}
    assert rasa_probe.texts() == ["đèn đường hỏng", "còn nữa"]
    assert [f["bubble"]["text"] for f in later if f["type"] == "message"] == [
        "còn nữa",
        "Dạ, em chào anh/chị.",
    ]
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(WidgetMessage)) == 4
        assert session.scalar(select(func.count()).select_from(InboundMessage)) == 2


async def test_resend_while_the_first_copy_is_still_being_answered_is_answered_once(
    client, rasa_probe
) -> None:
    rasa_probe.delay = 0.5
    sent = message("mất nước")
    async with client.ws_connect("/widget/ws") as first_socket:
        welcome = await hello(first_socket)
        await first_socket.send_json(sent)
        await receive_until(first_socket, lambda f: f["type"] == "ack")
    async with client.ws_connect("/widget/ws") as ws:
        await hello(ws, welcome["session"], after=0)
        await ws.send_json(sent)
        frames = await receive_until(ws, typing_off)
    replies = [f for f in frames if f["type"] == "message" and f["bubble"]["author"] == "assistant"]
    assert len(replies) == 1
    assert rasa_probe.texts() == ["mất nước"]


async def test_history_is_restored_in_order_and_after_the_last_seq_seen(client) -> None:
    async with client.ws_connect("/widget/ws") as ws:
        welcome = await hello(ws)
        await ws.send_json(message("xin chào"))
        await receive_until(ws, typing_off)
        await ws.send_json(message("Em giúp được gì?", payload="/ask_capabilities"))
        await receive_until(ws, typing_off)
    async with client.ws_connect("/widget/ws") as ws:
        restored = await hello(ws, welcome["session"])
    history = restored["history"]
    assert [(b["author"], b["text"]) for b in history] == [
        ("resident", "xin chào"),
        ("assistant", "Dạ, em chào anh/chị."),
        ("resident", "Em giúp được gì?"),
        ("assistant", "Dạ, em có thể giúp anh/chị:"),
    ]
    assert [b["seq"] for b in history] == sorted(b["seq"] for b in history)
    assert history[3]["buttons"][0] == {"title": "Gửi phản ánh", "payload": "/file_complaint"}
    async with client.ws_connect("/widget/ws") as ws:
        later = await hello(ws, welcome["session"], after=history[1]["seq"])
    assert later["history"] == history[2:]


async def test_chip_sends_its_payload_to_rasa_and_keeps_its_title_in_the_transcript(
    client, rasa_probe
) -> None:
    async with client.ws_connect("/widget/ws") as ws:
        await hello(ws)
        await ws.send_json(message("Gửi phản ánh", payload="/file_complaint"))
        frames = await receive_until(ws, typing_off)
    assert rasa_probe.texts() == ["/file_complaint"]
    assert frames[1]["bubble"]["text"] == "Gửi phản ánh"


async def test_a_forged_or_tampered_session_gets_a_new_session_and_no_history(client) -> None:
    async with client.ws_connect("/widget/ws") as ws:
        welcome = await hello(ws)
        await ws.send_json(message("số điện thoại của tôi là 0905 123 456"))
        await receive_until(ws, typing_off)
    session_id = welcome["session"].split(".")[0]
    for forged in (session_id, f"{session_id}.{'0' * 32}", f"{session_id}x.{'a' * 32}", 42):
        async with client.ws_connect("/widget/ws") as ws:
            other = await hello(ws, forged)  # type: ignore[arg-type]
        assert other["history"] == []
        assert other["session"].split(".")[0] != session_id


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "malformed_json"),
        ("[1, 2]", "malformed_json"),
        ('{"type": "dance"}', "unknown_type"),
        ('{"type": "message", "id": "x", "text": "hi"}', "invalid_id"),
        ('{"type": "message", "id": "11111111-2222", "text": "   "}', "empty_text"),
        ('{"type": "message", "id": "11111111-2222", "text": 5}', "empty_text"),
        (
            '{"type": "message", "id": "11111111-2222", "text": "' + "x" * 2001 + '"}',
            "text_too_long",
        ),
        ('{"type": "message", "id": "11111111-2222", "text": "hi", "lang": "fr"}', "invalid_lang"),
        (
            '{"type": "message", "id": "11111111-2222", "text": "hi", "payload": 3}',
            "invalid_payload",
        ),
        ('{"type": "hello"}', "already_started"),
    ],
)
async def test_bad_frames_get_a_clear_error_never_reach_rasa_and_keep_the_socket(
    client, rasa_probe, frame, code
) -> None:
    async with client.ws_connect("/widget/ws") as ws:
        await hello(ws)
        await ws.send_str(frame)
        error = (await receive_until(ws, lambda f: f["type"] == "error"))[-1]
        assert error["code"] == code and error["message"]
        await ws.send_json(message("xin chào"))
        frames = await receive_until(ws, typing_off)
    assert frames[0]["type"] == "ack"
    assert rasa_probe.texts() == ["xin chào"]


async def test_a_connection_that_does_not_start_with_hello_is_closed(client, rasa_probe) -> None:
    async with client.ws_connect("/widget/ws") as ws:
        await ws.send_json(message("xin chào"))
        error = (await receive_until(ws, lambda f: f["type"] == "error"))[-1]
        assert error["code"] == "hello_required"
        closing = await ws.receive()
    assert closing.type.name in {"CLOSE", "CLOSED", "CLOSING"}
    assert rasa_probe.received == []


async def test_plain_http_get_of_the_socket_is_a_json_400(client) -> None:
    response = await client.get("/widget/ws")
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "websocket_required"


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        (EMBEDDING_SITE, True),
        (EMBEDDING_SITE.upper() + "/", True),
        ("https://evil.example", False),
        ("null", False),
        ("http://songthu.example", False),
    ],
)
async def test_the_socket_checks_the_origin_of_the_page(client, origin, allowed) -> None:
    if allowed:
        async with client.ws_connect("/widget/ws", headers={"Origin": origin}) as ws:
            assert (await hello(ws))["type"] == "welcome"
        return
    response = await client.get(
        "/widget/ws",
        headers={
            "Origin": origin,
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        },
    )
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "origin_not_allowed"


async def test_the_gateways_own_pages_may_always_connect(client) -> None:
    own = f"http://{client.host}:{client.port}"
    async with client.ws_connect("/widget/ws", headers={"Origin": own}) as ws:
        assert (await hello(ws))["type"] == "welcome"


async def test_rasa_down_gives_a_polite_busy_bubble_in_the_residents_language(
    tmp_path: Path,
) -> None:
    settings = widget_settings(tmp_path, 9)
    db.upgrade(settings.database_url)
    async with (
        TestClient(TestServer(create_app(settings))) as client,
        client.ws_connect("/widget/ws") as ws,
    ):
        await hello(ws)
        await ws.send_json(message("no water since this morning", lang="en"))
        frames = await receive_until(ws, typing_off, timeout=30)
    replies = [f["bubble"]["text"] for f in frames if f["type"] == "message"][1:]
    assert len(replies) == 1 and "busy" in replies[0]


async def test_two_tabs_of_one_session_both_see_the_conversation(client) -> None:
    async with client.ws_connect("/widget/ws") as first:
        welcome = await hello(first)
        async with client.ws_connect("/widget/ws") as second:
            await hello(second, welcome["session"])
            await first.send_json(message("xin chào"))
            seen = await receive_until(second, typing_off)
    texts = [f["bubble"]["text"] for f in seen if f["type"] == "message"]
    assert texts == ["xin chào", "Dạ, em chào anh/chị."]


async def test_messages_sent_quickly_are_answered_in_order(client, rasa_probe) -> None:
    rasa_probe.delay = 0.05
    async with client.ws_connect("/widget/ws") as ws:
        await hello(ws)
        for n in range(5):
            await ws.send_json(message(f"tin {n}"))
        frames: list[dict] = []
        while sum(1 for f in frames if typing_off(f)) < 5:
            frames += await receive_until(ws, typing_off)
    assert rasa_probe.texts() == [f"tin {n}" for n in range(5)]
