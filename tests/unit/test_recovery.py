"""No resident message lost to a fault, with a stand-in for Rasa's HTTP API and a real
SQLite database: the busy reply comes in time, and the recovery worker answers what was left
once Rasa (or the database) is back, in order, once."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from bot import conversation, db, messages, outbox
from bot.conversation import BUSY, converse
from bot.rasa_client import RasaClient
from bot.recovery import RecoveryWorker

SENDER = "api:lan"


@dataclass
class FakeRasa:
    """Rasa's REST channel, /status and tracker API; remembers what it was told."""

    down: bool = False
    delay: float = 0.0
    received: list[dict[str, Any]] = field(default_factory=list)
    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    async def webhook(self, request: web.Request) -> web.Response:
        if self.down:
            return web.Response(status=500)
        body = await request.json()
        await asyncio.sleep(self.delay)
        self.received.append(body)
        answer = f"Dạ, em đã nhận: {body['message']}"
        self.events.setdefault(body["sender"], []).extend(
            [
                {"event": "user", "text": body["message"], "metadata": body["metadata"]},
                {"event": "bot", "text": answer},
            ]
        )
        return web.json_response([{"recipient_id": body["sender"], "text": answer}])

    async def status(self, request: web.Request) -> web.Response:
        if self.down:
            return web.Response(status=500)
        return web.json_response({"model_file": "models/test.tar.gz"})

    async def tracker(self, request: web.Request) -> web.Response:
        sender = request.match_info["sender"]
        return web.json_response({"events": self.events.get(sender, [])})


@pytest.fixture
async def rasa() -> AsyncIterator[tuple[FakeRasa, RasaClient]]:
    fake = FakeRasa()
    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", fake.webhook)
    app.router.add_get("/status", fake.status)
    app.router.add_get("/conversations/{sender}/tracker", fake.tracker)
    server = TestServer(app)
    await server.start_server()
    async with aiohttp.ClientSession() as http:
        yield fake, RasaClient(http, f"http://127.0.0.1:{server.port}", "token", timeout=3)
    await server.close()


@pytest.fixture
def database(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'app.db'}"
    db.upgrade(url, "heads")
    engine = db.make_engine(url)
    yield tmp_path / "app.db", db.make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def spool(tmp_path: Path) -> messages.Spool:
    spool = messages.Spool(tmp_path / "spool")
    conversation.configure(
        conversation.Policy(busy_after=0.5, rasa_timeout=2, store_timeout=0.5, spool=spool)
    )
    yield spool
    conversation.configure(conversation.Policy())


def worker(sessions, client: RasaClient, spool: messages.Spool) -> RecoveryWorker:
    return RecoveryWorker(sessions, client, spool, lease=timedelta(seconds=7), settle=0)


def statuses(sessions) -> list[str]:
    with sessions() as session:
        return list(
            session.scalars(
                select(messages.InboundMessage.status).order_by(messages.InboundMessage.id)
            )
        )


def queued_texts(sessions) -> list[str]:
    with sessions() as session:
        rows = session.scalars(select(outbox.OutboxMessage).order_by(outbox.OutboxMessage.id))
        return [(row.recipient, row.text) for row in rows]


async def test_messages_rasa_could_not_answer_are_answered_in_order_once_it_is_back(
    rasa, database, spool
) -> None:
    fake, client = rasa
    _, sessions = database
    fake.down = True
    first = await converse(client, sessions, channel="api", sender_id=SENDER, text="mất nước")
    second = await converse(client, sessions, channel="api", sender_id=SENDER, text="ở Lê Lợi")
    assert [r.text for r in first.replies + second.replies] == [BUSY["vi"], BUSY["vi"]]
    await asyncio.gather(*list(conversation._LATE))  # the failures are recorded after the reply
    assert statuses(sessions) == ["failed", "failed"]

    fake.down = False
    recovery = worker(sessions, client, spool)
    assert await recovery.run_once() == 2
    assert [body["message"] for body in fake.received] == ["mất nước", "ở Lê Lợi"]
    assert [body["metadata"]["inbound_id"] for body in fake.received] == [1, 2]
    assert queued_texts(sessions) == [
        (SENDER, "Dạ, em đã nhận: mất nước"),
        (SENDER, "Dạ, em đã nhận: ở Lê Lợi"),
    ]
    assert statuses(sessions) == ["answered", "answered"]
    assert await recovery.run_once() == 0
    assert len(fake.received) == 2


