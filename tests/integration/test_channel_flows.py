"""Every resident flow on Telegram and on Zalo OA, end to end: questions, a report with a
photo, status, a satisfaction survey and a handoff to staff.

The gateway app runs in this process (its channel code, outbox worker and staff console),
talking to the real Rasa and action server of the `stack` fixture and sharing their
database; the real python-telegram-bot client talks to the fake Bot API, and signed Zalo
events reach the webhook while the fake OA API records the replies.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import requests
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import delete, select
from sqlalchemy.orm import sessionmaker

from bot import surveys
from bot.attachments import PlatformToken
from bot.calendar import WorkingCalendar
from bot.console import create_staff
from bot.conversation import BUSY
from bot.db import make_engine, make_session_factory, transaction
from bot.handoff import Handoff, HandoffMessage
from bot.settings import load_settings
from bot.surveys import Survey
from bot.tickets import change_status, open_ticket
from bot.tickets.models import Ticket, TicketAttachment
from channels import telegram, zalo
from channels.app import create_app
from channels.keys import SESSIONS, SETTINGS
from tests.conftest import Stack
from tests.fakes.telegram_bot_api import (
    FakeTelegram,
    callback_update,
    location_update,
    photo_update,
    text_update,
)
from tests.fakes.zalo_oa_api import FakeZalo, event, signed, text_event

pytestmark = pytest.mark.integration

TOKEN = "123456:FLOWS-telegram-token"
SECRET = "flows-webhook-secret_0123"
PASSWORD = "mat-khau-rat-dai-456"
CODE = re.compile(r"PA-\d{4}-[2-9A-HJ-NP-Z]{5}")
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 4000
# Update ids, message ids, chats and users: unique in the stack's one database.
NUMBERS = itertools.count(int(time.time()) % 100_000 * 100)


async def eventually(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not become true in time")
        await asyncio.sleep(0.1)


async def answer_after(new_texts: Callable[[], list[str]]) -> str:
    """What the resident got, one message per line. When Rasa was slower than the busy
    threshold (a loaded machine), the resident first gets the polite busy reply and the
    answer follows through the outbox: wait for it, and leave the busy line out."""
    texts = new_texts()
    if texts and all(text in BUSY.values() for text in texts):
        await eventually(lambda: len(new_texts()) > len(texts), timeout=90)
        settled = -1
        while settled != len(new_texts()):  # the rest of the answer, sent a second apart
            settled = len(new_texts())
            await asyncio.sleep(1.5)
    return "\n".join(text for text in new_texts() if text not in BUSY.values())


# ---------------------------------------------------------------------------------------------
# The gateway, with Telegram and Zalo pointed at their fakes


@dataclass
class Gateway:
    client: TestClient
    telegram_api: FakeTelegram
    zalo_api: FakeZalo
    telegram_secret: str

    @property
    def app(self) -> Any:
        return self.client.server.app

    @property
    def sessions(self) -> sessionmaker:
        return self.app[SESSIONS]

    async def settle(self) -> None:
        """Wait until every update accepted so far has been handled."""
        for key in (telegram.TELEGRAM, zalo.ZALO):
            await self.app[key].tasks.idle()
            if self.app[key].marks is not None:  # replies sent, marked in the background
                await self.app[key].marks.idle()

    def rasa_tracker(self, sender: str) -> dict[str, Any]:
        """Rasa's record of the conversation (is it paused? what reached it?)."""
        settings = self.app[SETTINGS]
        response = requests.get(
            f"{settings.rasa_url}/conversations/{sender}/tracker",
            params={"token": settings.rasa_token},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
async def gateway(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Gateway]:
    # When the stack's own gateway has Telegram on, its outbox worker may deliver rows of
    # this gateway too: both then talk to one fake Bot API, on the port the stack uses.
    token = stack.env.get("TELEGRAM_BOT_TOKEN") or TOKEN
    secret = stack.env.get("TELEGRAM_WEBHOOK_SECRET") or SECRET
    telegram_api = await FakeTelegram(token).start(getattr(stack, "telegram_port", 0))
    zalo_api = await FakeZalo().start()
    # create_app configures the survey policy of this process; put it back afterwards.
    monkeypatch.setattr(surveys, "_config", surveys.current_config())
    environ = {k: v for k, v in stack.env.items() if not k.startswith(("TELEGRAM_", "ZALO_"))}
    environ.update(
        {
            # http: the console's cookie is only sent back over https when the site is https.
            "PUBLIC_BASE_URL": "http://tiepdan.test",
            "SURVEY_DELAY_MINUTES": "0",
            "TELEGRAM_BOT_TOKEN": token,
            "TELEGRAM_WEBHOOK_SECRET": secret,
            "TELEGRAM_API_BASE_URL": telegram_api.base_url,
            "TELEGRAM_FILE_BASE_URL": telegram_api.base_file_url,
            "ZALO_APP_ID": "1234567890123456789",
            "ZALO_OA_SECRET_KEY": "oa-secret-key-for-tests",
            "ZALO_APP_SECRET": "app-secret-for-tests",
            "ZALO_ACCESS_TOKEN": "access-0",
            "ZALO_REFRESH_TOKEN": "refresh-0",
            "ZALO_API_BASE_URL": zalo_api.base_url,
            "ZALO_OAUTH_BASE_URL": zalo_api.base_url,
        }
    )
    settings = load_settings(environ, env_file=tmp_path / "absent.env")
    engine = make_engine(settings.database_url)
    with transaction(make_session_factory(engine)) as session:
        # Each test's fake OA starts from the configured pair again.
        session.execute(delete(PlatformToken))
    engine.dispose()
    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    try:
        yield Gateway(client, telegram_api, zalo_api, secret)
    finally:
        await client.close()
        await telegram_api.close()
        await zalo_api.close()


# ---------------------------------------------------------------------------------------------
# Residents


class TelegramResident:
    """A resident in a private chat with the bot; their Telegram app speaks `language_code`."""

    def __init__(self, gateway: Gateway, language_code: str = "vi") -> None:
        self.gateway = gateway
        self.api = gateway.telegram_api
        self.chat = next(NUMBERS)
        self.sender = f"tg:{self.chat}"
        self.language_code = language_code
        self.last_update: dict[str, Any] | None = None

    def seen(self) -> list[dict[str, Any]]:
        return self.api.messages(self.chat)

    async def send(self, update: dict[str, Any]) -> str:
        """Post an update as Telegram does; returns the texts it answered, one per line."""
        before = len(self.seen())
        self.last_update = update
        response = await self.gateway.client.post(
            telegram.WEBHOOK_PATH,
            json=update,
            headers={telegram.SECRET_HEADER: self.gateway.telegram_secret},
        )
        assert response.status == 200, await response.text()
        await self.gateway.settle()
        return await answer_after(lambda: [m["text"] for m in self.seen()[before:]])

    async def say(self, text: str) -> str:
        return await self.send(
            text_update(next(NUMBERS), self.chat, text, language_code=self.language_code)
        )

    def message_with(self, title: str) -> dict[str, Any]:
        for message in reversed(self.seen()):
            if any(t == title for t, _ in message["buttons"]):
                return message
        raise AssertionError(f"no button {title!r} in {self.seen()}")

    async def tap(self, title: str) -> str:
        message = self.message_with(title)
        data = dict(message["buttons"])[title]
        return await self.send(
            callback_update(
                next(NUMBERS),
                self.chat,
                data,
                message_id=message["message_id"],
                language_code=self.language_code,
            )
        )

    async def ask_with_buttons(self, text: str) -> list[tuple[str, str]]:
        """Say something whose answer has buttons; returns them (title, callback data)."""
        before = len(self.seen())
        await self.say(text)
        return [button for message in self.seen()[before:] for button in message["buttons"]]

    async def redeliver(self) -> str:
        """Telegram sends the last update again (it did not see our 200 in time)."""
        assert self.last_update is not None
        return await self.send(self.last_update)

    async def wait_for(self, text: str, timeout: float = 15.0) -> dict[str, Any]:
        """A message pushed later (by the outbox worker) that contains `text`."""
        return await eventually(
            lambda: next((m for m in self.seen() if text in m["text"]), None), timeout
        )


class ZaloResident:
    """A resident who follows the city's OA."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.api = gateway.zalo_api
        self.user = str(8_400_000_000_000_000 + next(NUMBERS))
        self.sender = f"zalo:{self.user}"
        self.last_event: tuple[bytes, dict[str, str]] | None = None

    def seen(self) -> list[dict[str, Any]]:
        return [m["message"] for m in self.api.messages if m["recipient"]["user_id"] == self.user]

    async def send(self, data: dict[str, Any]) -> str:
        before = len(self.seen())
        raw, headers = self.last_event = signed(data)
        return await self._post(raw, headers, before)

    async def _post(self, raw: bytes, headers: dict[str, str], before: int) -> str:
        response = await self.gateway.client.post(zalo.WEBHOOK_PATH, data=raw, headers=headers)
        assert response.status == 200, await response.text()
        await self.gateway.settle()
        return await answer_after(lambda: [m.get("text", "") for m in self.seen()[before:]])

    async def say(self, text: str) -> str:
        return await self.send(text_event(self.user, text, f"msg-{next(NUMBERS)}"))

    def buttons(self, message: dict[str, Any]) -> list[dict[str, str]]:
        return list(((message.get("attachment") or {}).get("payload") or {}).get("buttons", []))

    async def press(self, title: str) -> str:
        """Zalo sends a pressed query button's payload as the resident's text."""
        for message in reversed(self.seen()):
            for button in self.buttons(message):
                if button["title"] == title:
                    return await self.say(button["payload"])
        raise AssertionError(f"no button {title!r} in {self.seen()}")

    async def redeliver(self) -> str:
        """Zalo posts the same event again (our 200 came too late for it)."""
        assert self.last_event is not None
        return await self._post(*self.last_event, len(self.seen()))

    async def wait_for(self, text: str, timeout: float = 15.0) -> dict[str, Any]:
        return await eventually(
            lambda: next((m for m in self.seen() if text in m.get("text", "")), None), timeout
        )


# ---------------------------------------------------------------------------------------------
# Staff


def ticket_for(gateway: Gateway, sender: str, channel: str, language: str = "vi") -> str:
    """A report the resident filed earlier (the report flow itself has its own tests)."""
    with transaction(gateway.sessions) as session:
        return open_ticket(
            session,
            kind="complaint",
            category="street_lighting",
            description="Đèn đường trước số 42 Lê Lợi không sáng ba đêm nay",
            location="Trước số 42 Lê Lợi, phường 7",
            sender_id=sender,
            channel=channel,
            language=language,
            calendar=WorkingCalendar(),
            unit_for_category=lambda _c: "public_lighting",
            now=datetime.now(timezone.utc),
        ).code


def resolve(gateway: Gateway, code: str, note: str) -> None:
    """Staff work the ticket through to resolved (surveys are offered at that moment)."""
    with transaction(gateway.sessions) as session:
        change_status(session, code, "assigned", actor="staff:test")
        change_status(session, code, "in_progress", actor="staff:test")
        change_status(session, code, "resolved", actor="staff:test", public_note=note)


def survey_of(gateway: Gateway, sender: str) -> Survey:
    with gateway.sessions() as session:
        (survey,) = session.scalars(select(Survey).where(Survey.sender_id == sender)).all()
        session.expunge(survey)
        return survey


class Agent:
    """A member of the care team working in the console, over its HTTP routes and socket."""

    def __init__(self, gateway: Gateway, username: str) -> None:
        self.gateway = gateway
        self.username = username
        self.csrf = ""
        self.socket: aiohttp.ClientWebSocketResponse | None = None

    async def log_in(self) -> None:
        with transaction(self.gateway.sessions) as session:
            create_staff(
                session,
                username=self.username,
                password=PASSWORD,
                role="agent",
                unit_id="customer_care",
            )
        client = self.gateway.client
        page = await client.get("/console/login")
        response = await client.post(
            "/console/login",
            data={
                "username": self.username,
                "password": PASSWORD,
                "csrf": _csrf(await page.text()),
            },
            allow_redirects=False,
        )
        assert response.status == 302, await response.text()
        self.csrf = _csrf(await (await client.get("/console/queue")).text())
        # An open console page is what makes the agent "online" for residents.
        self.socket = await client.ws_connect("/console/ws", headers={"Origin": _origin(client)})
        await self.socket.send_json({"type": "hello", "csrf": self.csrf, "watch": None})
        assert (await self.socket.receive_json(timeout=10))["type"] == "ready"

    async def post(self, path: str) -> None:
        response = await self.gateway.client.post(
            path, data={"csrf": self.csrf}, allow_redirects=False
        )
        assert response.status == 302, await response.text()

    async def accept(self, handoff_id: int) -> None:
        await self.post(f"/console/handoffs/{handoff_id}/accept")

    async def reply(self, handoff_id: int, text: str) -> None:
        assert self.socket is not None
        await self.socket.send_json({"type": "reply", "handoff_id": handoff_id, "text": text})

    async def close(self, handoff_id: int) -> None:
        await self.post(f"/console/handoffs/{handoff_id}/close")

    async def leave(self) -> None:
        if self.socket is not None:
            await self.socket.close()


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the console page"
    return found.group(1)


def _origin(client: TestClient) -> str:
    return f"http://{client.host}:{client.port}"


@pytest.fixture
async def agent(gateway: Gateway) -> AsyncIterator[Agent]:
    staff = Agent(gateway, f"agent{next(NUMBERS)}")
    await staff.log_in()
    yield staff
    await staff.leave()


def handoff_of(gateway: Gateway, sender: str) -> Handoff:
    with gateway.sessions() as session:
        handoff = session.scalars(
            select(Handoff).where(Handoff.sender_id == sender).order_by(Handoff.id.desc())
        ).first()
        assert handoff is not None, f"no handoff for {sender}"
        session.expunge(handoff)
        return handoff


def held_messages(gateway: Gateway, handoff_id: int) -> list[str]:
    with gateway.sessions() as session:
        return list(
            session.scalars(
                select(HandoffMessage.text)
                .where(HandoffMessage.handoff_id == handoff_id, HandoffMessage.author == "resident")
                .order_by(HandoffMessage.id)
            )
        )


def user_texts(tracker: dict[str, Any]) -> list[str]:
    return [e.get("text") or "" for e in tracker["events"] if e["event"] == "user"]


# ---------------------------------------------------------------------------------------------
# Telegram


async def test_telegram_question_is_answered_and_its_buttons_lead_on(gateway: Gateway) -> None:
    resident = TelegramResident(gateway, "vi")
    answer = await resident.say("làm giấy khai sinh cần giấy tờ gì")
    assert "Giấy chứng sinh" in answer and "Tờ khai" in answer

    resident_en = TelegramResident(gateway, "en")
    capabilities = await resident_en.say("what can you help me with")
    assert "procedures" in capabilities
    (offer,) = [m for m in resident_en.seen() if m["buttons"]]
    assert all(len(data.encode()) <= 64 for _, data in offer["buttons"])
    title = next(t for t, _ in offer["buttons"] if "report" in t.lower())
    after = await resident_en.tap(title)
    assert after, "the button got no answer"
    assert "anh/chị" not in after
    (answered,) = gateway.telegram_api.sent("answerCallbackQuery")
    assert "text" not in answered  # answered quietly: no "expired" pop-up
    (used,) = gateway.telegram_api.sent("editMessageReplyMarkup")
    assert used["message_id"] == offer["message_id"]


async def test_telegram_report_with_a_photo_and_a_shared_location_opens_a_ticket(
    gateway: Gateway,
) -> None:
    resident = TelegramResident(gateway, "vi")
    assert "ở đâu" in await resident.say("đèn đường trước nhà tôi bị hỏng")
    gateway.telegram_api.add_file("den-duong", JPEG)
    thanks = await resident.send(photo_update(next(NUMBERS), resident.chat, "den-duong", len(JPEG)))
    assert "đã nhận ảnh" in thanks
    # Telegram identifies the resident: no phone question, straight to consent.
    consent = await resident.send(
        location_update(next(NUMBERS), resident.chat, 16.054407, 108.202164)
    )
    assert "đồng ý" in consent.lower()
    summary = await resident.tap("Đồng ý")
    assert "Chiếu sáng" in summary and "16.054407, 108.202164" in summary
    receipt = await resident.tap("Gửi phản ánh")
    match = CODE.search(receipt)
    assert match, receipt
    assert await resident.redeliver() == ""  # Telegram's retry opens nothing more

    with gateway.sessions() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.sender_id == resident.sender)).one()
        photos = session.scalars(
            select(TicketAttachment).where(TicketAttachment.ticket_id == ticket.id)
        ).all()
    assert (ticket.code, ticket.channel) == (match.group(), "telegram")
    assert len(photos) == 1 and Path(photos[0].uri).read_bytes() == JPEG


async def test_telegram_status_is_told_on_request_and_pushed_when_it_changes(
    gateway: Gateway,
) -> None:
    resident = TelegramResident(gateway, "en")
    code = ticket_for(gateway, resident.sender, "telegram", "en")
    status = await resident.say(f"check {code}")
    assert code in status and "received" in status.lower()

    with transaction(gateway.sessions) as session:
        change_status(
            session, code, "assigned", actor="staff:test", public_note="The lighting crew is on it."
        )
    pushed = await resident.wait_for("The lighting crew is on it.")
    assert code in pushed["text"]


async def test_telegram_survey_is_a_keyboard_of_five_scores_answered_once(
    gateway: Gateway,
) -> None:
    resident = TelegramResident(gateway, "vi")
    code = ticket_for(gateway, resident.sender, "telegram", "vi")
    resolve(gateway, code, "Đã thay bóng đèn.")
    invitation = await resident.wait_for("có hài lòng")
    assert code in invitation["text"]
    assert [title for title, _ in invitation["buttons"]] == list(surveys.LABELS["vi"])

    comment_question = await resident.tap("Hài lòng")
    assert "góp ý" in comment_question
    (answered,) = gateway.telegram_api.sent("answerCallbackQuery")
    assert "text" not in answered
    (used,) = gateway.telegram_api.sent("editMessageReplyMarkup")
    assert used["message_id"] == invitation["message_id"]
    assert survey_of(gateway, resident.sender).score == 4

    # Telegram delivers the same press again: no second answer, nothing changes.
    assert await resident.redeliver() == ""
    assert len(gateway.telegram_api.sent("answerCallbackQuery")) == 1
    # Another score pressed on the used keyboard (before it disappeared) counts for nothing.
    await resident.tap("Rất không hài lòng")
    assert "hết hạn" in gateway.telegram_api.sent("answerCallbackQuery")[-1]["text"]
    assert survey_of(gateway, resident.sender).score == 4

    thanks = await resident.say("Nhân viên sửa rất nhanh, cảm ơn")
    assert "cảm ơn" in thanks.lower()
    survey = survey_of(gateway, resident.sender)
    assert (survey.score, survey.comment) == (4, "Nhân viên sửa rất nhanh, cảm ơn")
    with gateway.sessions() as session:
        assert session.scalar(select(Ticket.status).where(Ticket.code == code)) == "resolved"
    assert not any("/survey" in text for text in user_texts(gateway.rasa_tracker(resident.sender)))


async def test_telegram_resident_talks_to_staff_and_the_assistant_comes_back(
    gateway: Gateway, agent: Agent
) -> None:
    resident = TelegramResident(gateway, "vi")
    assert "Tra cứu hồ sơ" in [t for t, _ in (await resident.ask_with_buttons("bạn giúp được gì"))]
    queued = await resident.say("cho tôi gặp nhân viên")
    handoff = handoff_of(gateway, resident.sender)
    with gateway.sessions() as session:
        from bot.handoff import position_of

        position = position_of(session, session.get(Handoff, handoff.id))
    assert f"vị trí số {position} trong hàng chờ" in queued, queued
    assert handoff.channel == "telegram"
    # The gateway tells Rasa to stay silent in this conversation.
    await eventually(lambda: gateway.rasa_tracker(resident.sender)["paused"])

    assert await resident.say("Nhà tôi bị mất nước từ sáng") == ""
    # A button from before the handoff: staff read its title; the assistant stays silent.
    assert await resident.tap("Tra cứu hồ sơ") == ""
    assert held_messages(gateway, handoff.id) == ["Nhà tôi bị mất nước từ sáng", "Tra cứu hồ sơ"]

    await agent.accept(handoff.id)
    await resident.wait_for("nhân viên đã tham gia")
    await agent.reply(handoff.id, "Dạ, em đang kiểm tra đường ống khu anh/chị ạ.")
    await resident.wait_for("em đang kiểm tra đường ống")
    assert await resident.say("Cảm ơn em") == ""
    assert "Cảm ơn em" not in user_texts(gateway.rasa_tracker(resident.sender))

    await agent.close(handoff.id)
    await resident.wait_for("Trợ lý Tiếp Dân tiếp tục hỗ trợ")
    assert not gateway.rasa_tracker(resident.sender)["paused"]
    # A handoff ends with the staff survey.
    survey = await resident.wait_for("trao đổi với cán bộ")
    assert len(survey["buttons"]) == 5
    greeting = await resident.say("xin chào")
    assert "chào anh/chị" in greeting


# ---------------------------------------------------------------------------------------------
# Zalo OA


async def test_zalo_question_is_answered_and_its_buttons_lead_on(gateway: Gateway) -> None:
    resident = ZaloResident(gateway)
    answer = await resident.say("thứ bảy phường có làm việc không")
    assert "7h30" in answer
    capabilities = await resident.say("bạn giúp được gì")
    assert capabilities
    offer = next(m for m in reversed(resident.seen()) if resident.buttons(m))
    hidden = [b for b in resident.buttons(offer) if b["payload"].startswith("/")]
    assert hidden and all(b["type"] == "oa.query.hide" for b in hidden)
    after = await resident.press("Tra cứu hồ sơ")
    assert "chưa có phản ánh nào" in after


async def test_zalo_report_with_a_photo_opens_a_ticket(gateway: Gateway) -> None:
    resident = ZaloResident(gateway)
    assert "ở đâu" in await resident.say("đèn đường trước nhà tôi bị hỏng")
    gateway.zalo_api.images["den.jpg"] = JPEG
    photo = {
        "msg_id": f"img-{next(NUMBERS)}",
        "attachments": [
            {"type": "image", "payload": {"url": gateway.zalo_api.image_url("den.jpg")}}
        ],
    }
    assert "đã nhận ảnh" in await resident.send(
        event("user_send_image", resident.user, message=photo)
    )
    consent = await resident.say("trước số 42 Lê Lợi, phường 7")
    assert "đồng ý" in consent.lower()
    summary = await resident.press("Đồng ý")
    assert "Chiếu sáng" in summary and "42 Lê Lợi" in summary
    receipt = await resident.press("Gửi phản ánh")
    match = CODE.search(receipt)
    assert match, receipt
    assert await resident.redeliver() == ""

    with gateway.sessions() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.sender_id == resident.sender)).one()
        photos = session.scalars(
            select(TicketAttachment).where(TicketAttachment.ticket_id == ticket.id)
        ).all()
    assert (ticket.code, ticket.channel) == (match.group(), "zalo")
    assert len(photos) == 1 and Path(photos[0].uri).read_bytes() == JPEG


async def test_zalo_status_is_told_on_request_and_pushed_when_it_changes(
    gateway: Gateway,
) -> None:
    resident = ZaloResident(gateway)
    code = ticket_for(gateway, resident.sender, "zalo")
    status = await resident.say(f"kiểm tra {code}")
    assert code in status and "tiếp nhận" in status.lower()
    with transaction(gateway.sessions) as session:
        change_status(
            session,
            code,
            "assigned",
            actor="staff:test",
            public_note="Đội chiếu sáng đã nhận việc.",
        )
    pushed = await resident.wait_for("Đội chiếu sáng đã nhận việc.")
    assert code in pushed["text"]


async def test_zalo_low_survey_score_reopens_the_ticket_and_counts_once(
    gateway: Gateway,
) -> None:
    resident = ZaloResident(gateway)
    code = ticket_for(gateway, resident.sender, "zalo")
    resolve(gateway, code, "Đã thay bóng đèn.")
    invitation = await resident.wait_for("có hài lòng")
    assert code in invitation["text"]
    buttons = resident.buttons(invitation)
    assert [b["title"] for b in buttons] == list(surveys.LABELS["vi"])
    assert {b["type"] for b in buttons} == {"oa.query.hide"}

    recovery = await resident.press("Không hài lòng")
    assert "mở lại" in recovery
    assert await resident.redeliver() == ""
    again = await resident.press("Rất hài lòng")  # a second press of the same invitation
    assert "đã được ghi nhận trước đó" in again
    assert survey_of(gateway, resident.sender).score == 2
    with gateway.sessions() as session:
        assert session.scalar(select(Ticket.status).where(Ticket.code == code)) == "reopened"

    thanks = await resident.press("Bỏ qua")
    assert "cảm ơn" in thanks.lower()
    assert survey_of(gateway, resident.sender).comment is None


async def test_zalo_resident_talks_to_staff_and_the_assistant_comes_back(
    gateway: Gateway, agent: Agent
) -> None:
    resident = ZaloResident(gateway)
    queued = await resident.say("cho tôi gặp nhân viên")
    assert "trong hàng chờ" in queued, queued
    handoff = handoff_of(gateway, resident.sender)
    assert handoff.channel == "zalo"
    await eventually(lambda: gateway.rasa_tracker(resident.sender)["paused"])

    assert await resident.say("Đường trước nhà tôi ngập nặng") == ""
    assert held_messages(gateway, handoff.id) == ["Đường trước nhà tôi ngập nặng"]
    await agent.accept(handoff.id)
    await resident.wait_for("nhân viên đã tham gia")
    await agent.reply(handoff.id, "Dạ, em đã báo đội thoát nước ạ.")
    await resident.wait_for("em đã báo đội thoát nước")

    await agent.close(handoff.id)
    await resident.wait_for("Trợ lý Tiếp Dân tiếp tục hỗ trợ")
    assert not gateway.rasa_tracker(resident.sender)["paused"]
    survey = await resident.wait_for("trao đổi với cán bộ")
    assert len(resident.buttons(survey)) == 5
    assert "Hài lòng" in [b["title"] for b in resident.buttons(survey)]
    thanks = await resident.press("Rất hài lòng")
    assert "góp ý" in thanks
    assert survey_of(gateway, resident.sender).score == 5
    assert "chào anh/chị" in await resident.say("xin chào")


async def test_telegram_resident_who_stops_waiting_is_answered_by_the_assistant_at_once(
    gateway: Gateway, agent: Agent
) -> None:
    resident = TelegramResident(gateway, "vi")
    await resident.say("cho tôi gặp nhân viên")
    await eventually(lambda: gateway.rasa_tracker(resident.sender)["paused"])
    assert "em tiếp tục hỗ trợ" in await resident.tap("Thôi, không chờ nữa")
    assert handoff_of(gateway, resident.sender).status == "closed"
    greeting = await resident.say("xin chào")
    assert "chào anh/chị" in greeting, greeting
    # Nobody from staff ever spoke: no "your conversation with staff has ended".
    assert not any("nhân viên đã kết thúc" in m["text"] for m in resident.seen())


async def test_telegram_report_in_english_is_surveyed_in_english(gateway: Gateway) -> None:
    resident = TelegramResident(gateway, "en")
    assert "Where" in await resident.say("The street light in front of my house is broken")
    assert "agree" in (await resident.say("12 Tran Phu street, ward 2")).lower()
    assert "12 Tran Phu" in await resident.tap("I agree")
    code = CODE.search(await resident.tap("Send report"))
    assert code, resident.seen()[-1]

    resolve(gateway, code.group(), "The lamp was replaced.")
    invitation = await resident.wait_for("How satisfied")
    assert code.group() in invitation["text"]
    assert [title for title, _ in invitation["buttons"]] == list(surveys.LABELS["en"])
    assert "anything else" in await resident.tap("Very satisfied")
    assert "Thank you for your feedback" in await resident.tap("Skip")
    survey = survey_of(gateway, resident.sender)
    assert (survey.score, survey.comment, survey.language) == (5, None, "en")
