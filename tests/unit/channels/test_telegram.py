"""The Telegram channel end to end: the real python-telegram-bot `Bot` against a fake Bot API
server, webhook posts to the real gateway, and a stand-in for Rasa's REST webhook."""

from __future__ import annotations

import asyncio
import io
import logging
import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bot import attachments, messages
from bot.attachments import BlockedRecipient, ChannelUpdate, PendingAttachment
from bot.conversation import Reply
from bot.db import transaction
from bot.outbox import OutboxMessage
from channels import telegram
from channels.keys import SESSIONS
from channels.telegram import TELEGRAM
from tests.fakes.telegram_bot_api import (
    callback_update,
    document_update,
    location_update,
    message_update,
    photo_update,
    sticker_update,
    text_update,
)
from tests.unit.channels.conftest import telegram_settings

CHAT = 4242
LONG_PAYLOAD = '/inform{"complaint_location":"12 Lê Lợi, phường Thạch Thang, quận Hải Châu"}'
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 2000
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 500


@pytest.fixture
async def gateway(start_gateway, telegram_api):
    return await start_gateway(telegram_settings(telegram_api))


def count(gateway, model) -> int:
    with gateway.session() as session:
        return session.scalar(select(func.count()).select_from(model))


def awaiting_retry(gateway) -> int:
    """Outbox rows the worker would still send (an answer's replies are recorded there too)."""
    with gateway.session() as session:
        return session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.status.in_(("pending", "sending")))
        )


async def eventually(check, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not become true in time")
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("secret", [None, "wrong-secret", ""])
async def test_update_without_the_right_secret_is_refused_and_nothing_stored(
    gateway, rasa, secret
) -> None:
    status, body = await gateway.post_update(text_update(1, CHAT, "mất nước"), secret=secret)
    assert status == 403 and body["error"]["code"] == "forbidden"
    await gateway.settle()
    assert count(gateway, ChannelUpdate) == 0
    assert count(gateway, messages.InboundMessage) == 0
    assert rasa.received == []


async def test_text_reaches_rasa_as_the_chat_with_the_residents_language(
    gateway, rasa, telegram_api
) -> None:
    status, _ = await gateway.post_update(text_update(1, CHAT, "no water", language_code="en-GB"))
    assert status == 200
    await gateway.settle()
    assert rasa.received == [
        {
            "sender": f"tg:{CHAT}",
            "message": "no water",
            "metadata": {"lang": "en", "channel": "telegram", "inbound_id": 1},
        }
    ]
    assert telegram_api.texts(CHAT) == ["Dạ, em chào anh/chị."]


async def test_redelivered_update_gets_one_answer(gateway, rasa, telegram_api) -> None:
    update = text_update(7, CHAT, "đèn đường hỏng")
    first, second = await asyncio.gather(gateway.post_update(update), gateway.post_update(update))
    assert first[0] == second[0] == 200
    await gateway.settle()
    assert (await gateway.post_update(update))[0] == 200
    await gateway.settle()
    assert len(rasa.received) == 1
    assert len(telegram_api.sent()) == 1
    assert count(gateway, messages.InboundMessage) == 1


async def test_update_ids_out_of_order_are_all_answered(gateway, rasa) -> None:
    for update_id in (30, 10, 20):
        await gateway.post_update(text_update(update_id, CHAT, f"tin {update_id}"))
    await gateway.settle()
    assert sorted(rasa.messages()) == ["tin 10", "tin 20", "tin 30"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b"[1, 2]", 400),
        (b'{"message": {}}', 400),
        (b'{"update_id": "7"}', 400),
        (b'{"update_id": 7, "message": {"chat": 5}}', 400),
        (b"\xff\xfe", 400),
        (b'{"update_id": 1, "x": "' + b"a" * (1024 * 1024) + b'"}', 413),
    ],
)
async def test_bad_bodies_are_refused_without_a_server_error(gateway, rasa, body, status) -> None:
    response = await gateway.client.post(
        "/webhooks/telegram",
        data=io.BytesIO(body),
        headers={"X-Telegram-Bot-Api-Secret-Token": "webhook-secret_0123456789"},
    )
    assert response.status == status
    assert count(gateway, ChannelUpdate) == 0
    assert rasa.received == []


