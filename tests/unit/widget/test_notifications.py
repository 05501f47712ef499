"""Outbox rows for channel "widget" (ticket status changes, survey invitations) reach the
resident's open widget, are marked sent, and otherwise wait for the next connection."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from bot.db import transaction
from bot.outbox import PENDING, SENT, OutboxMessage, enqueue
from channels.widget.sessions import signing_key, verify
from channels.widget.transport import HUB
from tests.unit.widget.conftest import hello, receive_until

STATUS_CHANGED = "Phản ánh PA-2611-K7M3Q của Quý khách đã được chuyển đến Phòng Quản lý đô thị."


def notify(sessions, recipient: str, text: str = STATUS_CHANGED) -> int:
    with transaction(sessions) as session:
        return enqueue(
            session,
            channel="widget",
            recipient=recipient,
            language="vi",
            kind="ticket_status",
            text=text,
            buttons=[{"title": "Xem chi tiết", "payload": "/check_status"}],
        ).id


def status_of(sessions, message_id: int) -> str:
    with sessions() as session:
        return session.execute(
            select(OutboxMessage.status).where(OutboxMessage.id == message_id)
        ).scalar_one()


async def test_notification_is_pushed_to_the_open_widget_and_marked_sent(
    client, settings, sessions
) -> None:
    async with client.ws_connect("/widget/ws") as ws:
        welcome = await hello(ws)
        session_id = verify(signing_key(settings), welcome["session"])
        message_id = notify(sessions, f"web:{session_id}")
        frames = await receive_until(ws, lambda f: f["type"] == "message")
    bubble = frames[-1]["bubble"]
    assert bubble["author"] == "assistant" and bubble["text"] == STATUS_CHANGED
    assert bubble["buttons"] == [{"title": "Xem chi tiết", "payload": "/check_status"}]
    assert status_of(sessions, message_id) == SENT


async def test_notification_waits_while_the_widget_is_closed_and_arrives_on_the_next_connect(
    client, settings, sessions
) -> None:
    async with client.ws_connect("/widget/ws") as ws:
        welcome = await hello(ws)
    hub = client.app[HUB]
    for _ in range(200):  # until the gateway has seen the widget close and is idle
        if not hub.connected() and not hub.tasks:
            break
        await asyncio.sleep(0.05)
    session_id = verify(signing_key(settings), welcome["session"])
    message_id = notify(sessions, f"web:{session_id}")
    other = notify(sessions, "web:someone-else-entirely")
    # The poller looks every second; nobody is connected for either row.
    await asyncio.sleep(1.5)
    assert status_of(sessions, message_id) == PENDING
    async with client.ws_connect("/widget/ws") as ws:
        await hello(ws, welcome["session"])
        frames = await receive_until(ws, lambda f: f["type"] == "message")
    assert frames[-1]["bubble"]["text"] == STATUS_CHANGED
    assert status_of(sessions, message_id) == SENT
    assert status_of(sessions, other) == PENDING
    async with client.ws_connect("/widget/ws") as ws:
        history = (await hello(ws, welcome["session"]))["history"]
    assert [b["text"] for b in history] == [STATUS_CHANGED]
