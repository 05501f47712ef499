"""The outbox worker delivers queued messages to Telegram and Zalo at least once, never twice
once sent, backs off on failures (the platform's retry_after when it gives one), gives up
after a bound, and stops writing to residents who blocked the bot."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from telegram import Bot
from telegram.request import HTTPXRequest

from bot import attachments, db, outbox
from bot.calendar import WorkingCalendar
from bot.outbox import OutboxMessage
from bot.tickets import change_status, open_ticket
from channels.outbox_worker import OutboxWorker
from channels.sent_journal import SentMarks
from channels.telegram import TelegramSender
from tests.fakes.telegram_bot_api import FakeTelegram
from tests.unit.channels.conftest import TOKEN, telegram_settings

CHAT = 5151
RESIDENT = f"tg:{CHAT}"
NOW = datetime(2026, 11, 23, 2, 0)


@pytest.fixture
def sessions(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'app.db'}"
    db.upgrade(url, "heads")
    engine = db.make_engine(url)
    yield db.make_session_factory(engine)
    engine.dispose()


@pytest.fixture
async def worker(sessions, telegram_api: FakeTelegram) -> AsyncIterator[OutboxWorker]:
    request = HTTPXRequest()
    bot = Bot(
        TOKEN,
        base_url=telegram_api.base_url,
        base_file_url=telegram_api.base_file_url,
        request=request,
    )
    sender = TelegramSender(bot, sessions, max_inline_wait=2.0)
    yield OutboxWorker(sessions, {"telegram": sender}, max_attempts=3)
    await request.shutdown()


def enqueue(sessions, text: str = "Phản ánh PA-2611-K7M3Q: đang xử lý.", **kwargs) -> int:
    values = dict(
        channel="telegram", recipient=RESIDENT, language="vi", kind="ticket_status", now=NOW
    )
    values.update(kwargs)
    with db.transaction(sessions) as session:
        return outbox.enqueue(session, text=text, **values).id


def row(sessions, message_id: int) -> OutboxMessage:
    with sessions() as session:
        return session.get(OutboxMessage, message_id)


async def test_due_message_is_sent_once_and_never_again(worker, sessions, telegram_api) -> None:
    message_id = enqueue(sessions, buttons=[{"title": "Đánh giá", "payload": "/rate"}])
    assert await worker.deliver_due(NOW) == 1
    assert await worker.deliver_due(NOW + timedelta(hours=3)) == 0
    (sent,) = telegram_api.sent()
    assert sent["chat_id"] == CHAT and sent["text"].startswith("Phản ánh PA-2611-K7M3Q")
    assert sent["reply_markup"]["inline_keyboard"][0][0]["text"] == "Đánh giá"
    assert row(sessions, message_id).status == "sent"


async def test_server_error_is_retried_later_with_back_off(worker, sessions, telegram_api) -> None:
    telegram_api.fail("sendMessage", 500)
    message_id = enqueue(sessions)
    assert await worker.deliver_due(NOW) == 0
    failed = row(sessions, message_id)
    assert failed.status == "pending" and failed.attempts == 1
    assert failed.next_attempt_at >= NOW + timedelta(seconds=20)
    assert "Internal Server Error" in failed.last_error
    assert await worker.deliver_due(NOW + timedelta(seconds=5)) == 0  # not due yet
    assert await worker.deliver_due(NOW + timedelta(minutes=2)) == 1
    assert row(sessions, message_id).status == "sent"
    assert [c.status for c in telegram_api.calls_to("sendMessage")] == [500, 200]


async def test_gives_up_after_the_attempt_bound(worker, sessions, telegram_api) -> None:
    telegram_api.fail("sendMessage", 500, times=5)
    message_id = enqueue(sessions)
    moment = NOW
    for _ in range(3):
        await worker.deliver_due(moment)
        moment += timedelta(hours=3)
    given_up = row(sessions, message_id)
    assert given_up.status == "failed" and given_up.attempts == 3
    assert given_up.last_error.startswith("gave up after 3 attempts")
    assert await worker.deliver_due(moment + timedelta(days=1)) == 0
    assert len(telegram_api.calls_to("sendMessage")) == 3


async def test_long_flood_wait_goes_back_to_the_outbox_for_that_long(
    worker, sessions, telegram_api
) -> None:
    telegram_api.fail("sendMessage", 429, retry_after=3600)
    message_id = enqueue(sessions)
    assert await worker.deliver_due(NOW) == 0
    waiting = row(sessions, message_id)
    assert waiting.status == "pending"
    assert waiting.next_attempt_at >= NOW + timedelta(seconds=3600)


async def test_short_flood_wait_is_waited_out(worker, sessions, telegram_api) -> None:
    telegram_api.fail("sendMessage", 429, retry_after=1)
    message_id = enqueue(sessions)
    started = time.monotonic()
    assert await worker.deliver_due(NOW) == 1
    assert time.monotonic() - started >= 1.0
    assert row(sessions, message_id).status == "sent"
    assert len(telegram_api.sent()) == 1


async def test_blocked_resident_is_recorded_and_nothing_more_is_sent(
    worker, sessions, telegram_api
) -> None:
    telegram_api.fail("sendMessage", 403)
    first, second = enqueue(sessions), enqueue(sessions, text="Mời anh/chị đánh giá.")
    assert await worker.deliver_due(NOW) == 0
    for message_id in (first, second):
        stopped = row(sessions, message_id)
        assert stopped.status == "failed" and stopped.last_error.startswith("undeliverable")
    with sessions() as session:
        assert attachments.is_blocked(session, "telegram", RESIDENT)
    later = enqueue(sessions, text="Phản ánh đã xử lý xong.")
    assert await worker.deliver_due(NOW) == 0
    assert row(sessions, later).status == "failed"
    assert len(telegram_api.calls_to("sendMessage")) == 1


async def test_messages_to_one_resident_keep_their_order(worker, sessions, telegram_api) -> None:
    for number in range(4):
        enqueue(sessions, text=f"tin {number}")
    assert await worker.deliver_due(NOW) == 4
    assert telegram_api.texts(CHAT) == ["tin 0", "tin 1", "tin 2", "tin 3"]


async def test_a_reply_a_channel_sent_is_not_sent_again_while_its_mark_is_on_its_way(
    worker, sessions, telegram_api, monkeypatch
) -> None:
    """A channel marks the replies it sent in the background (SentMarks); while that write
    is being retried (a locked database), the worker does not send them a second time."""
    message_id = enqueue(sessions)
    marks = SentMarks(sessions)
    worker.marks = marks
    attempts: list[list[int]] = []
    commit = marks._commit

    def locked_at_first(rows: list[int]) -> None:
        attempts.append(rows)
        if len(attempts) == 1:
            raise OperationalError("UPDATE outbox_message", {}, Exception("database is locked"))
        commit(rows)

    monkeypatch.setattr(marks, "_commit", locked_at_first)
    monkeypatch.setattr(SentMarks, "RETRY_FIRST", 0.5)
    marks.add([message_id])
    await asyncio.sleep(0.1)
    assert attempts == [[message_id]] and marks.pending == {message_id}
    assert await worker.deliver_due(NOW + timedelta(hours=1)) == 0
    await marks.idle()
    assert attempts == [[message_id], [message_id]] and marks.pending == set()
    assert row(sessions, message_id).status == "sent"
    assert await worker.deliver_due(NOW + timedelta(hours=2)) == 0
    assert telegram_api.sent() == []


async def test_widget_and_api_rows_are_left_to_their_owners(worker, sessions, telegram_api) -> None:
    widget = enqueue(sessions, channel="widget", recipient="web:abc")
    api = enqueue(sessions, channel="api", recipient="api:abc")
    assert await worker.deliver_due(NOW) == 0
    assert row(sessions, widget).status == row(sessions, api).status == "pending"
    assert telegram_api.calls == []


async def test_status_change_reaches_the_resident_on_telegram(start_gateway, telegram_api) -> None:
    gateway = await start_gateway(telegram_settings(telegram_api))
    with gateway.session() as session, session.begin():
        ticket = open_ticket(
            session,
            kind="problem_report",
            category="street_lighting",
            description="Đèn đường trước số 12 Lê Lợi tắt ba đêm nay",
            location="12 Lê Lợi, phường 7",
            sender_id=RESIDENT,
            channel="telegram",
            language="vi",
            calendar=WorkingCalendar.of(),
            unit_for_category=lambda category: "urban_management",
        )
        change_status(session, ticket.code, "assigned", actor="staff:lan")
        code = ticket.code
    deadline = time.monotonic() + 10
    while not telegram_api.texts(CHAT):
        assert time.monotonic() < deadline, "the status change never reached Telegram"
        await asyncio.sleep(0.1)
    (text,) = telegram_api.texts(CHAT)
    assert code in text
    with gateway.session() as session:
        statuses = session.scalars(select(OutboxMessage.status)).all()
    assert statuses == ["sent"]


async def test_status_change_reaches_the_resident_on_zalo(start_gateway, zalo_api) -> None:
    from tests.unit.channels.conftest import zalo_settings

    gateway = await start_gateway(zalo_settings(zalo_api))
    with gateway.session() as session, session.begin():
        message = outbox.enqueue(
            session,
            channel="zalo",
            recipient="zalo:999",
            language="en",
            kind="ticket_status",
            text="Your report PA-2611-K7M3Q is in progress.",
        )
        message_id = message.id
    deadline = time.monotonic() + 10
    while not zalo_api.texts("999"):
        assert time.monotonic() < deadline, "the message never reached Zalo"
        await asyncio.sleep(0.1)
    assert zalo_api.texts("999") == ["Your report PA-2611-K7M3Q is in progress."]
    with gateway.session() as session:
        assert session.get(OutboxMessage, message_id).status == "sent"