async def test_webhook_is_registered_once_with_the_secret(gateway, telegram_api) -> None:
    await eventually(lambda: telegram_api.sent("setWebhook"))
    (call,) = telegram_api.calls_to("setWebhook")
    assert call.params["url"] == "https://tiepdan.example.gov.vn/webhooks/telegram"
    assert call.params["secret_token"] == "webhook-secret_0123456789"
    assert call.params["allowed_updates"] == ["message", "edited_message", "callback_query"]


async def test_long_vietnamese_button_payload_round_trips_through_a_short_id(
    gateway, rasa, telegram_api
) -> None:
    def respond(body):
        if body["message"].startswith("/"):
            return [{"recipient_id": body["sender"], "text": "Lệ phí: miễn phí."}]
        return [
            {
                "recipient_id": body["sender"],
                "text": "Dạ, anh/chị muốn biết gì về đăng ký khai sinh ạ?",
                "buttons": [
                    {"title": "Lệ phí đăng ký khai sinh", "payload": LONG_PAYLOAD},
                    {
                        "title": "Giấy tờ cần mang",
                        "payload": '/ask_service_info{"facet":"documents"}',
                    },
                ],
            }
        ]

    rasa.respond = respond
    assert len(LONG_PAYLOAD.encode()) > 64
    await gateway.post_update(text_update(1, CHAT, "đăng ký khai sinh"))
    await gateway.settle()
    (question,) = telegram_api.sent()
    keyboard = question["reply_markup"]["inline_keyboard"]
    assert [row[0]["text"] for row in keyboard] == ["Lệ phí đăng ký khai sinh", "Giấy tờ cần mang"]
    callback_data = keyboard[0][0]["callback_data"]
    assert len(callback_data.encode()) <= 64

    await gateway.post_update(callback_update(2, CHAT, callback_data, message_id=901))
    await gateway.settle()
    assert rasa.messages()[-1] == LONG_PAYLOAD
    assert telegram_api.texts(CHAT)[-1] == "Lệ phí: miễn phí."
    (answered,) = telegram_api.sent("answerCallbackQuery")
    assert answered["callback_query_id"] == "cb-2" and "text" not in answered
    (edited,) = telegram_api.sent("editMessageReplyMarkup")
    assert edited["chat_id"] == CHAT and edited["message_id"] == 901
    assert not edited.get("reply_markup", {}).get("inline_keyboard")
    with gateway.session() as session:
        said = session.scalars(
            select(messages.InboundMessage.text).order_by(messages.InboundMessage.id)
        ).all()
    assert said == ["đăng ký khai sinh", "Lệ phí đăng ký khai sinh"]

    # The other button of the used keyboard: answered, but nothing reaches Rasa again.
    other = keyboard[1][0]["callback_data"]
    await gateway.post_update(callback_update(3, CHAT, other, message_id=901))
    await gateway.settle()
    assert len(rasa.received) == 2
    expired = telegram_api.sent("answerCallbackQuery")[-1]
    assert "hết hạn" in expired["text"]