async def test_a_message_rasa_handled_before_the_gateway_stopped_is_read_back_not_resent(
    rasa, database, spool
) -> None:
    fake, client = rasa
    _, sessions = database
    with db.transaction(sessions) as session:
        # Stored, sent to Rasa, and then the gateway died before recording the answer.
        stored = messages.record_inbound(
            session, channel="telegram", sender_id="tg:5", text="chào em", external_id="77"
        )
        message_id = stored.id
    fake.events["tg:5"] = [
        {"event": "user", "text": "chào em", "metadata": {"inbound_id": message_id}},
        {"event": "bot", "text": "Dạ, em chào anh/chị."},
    ]
    assert await worker(sessions, client, spool).run_once() == 1
    assert fake.received == []
    assert queued_texts(sessions) == [("tg:5", "Dạ, em chào anh/chị.")]


async def test_a_message_the_locked_database_could_not_take_is_spooled_then_answered(
    rasa, database, spool
) -> None:
    fake, client = rasa
    path, sessions = database
    lock = sqlite3.connect(path, timeout=30, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    try:
        started = asyncio.get_running_loop().time()
        outcome = await converse(
            client, sessions, channel="api", sender_id=SENDER, text="hello", language_hint="en"
        )
        assert asyncio.get_running_loop().time() - started < 2
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert [r.text for r in outcome.replies] == [BUSY["en"]] and not outcome.answered
    assert len(spool) == 1 and fake.received == []

    assert await worker(sessions, client, spool).run_once() == 1
    assert len(spool) == 0
    assert [body["message"] for body in fake.received] == ["hello"]
    assert statuses(sessions) == ["answered"]


async def test_a_slow_answer_follows_the_busy_reply_through_the_outbox(
    rasa, database, spool
) -> None:
    fake, client = rasa
    _, sessions = database
    fake.delay = 1.0
    outcome = await converse(client, sessions, channel="api", sender_id=SENDER, text="chào em")
    assert [r.text for r in outcome.replies] == [BUSY["vi"]]
    await asyncio.gather(*list(conversation._LATE))
    assert queued_texts(sessions) == [(SENDER, "Dạ, em đã nhận: chào em")]
    assert statuses(sessions) == ["answered"]
    # The recovery worker has nothing left to do: the answer is not given twice.
    assert await worker(sessions, client, spool).run_once() == 0
    assert len(fake.received) == 1


async def test_an_api_call_sent_again_with_its_id_is_handled_once(rasa, database, spool) -> None:
    fake, client = rasa
    _, sessions = database
    for _ in range(2):
        outcome = await converse(
            client, sessions, channel="api", sender_id=SENDER, text="chào em", external_id="c-1"
        )
        assert [r.text for r in outcome.replies] == ["Dạ, em đã nhận: chào em"]
    assert len(fake.received) == 1


async def test_an_answer_given_before_the_database_could_record_it_is_not_given_again(
    rasa, database, spool, monkeypatch
) -> None:
    """The answer went back in the API response while the database was locked, and the
    message's lease ran out before its record landed: the recovery worker must not read the
    answer back from Rasa's tracker and queue it for the resident a second time."""
    fake, client = rasa
    _, sessions = database
    finish = conversation._finish
    calls: list[str | None] = []
    unlocked = threading.Event()

    def locked_then_slow(sessions_, message_id: int, error: str | None) -> bool:
        calls.append(error)
        if len(calls) == 1:  # the first write waited out the busy timeout
            raise OperationalError("UPDATE inbound_message", {}, Exception("database is locked"))
        unlocked.wait(10)  # the next one waits for the lock
        return finish(sessions_, message_id, error)

    monkeypatch.setattr(conversation, "_finish", locked_then_slow)
    # The write lock is held, so the record on the event loop gives way to the threaded one.
    monkeypatch.setattr(conversation, "_answered_inline", lambda _sessions, _message_id: None)
    outcome = await converse(client, sessions, channel="api", sender_id=SENDER, text="chào em")
    assert [r.text for r in outcome.replies] == ["Dạ, em đã nhận: chào em"]
    assert outcome.answered
    with db.transaction(sessions) as session:  # the lease ran out meanwhile
        session.execute(update(messages.InboundMessage).values(lease_until=messages.utcnow()))

    assert await worker(sessions, client, spool).run_once() == 0
    assert queued_texts(sessions) == [] and len(fake.received) == 1

    unlocked.set()
    await asyncio.wait_for(asyncio.gather(*list(conversation._LATE)), 10)
    assert calls == [None, None]
    assert statuses(sessions) == ["answered"]
    assert not conversation.UNRECORDED
    assert await worker(sessions, client, spool).run_once() == 0
    assert queued_texts(sessions) == [] and len(fake.received) == 1
