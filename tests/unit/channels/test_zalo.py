"""The Zalo OA channel end to end: signed events posted to the real gateway, replies and
token refreshes recorded by a fake OA API server, Rasa stood in for."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from sqlalchemy import func, select

from bot import attachments
from bot.attachments import BlockedRecipient, ChannelUpdate, PendingAttachment, PlatformToken
from bot.db import transaction
from channels.keys import SESSIONS
from tests.fakes.zalo_oa_api import event, signed, text_event
from tests.unit.channels.conftest import zalo_settings

USER = "8412345678901234567"
JPEG = b"\xff\xd8\xff\xe0" + b"\x01" * 3000


@pytest.fixture
async def gateway(start_gateway, zalo_api):
    gateway = await start_gateway(zalo_settings(zalo_api))
    await settle_tokens(zalo_api, gateway=gateway)
    return gateway


async def settle_tokens(zalo_api, calls: int = 1, gateway=None) -> None:
    """Tokens seeded from the settings have no known expiry: one refresh at start learns it.
    Waits until that refresh was answered (and, given the gateway, stored)."""
    deadline = time.monotonic() + 5
    while len(zalo_api.oauth_calls) < calls or not _stored(gateway, f"access-{calls}"):
        assert time.monotonic() < deadline, "no token refresh at start"
        await asyncio.sleep(0.02)


def _stored(gateway, access_token: str) -> bool:
    if gateway is None:
        return True
    with gateway.session() as session:
        row = session.get(PlatformToken, "zalo")
        return row is not None and row.access_token == access_token and row.expires_at is not None


def count(gateway, model) -> int:
    with gateway.session() as session:
        return session.scalar(select(func.count()).select_from(model))


async def test_signed_text_is_answered_through_the_oa_api(gateway, rasa, zalo_api) -> None:
    status, _ = await gateway.post_event(*signed(text_event(USER, "mất nước", "m1")))
    assert status == 200
    await gateway.settle()
    assert rasa.received == [
        {
            "sender": f"zalo:{USER}",
            "message": "mất nước",
            "metadata": {"channel": "zalo", "inbound_id": 1},
        }
    ]
    (sent,) = zalo_api.messages
    assert sent == {"recipient": {"user_id": USER}, "message": {"text": "Dạ, em chào anh/chị."}}
    token = zalo_api.attempts[-1][0]
    assert token == "access-1"  # the refreshed one, not the seed from the settings


async def test_signature_without_the_mac_prefix_is_accepted(gateway, rasa) -> None:
    raw, headers = signed(text_event(USER, "xin chào", "m1"), prefix="")
    assert (await gateway.post_event(raw, headers))[0] == 200


def _stale(data):
    data["timestamp"] = str(int(time.time() * 1000) - 6 * 60 * 1000)
    return signed(data)


def _future(data):
    data["timestamp"] = str(int(time.time() * 1000) + 6 * 60 * 1000)
    return signed(data)


def _wrong_secret(data):
    return signed(data, secret="not-the-oa-secret")


def _tampered(data):
    raw, headers = signed(data)
    return raw.replace("mất nước".encode(), "có nước".encode()), headers


def _unsigned(data):
    raw, headers = signed(data)
    del headers["X-ZEvent-Signature"]
    return raw, headers


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (_stale, "stale_event"),
        (_future, "stale_event"),
        (_wrong_secret, "forbidden"),
        (_tampered, "forbidden"),
        (_unsigned, "forbidden"),
    ],
)
async def test_bad_or_stale_signature_is_refused_and_nothing_stored(
    gateway, rasa, zalo_api, make, code
) -> None:
    status, body = await gateway.post_event(*make(text_event(USER, "mất nước", "m1")))
    assert status == 403 and body["error"]["code"] == code
    await gateway.settle()
    assert count(gateway, ChannelUpdate) == 0
    assert rasa.received == [] and zalo_api.messages == []


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"{oops", 400),
        (b"[]", 400),
        (b'{"event_name": "user_send_text"}', 400),
        (b'{"event_name": "user_send_text", "timestamp": "soon"}', 400),
        (b'{"timestamp": "1", "x": "' + b"a" * 300_000 + b'"}', 413),
    ],
)
async def test_malformed_events_are_refused_without_a_server_error(
    gateway, rasa, raw, status
) -> None:
    assert (await gateway.post_event(raw, {"X-ZEvent-Signature": "mac=00"}))[0] == status
    assert count(gateway, ChannelUpdate) == 0


async def test_signed_event_without_a_sender_is_a_400(gateway) -> None:
    data = text_event(USER, "hi", "m1")
    del data["sender"]
    assert (await gateway.post_event(*signed(data)))[0] == 400


async def test_duplicate_message_id_gets_one_answer(gateway, rasa, zalo_api) -> None:
    raw, headers = signed(text_event(USER, "đèn đường hỏng", "m-dup"))
    results = await asyncio.gather(*(gateway.post_event(raw, headers) for _ in range(3)))
    assert [status for status, _ in results] == [200, 200, 200]
    await gateway.settle()
    assert len(rasa.received) == 1 and len(zalo_api.messages) == 1


async def test_buttons_become_a_template_of_at_most_five(gateway, rasa, zalo_api) -> None:
    titles = ["Cấp nước", "Cấp điện", "Thoát nước", "Đường giao thông", "Chiếu sáng", "Rác"]
    rasa.respond = lambda body: [
        {
            "recipient_id": body["sender"],
            "text": "Dạ, anh/chị muốn phản ánh về lĩnh vực nào ạ?",
            "buttons": [{"title": t, "payload": f'/inform{{"category":"{t}"}}'} for t in titles[:5]]
            + [{"title": "sửa địa chỉ", "payload": "sửa địa chỉ"}],
        }
    ]
    await gateway.post_event(*signed(text_event(USER, "phản ánh", "m1")))
    await gateway.settle()
    (sent,) = zalo_api.messages
    message = sent["message"]
    assert message["text"] == "Dạ, anh/chị muốn phản ánh về lĩnh vực nào ạ?"
    buttons = message["attachment"]["payload"]["buttons"]
    assert message["attachment"]["type"] == "template"
    assert [b["title"] for b in buttons] == titles[:5]
    assert buttons[0]["payload"] == '/inform{"category":"Cấp nước"}'
    assert {b["type"] for b in buttons} <= {"oa.query.show", "oa.query.hide"}


@pytest.mark.parametrize("name", ["user_send_text", "user_click_button"])
async def test_pressed_button_arrives_as_text_and_reaches_rasa_once(gateway, rasa, name) -> None:
    payload = '/inform{"category":"roads"}'
    raw, headers = signed(event(name, USER, message={"msg_id": "m2", "text": payload}))
    for _ in range(2):  # Zalo retries when our 200 is late
        assert (await gateway.post_event(raw, headers))[0] == 200
    await gateway.settle()
    assert rasa.messages() == [payload]


async def test_image_is_downloaded_and_kept_as_a_pending_attachment(gateway, zalo_api) -> None:
    zalo_api.images["a.jpg"] = JPEG
    message = {
        "msg_id": "img-1",
        "attachments": [{"type": "image", "payload": {"url": zalo_api.image_url("a.jpg")}}],
    }
    await gateway.post_event(*signed(event("user_send_image", USER, message=message)))
    await gateway.settle()
    with transaction(gateway.app[SESSIONS]) as session:
        (pending,) = attachments.take_pending(session, f"zalo:{USER}")
    assert pending["content_type"] == "image/jpeg" and pending["size_bytes"] == len(JPEG)
    assert "đính kèm" in zalo_api.texts(USER)[0]


async def test_image_over_ten_megabytes_is_refused(gateway, zalo_api) -> None:
    zalo_api.images["big.jpg"] = JPEG + b"\x00" * (10 * 1024 * 1024)
    message = {
        "msg_id": "img-2",
        "attachments": [{"type": "image", "payload": {"url": zalo_api.image_url("big.jpg")}}],
    }
    await gateway.post_event(*signed(event("user_send_image", USER, message=message)))
    await gateway.settle()
    assert count(gateway, PendingAttachment) == 0
    assert "10 MB" in zalo_api.texts(USER)[0]


@pytest.mark.parametrize(
    "message",
    [
        {
            "msg_id": "loc-1",
            "attachments": [
                {
                    "type": "location",
                    "payload": {"coordinates": {"latitude": "16.0544", "longitude": "108.2022"}},
                }
            ],
        },
        {"msg_id": "loc-1", "location": {"latitude": "16.0544", "longitude": "108.2022"}},
    ],
)
async def test_location_is_sent_as_coordinates(gateway, rasa, message) -> None:
    await gateway.post_event(*signed(event("user_send_location", USER, message=message)))
    await gateway.settle()
    assert rasa.messages() == ["16.054400, 108.202200"]


async def test_sticker_gets_a_polite_reply(gateway, rasa, zalo_api) -> None:
    message = {"msg_id": "st-1", "attachments": [{"type": "sticker", "payload": {"id": "1"}}]}
    await gateway.post_event(*signed(event("user_send_sticker", USER, message=message)))
    await gateway.settle()
    assert "chưa đọc được loại tin nhắn này" in zalo_api.texts(USER)[0]
    assert rasa.received == []


async def test_follow_is_greeted_in_vietnamese_and_unfollow_recorded_silently(
    gateway, rasa, zalo_api
) -> None:
    await gateway.post_event(*signed(event("follow", USER)))
    await gateway.settle()
    (greeting,) = zalo_api.texts(USER)
    assert greeting.startswith("Dạ, Tiếp Dân xin chào anh/chị")

    await gateway.post_event(*signed(event("unfollow", USER)))
    await gateway.settle()
    assert len(zalo_api.messages) == 1 and rasa.received == []
    with gateway.session() as session:
        (blocked,) = session.scalars(select(BlockedRecipient)).all()
    assert (blocked.channel, blocked.recipient) == ("zalo", f"zalo:{USER}")


async def test_receipts_and_oa_echoes_are_acknowledged_and_ignored(gateway, rasa) -> None:
    for name in ("user_seen_message", "user_received_message", "oa_send_text"):
        data = event(name, USER, message={"msg_id": f"{name}-1", "text": "Dạ"})
        data["sender"], data["recipient"] = {"id": "oa-1"}, {"id": USER}
        status, body = await gateway.post_event(*signed(data))
        assert status == 200 and body["ignored"] == name
    await gateway.settle()
    assert count(gateway, ChannelUpdate) == 0 and rasa.received == []


async def test_invalid_token_triggers_one_refresh_and_one_retry(gateway, rasa, zalo_api) -> None:
    zalo_api.access_tokens = {"revoked-elsewhere"}  # what we hold (access-1) is now invalid
    zalo_api.refresh_tokens.add("refresh-1")
    await gateway.post_event(*signed(text_event(USER, "xin chào", "m1")))
    await gateway.settle()
    codes = [code for _, _, code in zalo_api.attempts]
    assert codes == [-216, 0]
    (refresh_call,) = zalo_api.oauth_calls[1:]
    assert refresh_call == {
        "refresh_token": "refresh-1",
        "app_id": "1234567890123456789",
        "grant_type": "refresh_token",
        "secret_key": "app-secret-for-tests",
    }
    with gateway.session() as session:
        stored = session.get(PlatformToken, "zalo")
    assert (stored.access_token, stored.refresh_token) == ("access-2", "refresh-2")
    assert stored.expires_at is not None


async def test_tokens_survive_a_restart_and_new_ones_in_the_settings_win(
    start_gateway, zalo_api
) -> None:
    first = await start_gateway(zalo_settings(zalo_api))
    await settle_tokens(zalo_api, gateway=first)
    await first.client.close()
    await start_gateway(zalo_settings(zalo_api), upgrade=False)
    await asyncio.sleep(0.2)
    assert len(zalo_api.oauth_calls) == 1  # the stored token has a known expiry: kept

    zalo_api.refresh_tokens.add("refresh-from-operator")
    settings = zalo_settings(
        zalo_api, ZALO_ACCESS_TOKEN="access-op", ZALO_REFRESH_TOKEN="refresh-from-operator"
    )
    third = await start_gateway(settings, upgrade=False)
    await settle_tokens(zalo_api, calls=2, gateway=third)
    assert zalo_api.oauth_calls[1]["refresh_token"] == "refresh-from-operator"


async def test_blocked_user_error_is_recorded_and_not_retried(gateway, zalo_api) -> None:
    zalo_api.answer_next(-230)
    await gateway.post_event(*signed(text_event(USER, "xin chào", "m1")))
    await gateway.settle()
    assert count(gateway, BlockedRecipient) == 1
    assert zalo_api.messages == []


async def test_zalo_off_without_keys(start_gateway) -> None:
    gateway = await start_gateway({"ZALO_APP_ID": "1"})
    raw = json.dumps(text_event(USER, "hi", "m1")).encode()
    response = await gateway.client.post("/webhooks/zalo", data=raw)
    assert response.status == 404


async def test_unknown_kind_of_resident_message_gets_the_polite_reply(
    gateway, rasa, zalo_api
) -> None:
    message = {"msg_id": "new-1", "attachments": [{"type": "poll", "payload": {}}]}
    await gateway.post_event(*signed(event("user_send_poll", USER, message=message)))
    await gateway.settle()
    assert "chưa đọc được" in zalo_api.texts(USER)[0] and rasa.received == []


async def test_the_webhook_answers_within_two_seconds_while_rasa_is_slow(
    gateway, rasa, zalo_api
) -> None:
    rasa.delay = 3.0
    started = time.monotonic()
    status, _ = await gateway.post_event(*signed(text_event(USER, "mất nước", "m-slow")))
    assert status == 200 and time.monotonic() - started < 2.0
    assert zalo_api.messages == []  # answered later, in the background
    await gateway.settle()
    assert zalo_api.texts(USER) == ["Dạ, em chào anh/chị."]


async def test_a_token_close_to_expiry_is_refreshed_before_sending(
    start_gateway, rasa, zalo_api
) -> None:
    zalo_api.expires_in = "1800"  # half an hour: inside the refresh margin of an hour
    gateway = await start_gateway(zalo_settings(zalo_api))
    await settle_tokens(zalo_api, gateway=gateway)
    await gateway.post_event(*signed(text_event(USER, "xin chào", "m1")))
    await gateway.settle()
    assert len(zalo_api.oauth_calls) == 2
    # Sent once, with the fresh token: never refused for an expired one.
    assert [(token, code) for token, _, code in zalo_api.attempts] == [("access-2", 0)]