async def test_a_button_pressed_while_the_database_is_locked_is_answered_once_it_is_back(
    gateway, rasa, telegram_api, monkeypatch
) -> None:
    """The press is recorded, then another writer holds the database's lock before the
    button can be used: the resident hears "busy, recorded" within seconds, and the press
    reaches Rasa once the lock is gone (it used to be marked handled and lost)."""

    def respond(body):  # type: ignore[no-untyped-def]
        if body["message"].startswith("/"):
            return [{"recipient_id": body["sender"], "text": "Dạ, lệ phí là 0 đồng ạ."}]
        return [
            {
                "recipient_id": body["sender"],
                "text": "Dạ, anh/chị muốn biết gì ạ?",
                "buttons": [{"title": "Lệ phí", "payload": '/ask_service_info{"facet":"fee"}'}],
            }
        ]

    rasa.respond = respond
    await gateway.post_update(text_update(1, CHAT, "đăng ký khai sinh"))
    await gateway.settle()
    callback_data = telegram_api.sent()[0]["reply_markup"]["inline_keyboard"][0][0]["callback_data"]

    channel = gateway.app[TELEGRAM]
    lock = sqlite3.connect(make_url(gateway.settings.database_url).database, isolation_level=None)
    dispatch = channel.dispatch
    dispatched = []

    async def locked_first(data, external_id):  # type: ignore[no-untyped-def]
        dispatched.append(external_id)
        if len(dispatched) == 1:  # recorded already; the button not used yet
            lock.execute("BEGIN IMMEDIATE")
        return await dispatch(data, external_id)

    monkeypatch.setattr(channel, "dispatch", locked_first)
    try:
        started = time.monotonic()
        await gateway.post_update(callback_update(2, CHAT, callback_data, message_id=901))
        await eventually(lambda: len(telegram_api.texts(CHAT)) == 2, timeout=6.0)
        assert time.monotonic() - started < 5.0
        assert "đang bận" in telegram_api.texts(CHAT)[1]
        assert rasa.messages() == ["đăng ký khai sinh"]
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    await eventually(lambda: len(telegram_api.texts(CHAT)) == 3, timeout=20.0)
    await gateway.settle()
    assert rasa.messages() == ["đăng ký khai sinh", '/ask_service_info{"facet":"fee"}']
    assert telegram_api.texts(CHAT)[2] == "Dạ, lệ phí là 0 đồng ạ."
    with gateway.session() as session:
        assert (
            session.scalar(
                select(func.count())
                .select_from(ChannelUpdate)
                .where(ChannelUpdate.processed_at.is_(None))
            )
            == 0
        )


@pytest.mark.parametrize(
    ("language_code", "expected"), [("vi", "hết hạn"), ("en", "expired"), (None, "hết hạn")]
)
async def test_unknown_button_is_answered_in_the_residents_language(
    gateway, rasa, telegram_api, language_code, expected
) -> None:
    await gateway.post_update(callback_update(5, CHAT, "no-such-id", language_code=language_code))
    await gateway.settle()
    (answered,) = telegram_api.sent("answerCallbackQuery")
    assert expected in answered["text"]
    assert rasa.received == []


