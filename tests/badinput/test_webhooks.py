"""Telegram and Zalo webhooks against hostile texts, malformed events, forged, replayed and
stale signatures. The platforms' side is the fake Bot API / OA API; the gateway is real."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import time

from sqlalchemy import func, select

from bot.attachments import ChannelUpdate
from tests.badinput.conftest import corpus_strings
from tests.fakes import zalo_oa_api
from tests.fakes.telegram_bot_api import text_update
from tests.unit.channels.conftest import SECRET, telegram_settings, zalo_settings

STRINGS = corpus_strings()


def count(gateway, model) -> int:
    with gateway.session() as session:
        return session.scalar(select(func.count()).select_from(model))


def processed_updates(gateway, channel: str) -> int:
    with gateway.session() as session:
        return session.scalar(
            select(func.count())
            .select_from(ChannelUpdate)
            .where(ChannelUpdate.channel == channel, ChannelUpdate.processed_at.is_not(None))
        )


async def eventually(check, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the condition did not become true in time"
        await asyncio.sleep(0.1)


def sendable(text: str) -> bool:
    """Texts with something visible (lone surrogates included: they arrive as U+FFFD)."""
    return bool(text.strip())


def zalo_raw(data: dict) -> tuple[bytes, dict[str, str]]:
    """Sign with ASCII escapes (lone surrogates can only travel that way)."""
    raw = json.dumps(data, ensure_ascii=True).encode()
    mac = hashlib.sha256(
        zalo_oa_api.APP_ID.encode()
        + raw
        + str(data["timestamp"]).encode()
        + zalo_oa_api.OA_SECRET_KEY.encode()
    )
    return raw, {"X-ZEvent-Signature": f"mac={mac.hexdigest()}"}


async def test_every_corpus_text_on_telegram_and_zalo_is_acknowledged_and_handled(
    start_gateway, rasa, telegram_api, zalo_api, caplog
) -> None:
    gateway = await start_gateway(
        {**telegram_settings(telegram_api), **zalo_settings(zalo_api), "RATE_LIMIT_PER_SENDER": "0"}
    )
    for number, case in enumerate(STRINGS):
        update = text_update(10_000 + number, 50_000 + number, case["text"])
        status, _ = await gateway.post_update(update)
        assert status == 200, case
        raw, headers = zalo_raw(zalo_oa_api.text_event(f"u{number}", case["text"], f"m{number}"))
        status, _ = await gateway.post_event(raw, headers)
        assert status == 200, case
    await gateway.settle()
    await eventually(lambda: processed_updates(gateway, "telegram") == len(STRINGS))
    await eventually(lambda: processed_updates(gateway, "zalo") == len(STRINGS))
    # Nothing failed while handling them, nothing unreadable reached the assistant, and
    # every resident got an answer on their platform.
    failures = [r for r in caplog.records if r.name == "channels.rendering" and r.levelno >= 40]
    assert failures == [], failures[0].getMessage()
    for body in rasa.received:
        assert "\x00" not in body["message"]
        body["message"].encode("utf-8")
    visible = [number for number, case in enumerate(STRINGS) if sendable(case["text"])]
    assert len(rasa.received) >= 2 * len(visible)
    answered_chats = {int(call["chat_id"]) for call in telegram_api.sent()}
    assert {50_000 + number for number in visible} <= answered_chats
    answered_users = {m["recipient"]["user_id"] for m in zalo_api.messages}
    assert {f"u{number}" for number in visible} <= answered_users


TELEGRAM_BODIES = [
    b"",
    b"null",
    b"{}",
    b'"update"',
    b"[]",
    b'{"update_id": null}',
    b'{"update_id": -1}',
    b'{"update_id": 1.5}',
    b'{"update_id": true}',
    b'{"update_id": "1"}',
    b'{"update_id": 1' + b"0" * 5000 + b"}",
    b'{"update_id": 1, "message": null}',
    b'{"update_id": 1, "message": "hi"}',
    b'{"update_id": 1, "message": []}',
    b'{"update_id": 1, "message": {"text": "hi"}}',
    b'{"update_id": 1, "message": {"chat": null, "text": "hi"}}',
    b'{"update_id": 1, "message": {"chat": {"id": "x"}, "text": "hi"}}',
    b'{"update_id": 1, "message": {"chat": {"id": 1}, "text": ["hi"]}}',
    b'{"update_id": 1, "message": {"chat": {"id": 1}, "text": {"a": 1}}}',
    b'{"update_id": 1, "callback_query": "x"}',
    b'{"update_id": 1, "callback_query": {"id": 1, "data": null}}',
    b'{"update_id": 1, "edited_message": 5}',
    b"[" * 20_000 + b"]" * 20_000,
    b'{"update_id": 1, "message": ' + b'{"a":' * 5_000 + b"1" + b"}" * 5_000 + b"}",
    b"\xc3\x28",
    b'{"update_id": 1, "message": {"chat": {"id": 1}, "text": "\xff"}}',
]


async def test_malformed_telegram_updates_never_cause_a_server_error(
    start_gateway, rasa, telegram_api
) -> None:
    gateway = await start_gateway(telegram_settings(telegram_api))
    for body in TELEGRAM_BODIES:
        response = await gateway.client.post(
            "/webhooks/telegram",
            data=io.BytesIO(body),
            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
        )
        assert response.status < 500, body[:80]
        if response.status >= 400:
            assert (await response.json())["error"]["message"], body[:80]
    await gateway.settle()
    assert rasa.received == []  # none of them was a resident's text


FORGED_SECRETS = [
    None,
    "",
    " ",
    SECRET.upper(),
    SECRET + " ",
    SECRET[:-1],
    "x" * 4000,
    "' OR 1=1 --",
]


async def test_forged_telegram_secrets_are_refused(start_gateway, rasa, telegram_api) -> None:
    gateway = await start_gateway({**telegram_settings(telegram_api), "RATE_LIMIT_REFUSED": "0"})
    for secret in FORGED_SECRETS:
        status, body = await gateway.post_update(text_update(1, 1, "xin chào"), secret=secret)
        assert status == 403 and body["error"]["message"], secret
    assert count(gateway, ChannelUpdate) == 0 and rasa.received == []


async def test_replayed_telegram_and_zalo_events_are_answered_once(
    start_gateway, rasa, telegram_api, zalo_api
) -> None:
    gateway = await start_gateway({**telegram_settings(telegram_api), **zalo_settings(zalo_api)})
    update = text_update(77, 7, "mất nước")
    raw, headers = zalo_oa_api.signed(zalo_oa_api.text_event("z7", "mất nước", "msg-77"))
    for _ in range(5):
        assert (await gateway.post_update(update))[0] == 200
        assert (await gateway.post_event(raw, headers))[0] == 200
    await gateway.settle()
    assert rasa.messages("tg:7") == ["mất nước"]
    assert rasa.messages("zalo:z7") == ["mất nước"]


def zalo_forgeries() -> list[tuple[str, bytes, dict[str, str], int]]:
    good = zalo_oa_api.text_event("z1", "xin chào", "m-1")
    raw, headers = zalo_oa_api.signed(good)
    signature = headers["X-ZEvent-Signature"]
    stale = zalo_oa_api.text_event(
        "z1", "xin chào", "m-2", timestamp=str(int(time.time() * 1000) - 3_600_000)
    )
    future = zalo_oa_api.text_event(
        "z1", "xin chào", "m-3", timestamp=str(int(time.time() * 1000) + 3_600_000)
    )
    other_body = json.dumps({**good, "user_id_by_app": "someone-else"}).encode()
    cases = [
        ("no signature", raw, {}, 403),
        ("empty signature", raw, {"X-ZEvent-Signature": ""}, 403),
        ("wrong secret", *zalo_oa_api.signed(good, secret="not-the-secret"), 403),
        ("wrong app", *zalo_oa_api.signed(good, app_id="other-app"), 403),
        ("body changed", other_body, headers, 403),
        ("signature truncated", raw, {"X-ZEvent-Signature": signature[:-2]}, 403),
        ("signature non-hex", raw, {"X-ZEvent-Signature": "mac=" + "z" * 64}, 403),
        ("signature unicode", raw, {"X-ZEvent-Signature": "mac=chữký"}, 403),
        ("signature huge", raw, {"X-ZEvent-Signature": "mac=" + "a" * 8000}, 403),
        ("stale", *zalo_oa_api.signed(stale), 403),
        ("future", *zalo_oa_api.signed(future), 403),
        ("not json", b"{nope", headers, 400),
        ("array", b"[]", headers, 400),
        ("no timestamp", json.dumps({"event_name": "user_send_text"}).encode(), headers, 400),
        ("timestamp text", json.dumps({**good, "timestamp": "soon"}).encode(), headers, 400),
        ("timestamp bool", json.dumps({**good, "timestamp": True}).encode(), headers, 400),
        ("timestamp huge", json.dumps({**good, "timestamp": "9" * 40}).encode(), headers, 400),
        ("bad utf-8", b'{"timestamp": "1", "x": "\xff"}', headers, 400),
        ("deep", b'{"timestamp": "1", "a": ' + b"[" * 20_000 + b"]" * 20_000 + b"}", headers, 400),
    ]
    return cases


async def test_forged_stale_and_malformed_zalo_events_are_refused(
    start_gateway, rasa, zalo_api
) -> None:
    gateway = await start_gateway({**zalo_settings(zalo_api), "RATE_LIMIT_REFUSED": "0"})
    for name, raw, headers, status in zalo_forgeries():
        got, body = await gateway.post_event(raw, headers)
        assert got == status, name
        assert body["error"]["message"], name
    assert count(gateway, ChannelUpdate) == 0 and rasa.received == []


async def test_signed_zalo_events_of_the_wrong_shape_do_not_crash(
    start_gateway, rasa, zalo_api
) -> None:
    gateway = await start_gateway(zalo_settings(zalo_api))
    shapes = [
        {"event_name": "user_send_text", "sender": None, "message": {"text": "x", "msg_id": "a"}},
        {"event_name": "user_send_text", "sender": {"id": 5}, "message": {"msg_id": "b"}},
        {"event_name": "user_send_text", "sender": {"id": "u"}, "message": "x"},
        {"event_name": "user_send_text", "sender": {"id": "u"}, "message": {"text": ["x"]}},
        {"event_name": "user_send_image", "sender": {"id": "u"}, "message": {"attachments": 5}},
        {
            "event_name": "user_send_image",
            "sender": {"id": "u"},
            "message": {"msg_id": "c", "attachments": [{"type": "image", "payload": {"url": 1}}]},
        },
        {
            "event_name": "user_send_location",
            "sender": {"id": "u"},
            "message": {"msg_id": "d", "attachments": [{"payload": {"coordinates": "x"}}]},
        },
        {"event_name": "user_click_button", "sender": {"id": "u"}, "message": {"msg_id": "e"}},
        {"event_name": "follow", "follower": "u"},
        {"event_name": ["user_send_text"], "sender": {"id": "u"}},
        {"event_name": "unknown_event", "sender": {"id": "u"}},
    ]
    for shape in shapes:
        data = {"app_id": zalo_oa_api.APP_ID, "timestamp": zalo_oa_api.now_ms(), **shape}
        status, _ = await gateway.post_event(*zalo_oa_api.signed(data))
        assert status < 500, shape
    await gateway.settle()
    assert await (await gateway.client.get("/healthz/live")).text()