async def test_someone_elses_button_is_not_accepted(gateway, rasa, telegram_api) -> None:
    rasa.respond = lambda body: [
        {
            "recipient_id": body["sender"],
            "text": "Chọn:",
            "buttons": [{"title": "Có", "payload": "/affirm"}],
        }
    ]
    await gateway.post_update(text_update(1, CHAT, "xin chào"))
    await gateway.settle()
    token = telegram_api.sent()[0]["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    await gateway.post_update(callback_update(2, CHAT + 1, token))
    await gateway.settle()
    assert rasa.messages() == ["xin chào"]


async def test_photo_is_kept_as_a_pending_attachment(gateway, rasa, telegram_api, tmp_path) -> None:
    telegram_api.add_file("photo-1", JPEG)
    await gateway.post_update(photo_update(1, CHAT, "photo-1", size=len(JPEG)))
    await gateway.settle()
    assert "đính kèm" in telegram_api.texts(CHAT)[0]
    with transaction(gateway.app[SESSIONS]) as session:
        (pending,) = attachments.take_pending(session, f"tg:{CHAT}")
    assert pending["content_type"] == "image/jpeg" and pending["size_bytes"] == len(JPEG)
    path = Path(pending["uri"])
    assert path.parent == tmp_path / "var" / "uploads" and path.read_bytes() == JPEG
    assert rasa.received == []


async def test_photo_caption_goes_to_rasa_after_the_photo_is_kept(
    gateway, rasa, telegram_api
) -> None:
    telegram_api.add_file("photo-2", JPEG)
    update = photo_update(1, CHAT, "photo-2", size=len(JPEG), caption="ống nước vỡ trước nhà")
    await gateway.post_update(update)
    await gateway.settle()
    assert rasa.messages() == ["ống nước vỡ trước nhà"]
    assert count(gateway, PendingAttachment) == 1


async def test_png_document_is_accepted(gateway, telegram_api) -> None:
    telegram_api.add_file("doc-1", PNG, path="documents/file_2.png")
    await gateway.post_update(
        document_update(1, CHAT, "doc-1", size=len(PNG), mime_type="image/png")
    )
    await gateway.settle()
    with gateway.session() as session:
        (kept,) = session.scalars(select(PendingAttachment)).all()
    assert kept.content_type == "image/png" and kept.original_name == "anh-hien-truong.png"


@pytest.mark.parametrize(
    ("update", "language", "expected"),
    [
        (
            document_update(1, CHAT, "d", size=11 * 1024 * 1024, mime_type="image/jpeg"),
            "vi",
            "10 MB",
        ),
        (
            document_update(1, CHAT, "d", size=2000, mime_type="application/pdf"),
            "en",
            "JPG, PNG or WEBP",
        ),
        (photo_update(1, CHAT, "big", size=11 * 1024 * 1024), "en", "larger than 10 MB"),
    ],
)
async def test_too_large_or_wrong_type_is_refused_politely(
    gateway, telegram_api, update, language, expected
) -> None:
    # Only the small thumbnail of a huge photo fits; it must not be taken instead.
    for kind in ("message",):
        update[kind]["from"]["language_code"] = language
        if "photo" in update[kind]:
            update[kind]["photo"] = update[kind]["photo"][1:]
    await gateway.post_update(update)
    await gateway.settle()
    assert expected in telegram_api.texts(CHAT)[0]
    assert count(gateway, PendingAttachment) == 0
    assert telegram_api.calls_to("getFile") == []


async def test_file_that_is_not_really_an_image_is_refused(gateway, telegram_api) -> None:
    telegram_api.add_file("fake", b"%PDF-1.7 not an image", path="documents/x.png")
    await gateway.post_update(document_update(1, CHAT, "fake", size=21, mime_type="image/png"))
    await gateway.settle()
    assert "JPG, PNG hoặc WEBP" in telegram_api.texts(CHAT)[0]
    assert count(gateway, PendingAttachment) == 0


async def test_shared_location_is_sent_as_coordinates(gateway, rasa) -> None:
    await gateway.post_update(location_update(1, CHAT, 16.054407, 108.202164))
    await gateway.settle()
    assert rasa.messages() == ["16.054407, 108.202164"]


@pytest.mark.parametrize(
    ("language_code", "expected"),
    [("vi", "Dạ, em chưa đọc được loại tin nhắn này"), ("en", "can't read this kind of message")],
)
async def test_sticker_gets_a_polite_reply_in_the_residents_language(
    gateway, rasa, telegram_api, language_code, expected
) -> None:
    await gateway.post_update(sticker_update(1, CHAT, language_code=language_code))
    await gateway.settle()
    (reply,) = telegram_api.texts(CHAT)
    assert expected in reply
    assert rasa.received == []


async def test_edited_message_gets_one_polite_reply_and_never_reaches_rasa(
    gateway, rasa, telegram_api
) -> None:
    edited = message_update(
        1, CHAT, kind="edited_message", text="sửa lại", edit_date=int(time.time())
    )
    await gateway.post_update(edited)
    await gateway.post_update(edited)
    await gateway.settle()
    assert len(telegram_api.texts(CHAT)) == 1 and "chỉnh sửa" in telegram_api.texts(CHAT)[0]
    assert rasa.received == []


async def test_start_command_is_a_greeting(gateway, rasa) -> None:
    await gateway.post_update(text_update(1, CHAT, "/start"))
    await gateway.settle()
    assert rasa.messages() == ["/greet"]


async def test_group_chats_are_ignored(gateway, rasa, telegram_api) -> None:
    update = text_update(1, -100, "hello")
    update["message"]["chat"]["type"] = "group"
    assert (await gateway.post_update(update))[0] == 200
    await gateway.settle()
    assert rasa.received == [] and telegram_api.texts() == []


async def test_429_is_waited_out_and_the_message_delivered_once(
    gateway, rasa, telegram_api
) -> None:
    telegram_api.fail("sendMessage", 429, retry_after=1)
    started = time.monotonic()
    await gateway.post_update(text_update(1, CHAT, "xin chào"))
    await gateway.settle()
    assert time.monotonic() - started >= 1.0
    statuses = [call.status for call in telegram_api.calls_to("sendMessage")]
    assert statuses == [429, 200]
    assert telegram_api.texts(CHAT) == ["Dạ, em chào anh/chị."]
    assert awaiting_retry(gateway) == 0


async def test_resident_who_blocked_the_bot_is_recorded_and_unblocked_when_writing_again(
    gateway, rasa, telegram_api
) -> None:
    telegram_api.fail("sendMessage", 403)
    await gateway.post_update(text_update(1, CHAT, "xin chào"))
    await gateway.settle()
    with gateway.session() as session:
        (blocked,) = session.scalars(select(BlockedRecipient)).all()
    assert (blocked.channel, blocked.recipient) == ("telegram", f"tg:{CHAT}")
    assert "blocked" in blocked.reason
    assert awaiting_retry(gateway) == 0  # not retried

    await gateway.post_update(text_update(2, CHAT, "em bỏ chặn rồi"))
    await gateway.settle()
    assert count(gateway, BlockedRecipient) == 0
    assert telegram_api.texts(CHAT) == ["Dạ, em chào anh/chị."]


async def test_a_database_locked_mid_answer_holds_up_neither_its_replies_nor_the_next_message(
    gateway, rasa, telegram_api, monkeypatch
) -> None:
    """Another writer takes the database's lock just as the first of two replies goes out:
    the second still goes at once, the resident's next message gets its "busy" reply within
    seconds, and the replies are marked sent once the lock is gone (never sent twice)."""
    rasa.respond = lambda body: [
        {"recipient_id": body["sender"], "text": "Dạ, phản ánh của anh/chị đã được ghi nhận."},
        {"recipient_id": body["sender"], "text": "Dạ, anh/chị cần gì thêm không ạ?"},
    ]
    path = make_url(gateway.settings.database_url).database
    lock = sqlite3.connect(path, isolation_level=None)
    on_send = telegram_api._on_sendMessage
    sends = []

    async def lock_on_first_send(params):  # type: ignore[no-untyped-def]
        sends.append(params)
        if len(sends) == 1:
            lock.execute("BEGIN IMMEDIATE")
        return await on_send(params)

    monkeypatch.setattr(telegram_api, "_on_sendMessage", lock_on_first_send)
    try:
        started = time.monotonic()
        await gateway.post_update(text_update(1, CHAT, "cống bị tắc"))
        await eventually(lambda: len(telegram_api.texts(CHAT)) == 2, timeout=3.0)
        assert time.monotonic() - started < 3.0
        await gateway.post_update(text_update(2, CHAT, "còn nữa"))
        await eventually(lambda: len(telegram_api.texts(CHAT)) == 3, timeout=6.0)
        assert "đang bận" in telegram_api.texts(CHAT)[2]
        # Not marked yet (read past the lock: every session here takes it).
        unsent = lock.execute("SELECT count(*) FROM outbox_message WHERE status != 'sent'")
        assert unsent.fetchone()[0] == 2
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    await gateway.settle()
    assert awaiting_retry(gateway) == 0
    started = time.monotonic()
    await eventually(lambda: len(telegram_api.texts(CHAT)) >= 5, timeout=30.0)
    answer = ["Dạ, phản ánh của anh/chị đã được ghi nhận.", "Dạ, anh/chị cần gì thêm không ạ?"]
    texts = telegram_api.texts(CHAT)
    assert texts[:2] == answer and texts[3:] == answer, texts


async def test_rasa_down_gives_the_busy_reply(gateway, rasa, telegram_api) -> None:
    rasa.down = True
    await gateway.post_update(text_update(1, CHAT, "mất điện cả khu"))
    await gateway.settle()
    assert "đang bận" in telegram_api.texts(CHAT)[0]


async def test_gateway_serves_while_telegram_is_unreachable_and_catches_up(
    start_gateway, rasa, telegram_api, caplog
) -> None:
    telegram_api.down = True
    caplog.set_level(logging.WARNING, logger="channels.telegram")
    gateway = await start_gateway(telegram_settings(telegram_api))
    await eventually(lambda: len(telegram_api.calls_to("setWebhook")) >= 2)
    warnings = [r for r in caplog.records if "cannot be reached" in r.getMessage()]
    assert len(warnings) == 1

    assert (await gateway.post_update(text_update(1, CHAT, "xin chào")))[0] == 200
    await gateway.settle()
    assert rasa.messages() == ["xin chào"]
    assert count(gateway, OutboxMessage) == 1  # the reply waits in the outbox

    telegram_api.down = False
    await eventually(lambda: telegram_api.sent("setWebhook"))
    with gateway.session() as session:
        session.execute(
            OutboxMessage.__table__.update().values(next_attempt_at=attachments.utcnow())
        )
        session.commit()
    await eventually(lambda: telegram_api.texts(CHAT) == ["Dạ, em chào anh/chị."])


async def test_update_interrupted_by_a_stop_is_answered_at_the_next_start(
    start_gateway, rasa, telegram_api, tmp_path
) -> None:
    gateway = await start_gateway(telegram_settings(telegram_api))
    update = text_update(99, CHAT, "ngập nước đường Lê Lợi")
    with transaction(gateway.app[SESSIONS]) as session:
        # As left by a crash after the webhook answered 200 and the message was stored.
        attachments.record_update(
            session, channel="telegram", external_id="99", sender_id=f"tg:{CHAT}", payload=update
        )
        messages.record_inbound(
            session,
            channel="telegram",
            sender_id=f"tg:{CHAT}",
            text="ngập nước đường Lê Lợi",
            external_id="99",
        )
    await gateway.client.close()

    restarted = await start_gateway(telegram_settings(telegram_api), upgrade=False)
    await restarted.settle()
    assert rasa.messages() == ["ngập nước đường Lê Lợi"]
    assert telegram_api.texts(CHAT) == ["Dạ, em chào anh/chị."]
    with restarted.session() as session:
        status = session.scalar(select(messages.InboundMessage.status))
    assert status == "answered"
    assert (await restarted.post_update(update))[0] == 200
    await restarted.settle()
    assert len(rasa.received) == 1


async def test_polling_mode_reads_updates_through_the_same_path(
    start_gateway, rasa, telegram_api
) -> None:
    telegram_api.updates = [text_update(3, CHAT, "chào em"), text_update(4, CHAT, "chào em")]
    settings = {**telegram_settings(telegram_api), "TELEGRAM_POLLING": "1"}
    await start_gateway(settings)
    await eventually(lambda: len(telegram_api.texts(CHAT)) == 2)
    assert telegram_api.sent("deleteWebhook")
    assert telegram_api.calls_to("setWebhook") == []
    # The next poll asks only for what follows the last update handled.
    await eventually(
        lambda: 5 in [c.params.get("offset") for c in telegram_api.calls_to("getUpdates")]
    )
    assert rasa.messages() == ["chào em", "chào em"]


async def test_without_a_token_the_channel_is_off_and_says_so(start_gateway, caplog) -> None:
    caplog.set_level(logging.INFO)
    gateway = await start_gateway({})
    response = await gateway.client.post("/webhooks/telegram", json={"update_id": 1})
    assert response.status == 404
    lines = [r.getMessage() for r in caplog.records if r.name == "channels.telegram"]
    assert lines == ["Telegram channel is off: TELEGRAM_BOT_TOKEN is not set."]


def test_polling_flag_of_the_gateway_command_turns_polling_on(monkeypatch, tmp_path) -> None:
    import channels.__main__ as entry
    from bot.settings import load_settings

    started = {}
    monkeypatch.setattr(
        entry, "load_settings", lambda: load_settings({"TIEPDAN_HOME": str(tmp_path)})
    )
    monkeypatch.setattr(
        entry, "create_app", lambda settings: started.setdefault("settings", settings)
    )
    monkeypatch.setattr(entry.web, "run_app", lambda app, **kwargs: None)
    entry.main(["--telegram-polling"])
    assert started["settings"].extra["TELEGRAM_POLLING"] == "1"


async def test_the_webhook_answers_before_rasa_has(gateway, rasa, telegram_api) -> None:
    rasa.delay = 3.0  # a busy model
    started = time.monotonic()
    status, _ = await gateway.post_update(text_update(1, CHAT, "xin chào"))
    answered_after = time.monotonic() - started
    assert status == 200 and answered_after < rasa.delay
    assert telegram_api.texts(CHAT) == []  # the reply comes later
    await gateway.settle()
    assert telegram_api.texts(CHAT) == ["Dạ, em chào anh/chị."]


async def test_each_chat_gets_about_one_message_a_second_without_holding_up_others(
    gateway, telegram_api
) -> None:
    sender = gateway.app[TELEGRAM].sender
    other = CHAT + 1
    started = time.monotonic()
    await asyncio.gather(
        *(sender.deliver(f"tg:{CHAT}", Reply(f"tin {n}")) for n in range(5)),
        *(sender.deliver(f"tg:{other}", Reply(f"other {n}")) for n in range(2)),
    )

    def arrivals(chat: int) -> list[float]:
        calls = telegram_api.calls_to("sendMessage")
        return sorted(c.at - started for c in calls if c.params["chat_id"] == chat)

    busy, quiet = arrivals(CHAT), arrivals(other)
    assert len(busy) == 5 and len(quiet) == 2
    # A burst of three, then one a second.
    assert busy[3] >= 0.95 and busy[4] >= 1.95
    # The other resident did not wait behind the busy chat.
    assert quiet[-1] < busy[3]


async def test_many_chats_together_stay_within_thirty_messages_a_second(
    gateway, telegram_api
) -> None:
    sender = gateway.app[TELEGRAM].sender
    started = time.monotonic()
    await asyncio.gather(*(sender.deliver(f"tg:{9000 + n}", Reply("Dạ.")) for n in range(45)))
    times = sorted(c.at - started for c in telegram_api.calls_to("sendMessage"))
    assert len(times) == 45
    # A burst of thirty, then thirty a second: the last fifteen take half a second.
    assert times[-1] >= 0.45


async def test_set_webhook_retries_with_growing_delays_and_honours_retry_after(
    start_gateway, telegram_api, monkeypatch
) -> None:
    monkeypatch.setattr(telegram, "RETRY_FIRST_DELAY", 0.2)
    monkeypatch.setattr(telegram, "RETRY_MAX_DELAY", 5.0)
    telegram_api.fail("setWebhook", 500, times=3)
    telegram_api.fail("setWebhook", 429, retry_after=2)
    await start_gateway(telegram_settings(telegram_api))
    await eventually(lambda: telegram_api.sent("setWebhook"), timeout=15)
    calls = telegram_api.calls_to("setWebhook")
    assert [c.status for c in calls] == [500, 500, 500, 429, 200]
    gaps = [later.at - earlier.at for earlier, later in zip(calls, calls[1:], strict=False)]
    # 0.2 s, 0.4 s, 0.8 s, then the 2 s Telegram asked for.
    assert gaps[0] >= 0.18 and gaps[1] >= 0.38 and gaps[2] >= 0.78 and gaps[3] >= 1.95
